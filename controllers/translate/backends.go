package translate

import (
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/portico-dev/portico/router"
)

// Problem reasons about backends.
const (
	reasonServiceNotFound     = "ServiceNotFound"
	reasonServicePortNotFound = "ServicePortNotFound"
	reasonNoReadyEndpoints    = "NoReadyEndpoints"
	reasonUnsupportedProtocol = "UnsupportedProtocol"
	// AppProtocolH2C marks a Service port whose backends speak cleartext
	// HTTP/2.
	AppProtocolH2C = "kubernetes.io/h2c"
	// AppProtocolWSS marks a Service port whose backends speak WebSocket
	// over TLS; a BackendTLSPolicy must say how to verify them.
	AppProtocolWSS = "kubernetes.io/wss"
)

type nsName struct{ ns, name string }

// servicePortRef is a Service port given by number or by name.
type servicePortRef struct {
	number int32
	name   string
}

func (p servicePortRef) String() string {
	if p.name != "" {
		return p.name
	}
	return strconv.Itoa(int(p.number))
}

// backendProblem is what resolve found wrong; the caller names the object.
type backendProblem struct {
	fieldSuffix string
	severity    Severity
	reason      string
	message     string
}

// backendResolver turns Service references into router.Backends through
// EndpointSlices. One *router.Backend is made per Service port and shared by
// every route naming it.
type backendResolver struct {
	services map[nsName]*corev1.Service
	slices   map[nsName][]*discoveryv1.EndpointSlice
	made     map[backendKey]*router.Backend
	variants map[string]*router.Backend
	// policies index BackendTLSPolicies by target and targeted holds the
	// Services they name (see indexPolicies); targetOf says which target a
	// backend was made for.
	policies map[policyTarget]*backendPolicy
	targeted map[nsName]bool
	targetOf map[*router.Backend]policyTarget
	// unsupported holds backends that cannot be spoken to, with why.
	unsupported map[*router.Backend]string
	// podLabels are the labels of the Pods behind EndpointSlices, for
	// Istio subsets.
	podLabels map[nsName]map[string]string
	// madeBySvc, kept only for the Engine's long-lived resolver, lists
	// the keys of made by Service, so a changed Service's are forgotten.
	madeBySvc map[nsName][]backendKey
	// used, when set (by the Engine while it translates one Ingress),
	// collects every Service looked up: what the translation depends on.
	used map[nsName]bool
}

// service returns the Service held under k, noting the lookup in used.
func (r *backendResolver) service(k nsName) *corev1.Service {
	if r.used != nil {
		r.used[k] = true
	}
	return r.services[k]
}

type backendKey struct {
	svc  nsName
	port int32
}

// newBackendResolver indexes the snapshot's Services, EndpointSlices and
// Pods, and the validated BackendTLSPolicies (oldest first) by target.
func newBackendResolver(s *Snapshot, policies []*backendPolicy) *backendResolver {
	r := &backendResolver{
		services: make(map[nsName]*corev1.Service, len(s.Services)),
		slices:   make(map[nsName][]*discoveryv1.EndpointSlice, len(s.Services)),
		made:     make(map[backendKey]*router.Backend, len(s.Services)),
		variants: map[string]*router.Backend{},
		targetOf: map[*router.Backend]policyTarget{},

		unsupported: map[*router.Backend]string{},
	}
	for i := range s.Services {
		svc := &s.Services[i]
		r.services[nsName{svc.Namespace, svc.Name}] = svc
	}
	r.podLabels = make(map[nsName]map[string]string, len(s.Pods))
	for i := range s.Pods {
		r.podLabels[nsName{s.Pods[i].Namespace, s.Pods[i].Name}] = s.Pods[i].Labels
	}
	for i := range s.EndpointSlices {
		es := &s.EndpointSlices[i]
		svc := es.Labels[discoveryv1.LabelServiceName]
		if svc == "" {
			continue
		}
		k := nsName{es.Namespace, svc}
		r.slices[k] = append(r.slices[k], es)
	}
	r.indexPolicies(policies)
	return r
}

