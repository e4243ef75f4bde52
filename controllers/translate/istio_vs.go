package translate

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	istionet "istio.io/api/networking/v1alpha3"
	istiov1 "istio.io/client-go/pkg/apis/networking/v1"

	"github.com/portico-dev/portico/router"
)

// vsInput is one VirtualService being translated.
type vsInput struct {
	vs  *istiov1.VirtualService
	ref ObjectRef
}

// boundServer is a server a VirtualService binds to, with the hosts both
// name.
type boundServer struct {
	*istioServer
	gwName string // as the VirtualService names it: ns/name
	hosts  []string
}

// virtualServices binds VirtualServices to the servers of Portico's
// Gateways, oldest first, and emits their routes in rule order.
func (t *istioProcessor) virtualServices(servers map[nsName][]*istioServer) {
	vss := slices.Clone(t.snap.VirtualServices)
	sortOldestFirst(vss)
	for _, vs := range vss {
		in := vsInput{vs: vs, ref: ObjectRef{Kind: KindVirtualService, Namespace: vs.Namespace, Name: vs.Name}}
		bound := t.bindServers(in, servers)
		if bound == nil {
			continue // bound to no Gateway of Portico's
		}
		t.res.IstioObjects = append(t.res.IstioObjects, in.ref)
		t.vsUnsupported(in)
		for _, b := range bound {
			switch b.kind {
			case istioHTTP:
				t.vsHTTP(in, b)
			case istioPassthrough:
				t.vsTLS(in, b)
			case istioTCP:
				t.vsTCP(in, b)
			}
		}
	}
}

// bindServers finds the servers of Portico's Gateways the VirtualService
// names, with the hosts it may serve on each. It returns nil when no named
// Gateway is Portico's.
func (t *istioProcessor) bindServers(in vsInput, servers map[nsName][]*istioServer) []boundServer {
	var out []boundServer
	ours := false
	for gi, g := range in.vs.Spec.GetGateways() {
		if g == "mesh" {
			continue
		}
		key := nsName{in.vs.Namespace, g}
		if ns, name, ok := strings.Cut(g, "/"); ok {
			key = nsName{ns, name}
		}
		srvs, ok := servers[key]
		if !ok {
			if t.istioGatewayExists(key) {
				continue // another gateway's
			}
			t.problem(in.ref, fmt.Sprintf("spec.gateways[%d]", gi), SeverityWarning, reasonUnresolvedRef,
				fmt.Sprintf("Gateway %s/%s not found", key.ns, key.name))
			continue
		}
		ours = true
		for _, s := range srvs {
			if hosts := intersectIstioHosts(s, in.vs.Namespace, in.vs.Spec.GetHosts()); len(hosts) > 0 {
				out = append(out, boundServer{istioServer: s, gwName: key.ns + "/" + key.name, hosts: hosts})
			}
		}
	}
	if !ours {
		return nil
	}
	if len(out) == 0 {
		t.problem(in.ref, "spec.hosts", SeverityWarning, "NoMatchingHost",
			"no host of the VirtualService is exposed (for its namespace) by a server of the Gateways it names")
	}
	return out
}

func (t *istioProcessor) istioGatewayExists(k nsName) bool {
	for _, gw := range t.snap.IstioGateways {
		if gw.Namespace == k.ns && gw.Name == k.name {
			return true
		}
	}
	return false
}

// intersectIstioHosts returns the hosts a server serves for a
// VirtualService of namespace ns: the more specific of each pair that
// matches.
func intersectIstioHosts(s *istioServer, ns string, vsHosts []string) []string {
	var out []string
	for _, sh := range s.hosts {
		if sh.ns != "*" && (sh.ns != "." || ns != s.gw.Namespace) && sh.ns != ns {
			continue
		}
		for _, vh := range vsHosts {
			vh = strings.ToLower(vh)
			var h string
			switch {
			case vh == sh.host || sh.host == "*":
				h = vh
			case vh == "*":
				h = sh.host
			case strings.HasPrefix(sh.host, "*.") && hostMatchesWildcard(vh, sh.host):
				h = vh
			case strings.HasPrefix(vh, "*.") && hostMatchesWildcard(sh.host, vh):
				h = sh.host
			default:
				continue
			}
			if !slices.Contains(out, h) {
				out = append(out, h)
			}
		}
	}
	slices.Sort(out)
	return out
}

// vsUnsupported reports the VirtualService fields Portico ignores.
func (t *istioProcessor) vsUnsupported(in vsInput) {
	if len(in.vs.Spec.GetExportTo()) > 0 {
		t.problem(in.ref, "spec.exportTo", SeverityWarning, reasonUnsupportedField, "exportTo is ignored (it scopes mesh visibility)")
	}
	for i, h := range in.vs.Spec.GetHttp() {
		f := fmt.Sprintf("spec.http[%d]", i)
		for _, u := range []struct {
			set  bool
			name string
		}{{h.GetDelegate() != nil, "delegate"}, {h.GetDirectResponse() != nil, "directResponse"}} {
			if u.set {
				t.problem(in.ref, f+"."+u.name, SeverityWarning, reasonUnsupportedField, u.name+" is not supported; the rule is skipped")
			}
		}
		for j, m := range h.GetMatch() {
			mf := fmt.Sprintf("%s.match[%d]", f, j)
			if len(m.GetSourceLabels()) > 0 || m.GetSourceNamespace() != "" {
				t.problem(in.ref, mf+".sourceLabels", SeverityWarning, reasonUnsupportedField, "sourceLabels and sourceNamespace select mesh clients and are ignored")
			}
		}
	}
}