// resolve finds the Service port and its ready endpoints. It returns a nil
// Backend when the Service or port does not exist, and a Backend with no
// endpoints (plus a warning) when nothing is ready.
func (r *backendResolver) resolve(ns, name string, port servicePortRef) (*router.Backend, *backendProblem) {
	svc := r.service(nsName{ns, name})
	if svc == nil {
		return nil, &backendProblem{".name", SeverityError, reasonServiceNotFound,
			fmt.Sprintf("Service %s/%s not found", ns, name)}
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil, &backendProblem{".name", SeverityError, reasonUnsupportedBackend,
			fmt.Sprintf("Service %s/%s is of type ExternalName, which is not supported", ns, name)}
	}
	sp := findServicePort(svc, port)
	if sp == nil {
		field := ".port.number"
		if port.name != "" {
			field = ".port.name"
		}
		return nil, &backendProblem{field, SeverityError, reasonServicePortNotFound,
			fmt.Sprintf("Service %s/%s has no port %s", ns, name, port)}
	}
	key := backendKey{nsName{ns, name}, sp.Port}
	if b, ok := r.made[key]; ok {
		return b, r.backendProblem(b)
	}
	b := &router.Backend{Name: ns + "/" + name + ":" + strconv.Itoa(int(sp.Port)), Endpoints: r.endpoints(key.svc, sp)}
	if sp.AppProtocol != nil && *sp.AppProtocol == AppProtocolH2C {
		b.Protocol = router.H2C
	}
	bp := r.policyFor(key.svc, sp)
	if bp != nil {
		applyPolicy(b, bp)
	}
	if r.targeted[key.svc] {
		r.targetOf[b] = policyTarget{key.svc, sp.Name}
	}
	if sp.AppProtocol != nil && *sp.AppProtocol == AppProtocolWSS && bp == nil {
		msg := fmt.Sprintf("Service port %s has appProtocol %s but no BackendTLSPolicy says how to verify its certificate", b.Name, AppProtocolWSS)
		b.Status, b.Reason = 502, msg
		r.unsupported[b] = msg
	}
	r.made[key] = b
	if r.madeBySvc != nil {
		r.madeBySvc[key.svc] = append(r.madeBySvc[key.svc], key)
	}
	return b, r.backendProblem(b)
}

// backendProblem reports a backend that cannot be spoken to, or one with
// no ready endpoint.
func (r *backendResolver) backendProblem(b *router.Backend) *backendProblem {
	if msg, ok := r.unsupported[b]; ok {
		return &backendProblem{".port", SeverityError, reasonUnsupportedProtocol, msg}
	}
	if len(b.Endpoints) > 0 {
		return nil
	}
	return &backendProblem{".name", SeverityWarning, reasonNoReadyEndpoints,
		fmt.Sprintf("Service port %s has no ready endpoints; requests get 503 until one is ready", b.Name)}
}

func findServicePort(svc *corev1.Service, ref servicePortRef) *corev1.ServicePort {
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if ref.name != "" && p.Name == ref.name || ref.name == "" && p.Port == ref.number {
			if p.Protocol == "" || p.Protocol == corev1.ProtocolTCP {
				return p
			}
		}
	}
	return nil
}

// endpoints lists the addresses serving a Service port: ready endpoints, or,
// when none is ready, those still serving while terminating. The port number
// comes from the EndpointSlice, which resolves named target ports per pod.
func (r *backendResolver) endpoints(svc nsName, sp *corev1.ServicePort) []router.Endpoint {
	return r.endpointsWhere(svc, sp, nil)
}

// endpointsWhere is endpoints limited to those keep accepts (nil keeps
// all).
func (r *backendResolver) endpointsWhere(svc nsName, sp *corev1.ServicePort, keep func(*discoveryv1.Endpoint) bool) []router.Endpoint {
	var ready, serving []string
	for _, es := range r.slices[svc] {
		if es.AddressType != discoveryv1.AddressTypeIPv4 && es.AddressType != discoveryv1.AddressTypeIPv6 {
			continue
		}
		port, ok := slicePort(es, sp)
		if !ok {
			continue
		}
		for i := range es.Endpoints {
			ep := &es.Endpoints[i]
			if keep != nil && !keep(ep) {
				continue
			}
			c := ep.Conditions
			isReady := c.Ready == nil || *c.Ready
			isServing := c.Serving != nil && *c.Serving && c.Terminating != nil && *c.Terminating
			for _, a := range ep.Addresses {
				hp := net.JoinHostPort(a, strconv.Itoa(int(port)))
				switch {
				case isReady:
					ready = append(ready, hp)
				case isServing:
					serving = append(serving, hp)
				}
			}
		}
	}
	addrs := ready
	if len(addrs) == 0 {
		addrs = serving
	}
	slices.Sort(addrs)
	addrs = slices.Compact(addrs)
	out := make([]router.Endpoint, len(addrs))
	for i, a := range addrs {
		out[i] = router.Endpoint{Address: a}
	}
	return out
}

// slicePort finds the EndpointSlice port of a Service port: they share the
// port's name ("" for a Service with one unnamed port).
func slicePort(es *discoveryv1.EndpointSlice, sp *corev1.ServicePort) (int32, bool) {
	for _, p := range es.Ports {
		name := ""
		if p.Name != nil {
			name = *p.Name
		}
		proto := corev1.ProtocolTCP
		if p.Protocol != nil {
			proto = *p.Protocol
		}
		if name == sp.Name && proto == corev1.ProtocolTCP && p.Port != nil {
			return *p.Port, true
		}
	}
	return 0, false
}

// withProtocol returns a copy of b spoken to with p, shared by every
// route that needs the same variant.
func (r *backendResolver) withProtocol(b *router.Backend, p router.Protocol) *router.Backend {
	key := variantKey(b, "protocol="+p.String())
	if v, ok := r.variants[key]; ok {
		return v
	}
	v := *b
	v.Protocol = p
	r.variants[key] = &v
	if target, ok := r.targetOf[b]; ok {
		r.targetOf[&v] = target
	}
	return &v
}

// variantKey is the resolver's key for the variant what of b: b's name
// first (forgetVariants drops a Service's variants by it), then all of b
// but its endpoints, since b may itself be a variant of the same name (a
// protocol's, a balancing's): two variants of different sources never
// share an entry, whichever was made first.
func variantKey(b *router.Backend, what string) string {
	c := *b
	c.Endpoints = nil
	j, _ := json.Marshal(&c)
	return b.Name + "#" + what + "#" + string(j)
}

// subset returns a variant of a Service port's backend limited to the
// endpoints whose Pods carry labels (all when nil) and balanced as bal
// says, with a warning when no endpoint is left.
func (r *backendResolver) subset(svc nsName, port servicePortRef, name string, labels map[string]string, bal *router.Balancing) (*router.Backend, string) {
	base, _ := r.resolve(svc.ns, svc.name, port)
	key := base.Name + "#subset=" + name
	if v, ok := r.variants[key]; ok {
		return v, r.subsetWarning(v, name)
	}
	v := *base
	v.Balancing = bal
	if name != "" {
		v.Name = base.Name + "/" + name
		sp := findServicePort(r.services[svc], port)
		v.Endpoints = r.endpointsWhere(svc, sp, func(ep *discoveryv1.Endpoint) bool {
			ref := ep.TargetRef
			if ref == nil || ref.Kind != "Pod" {
				return false
			}
			podNS := ref.Namespace
			if podNS == "" {
				podNS = svc.ns
			}
			have := r.podLabels[nsName{podNS, ref.Name}]
			for k, val := range labels {
				if have[k] != val {
					return false
				}
			}
			return true
		})
	}
	r.variants[key] = &v
	if target, ok := r.targetOf[base]; ok {
		r.targetOf[&v] = target
	}
	return &v, r.subsetWarning(&v, name)
}

func (r *backendResolver) subsetWarning(b *router.Backend, subset string) string {
	if len(b.Endpoints) > 0 || subset == "" {
		return ""
	}
	return fmt.Sprintf("subset %q of %s has no ready endpoint (no Pod behind the Service carries its labels); requests get 503", subset, b.Name)
}