// destinationBackends resolves route destinations to weighted backends.
func (t *istioProcessor) destinationBackends(in vsInput, field string, dests []*istionet.HTTPRouteDestination) []router.WeightedBackend {
	out := make([]router.WeightedBackend, 0, len(dests))
	for i, d := range dests {
		f := fmt.Sprintf("%s.route[%d]", field, i)
		be := t.istioDestination(in, f+".destination", d.GetDestination())
		wb := router.WeightedBackend{Backend: be, Weight: istioWeight(dests, d.GetWeight())}
		if hs := d.GetHeaders(); hs != nil {
			wb.RequestHeaders, wb.ResponseHeaders = istioHeaderOps(hs.GetRequest()), istioHeaderOps(hs.GetResponse())
		}
		out = append(out, wb)
	}
	return out
}

// l4Backends resolves the destinations of a tls or tcp rule.
func (t *istioProcessor) l4Backends(in vsInput, field string, dests []*istionet.RouteDestination) []router.WeightedBackend {
	out := make([]router.WeightedBackend, 0, len(dests))
	for i, d := range dests {
		be := t.istioDestination(in, fmt.Sprintf("%s.route[%d].destination", field, i), d.GetDestination())
		out = append(out, router.WeightedBackend{Backend: be, Weight: istioWeight(dests, d.GetWeight())})
	}
	return out
}

// istioDestination resolves a destination host ("svc", "svc.ns",
// "svc.ns.svc[.cluster.local]") and port to a Service port.
func (t *istioProcessor) istioDestination(in vsInput, field string, d *istionet.Destination) *router.Backend {
	fail := func(reason, msg string) *router.Backend {
		t.problem(in.ref, field, SeverityError, reason, msg)
		return &router.Backend{Name: "invalid", Status: 503, Reason: msg}
	}
	if d == nil {
		return fail(reasonInvalidField, "destination is required")
	}
	svcKey, ok := istioService(d.GetHost(), in.vs.Namespace)
	if !ok {
		return fail(reasonUnresolvedRef, fmt.Sprintf("host %q is not a Service of this cluster (ServiceEntry hosts are not supported)", d.GetHost()))
	}
	ns, name := svcKey.ns, svcKey.name
	port := servicePortRef{number: int32(d.GetPort().GetNumber())}
	if port.number == 0 {
		svc, ok := t.backends.services[nsName{ns, name}]
		if !ok {
			return fail(reasonUnresolvedRef, fmt.Sprintf("Service %s/%s not found", ns, name))
		}
		if len(svc.Spec.Ports) != 1 {
			return fail(reasonInvalidField, fmt.Sprintf("Service %s/%s has %d ports; destination.port.number is required", ns, name, len(svc.Spec.Ports)))
		}
		port.number = svc.Spec.Ports[0].Port
	}
	be, p := t.backends.resolve(ns, name, port)
	if be == nil {
		return fail(reasonUnresolvedRef, p.message)
	}
	if p != nil {
		t.problem(in.ref, field, p.severity, p.reason, p.message)
	}
	return t.applyDestinationRule(in, field, svcKey, port, be, d.GetSubset())
}

// istioHeaderOps converts header operations, in name order.
func istioHeaderOps(h *istionet.Headers_HeaderOperations) *router.HeaderOps {
	if h == nil {
		return nil
	}
	ops := &router.HeaderOps{Remove: slices.Clone(h.GetRemove())}
	for _, k := range sortedKeys(h.GetSet()) {
		ops.Set = append(ops.Set, router.Header{Name: k, Value: h.GetSet()[k]})
	}
	for _, k := range sortedKeys(h.GetAdd()) {
		ops.Add = append(ops.Add, router.Header{Name: k, Value: h.GetAdd()[k]})
	}
	return ops
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// stringMatchRegex turns an Istio StringMatch into an anchored regular
// expression; ok is false for an empty match.
func stringMatchRegex(m *istionet.StringMatch) (string, bool) {
	switch {
	case m == nil:
		return "", false
	case m.GetRegex() != "":
		return m.GetRegex(), true
	case m.GetPrefix() != "":
		return regexp.QuoteMeta(m.GetPrefix()) + ".*", true
	default:
		if _, ok := m.GetMatchType().(*istionet.StringMatch_Exact); ok {
			return regexp.QuoteMeta(m.GetExact()), true
		}
		return "", false
	}
}

// valueMatch converts a header or query match; Istio's regular
// expressions match the whole value.
func valueMatch(name string, m *istionet.StringMatch) router.ValueMatch {
	if ex, ok := m.GetMatchType().(*istionet.StringMatch_Exact); ok {
		return router.ValueMatch{Name: name, Value: ex.Exact}
	}
	re, ok := stringMatchRegex(m)
	if !ok {
		// An empty match checks presence.
		return router.ValueMatch{Name: name, Value: "", Regex: true}
	}
	re = "^(?:" + re + ")$"
	return router.ValueMatch{Name: name, Value: re, Regex: true}
}

// istioWeight is a destination's share: its weight, or an equal share when
// no destination of the rule sets one.
func istioWeight[D interface{ GetWeight() int32 }](dests []D, w int32) uint32 {
	for _, d := range dests {
		if d.GetWeight() > 0 {
			return uint32(max(w, 0))
		}
	}
	return 1
}
