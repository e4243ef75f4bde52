package translate

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/gateway-api/pkg/features"

	"github.com/portico-dev/portico/router"
	certs "github.com/portico-dev/portico/tls"
)

// SupportedFeatures are the Gateway API features Portico implements; the
// GatewayClass status lists exactly these.
var SupportedFeatures = []features.FeatureName{
	features.SupportGateway,
	features.SupportHTTPRoute,
	features.SupportHTTPRouteMethodMatching,
	features.SupportHTTPRouteQueryParamMatching,
	features.SupportHTTPRouteParentRefPort,
	features.SupportHTTPRouteResponseHeaderModification,
	features.SupportHTTPRouteBackendRequestHeaderModification,
	features.SupportHTTPRoutePortRedirect,
	features.SupportHTTPRouteSchemeRedirect,
	features.SupportHTTPRoutePathRedirect,
	features.SupportHTTPRouteHostRewrite,
	features.SupportHTTPRoutePathRewrite,
	features.SupportHTTPRoute303RedirectStatusCode,
	features.SupportHTTPRoute307RedirectStatusCode,
	features.SupportHTTPRoute308RedirectStatusCode,
	features.SupportHTTPRouteRequestTimeout,
	features.SupportHTTPRouteRetry,
	features.SupportHTTPRouteRetryBackendTimeout,
	features.SupportHTTPRouteRetryConnectionError,
	features.SupportHTTPRouteRequestMirror,
	features.SupportHTTPRouteCORS,
	features.SupportHTTPRouteRequestMultipleMirrors,
	features.SupportHTTPRouteRequestPercentageMirror,
	features.SupportHTTPRouteBackendTimeout,
	features.SupportHTTPRouteBackendProtocolH2C,
	features.SupportHTTPRouteBackendProtocolWebSocket,
	features.SupportReferenceGrant,
	features.SupportGRPCRoute,
	// GatewayInfrastructure is not claimed: its labels and annotations do
	// reach the Gateway's Service, but that Service lives in Portico's
	// namespace (it must select Portico's Pods), while the feature's test
	// looks for it in the Gateway's.
	features.SupportTLSRoute,
	features.SupportTLSRouteModeTerminate,
	features.SupportTCPRoute,
	features.SupportBackendTLSPolicy,
	features.SupportGatewayHTTPListenerIsolation,
	features.SupportGatewayHTTPSListenerDetectMisdirectedRequests,
	features.SupportGatewayFrontendClientCertificateValidation,
	features.SupportGatewayPort8080,
	features.SupportHTTPRouteNamedRouteRule,
	features.SupportBackendTLSPolicySANValidation,
}

// GatewayAPIVersion is the Gateway API release Portico is built against.
const GatewayAPIVersion = "v1.6.3"

const (
	gatewayGroup = gatewayv1.GroupName
	kindGateway  = "Gateway"
	kindHTTP     = "HTTPRoute"
)

// gatewayState is one of our Gateways during translation.
type gatewayState struct {
	gw        *gatewayv1.Gateway
	ref       ObjectRef
	listeners []*listenerState
	// invalidParams, when set, says why the Gateway's parametersRef
	// rejects it.
	invalidParams string
}

// listenerState is one listener of a Gateway and what attached to it.
type listenerState struct {
	spec     *gatewayv1.Listener
	gw       nsName
	conflict string // the Conflicted reason, if any
	// unresolved is set when only references (certificates) make the
	// listener invalid: routes attach to it without being served.
	unresolved bool
	key        string // router listener key: Gateway/ns/name:port
	valid      bool
	kinds      []gatewayv1.RouteGroupKind
	status     gatewayv1.ListenerStatus
	attached   int32
	certs      []certs.Certificate // for HTTPS listeners
}

func condition(t string, ok bool, reason, msg string, gen int64) metav1.Condition {
	st := metav1.ConditionFalse
	if ok {
		st = metav1.ConditionTrue
	}
	return metav1.Condition{Type: t, Status: st, Reason: reason, Message: msg, ObservedGeneration: gen}
}

// gatewayAPI translates GatewayClasses, Gateways and HTTPRoutes.
func (t *translator) gatewayAPI() {
	if t.opts.GatewayControllerName == "" {
		return
	}
	ours := map[string]*gatewayParams{}
	for i := range t.snap.GatewayClasses {
		gc := &t.snap.GatewayClasses[i]
		if string(gc.Spec.ControllerName) != t.opts.GatewayControllerName {
			continue
		}
		accepted := condition(string(gatewayv1.GatewayClassConditionStatusAccepted), true, string(gatewayv1.GatewayClassReasonAccepted),
			"Portico implements this class", gc.Generation)
		if params, err := t.classParameters(gc); err != nil {
			// A class that is not accepted gets no Gateways served.
			accepted = condition(string(gatewayv1.GatewayClassConditionStatusAccepted), false,
				string(gatewayv1.GatewayClassReasonInvalidParameters), "spec."+err.Error(), gc.Generation)
		} else {
			ours[gc.Name] = &params
		}
		st := gatewayv1.GatewayClassStatus{Conditions: []metav1.Condition{
			accepted,
			// Portico installs and is built against the CRDs of one
			// version (manifests/gateway-api).
			condition(string(gatewayv1.GatewayClassConditionStatusSupportedVersion), true, string(gatewayv1.GatewayClassReasonSupportedVersion),
				"Gateway API "+GatewayAPIVersion+" is supported", gc.Generation),
		}}
		for _, f := range SupportedFeatures {
			st.SupportedFeatures = append(st.SupportedFeatures, gatewayv1.SupportedFeature{Name: gatewayv1.FeatureName(f)})
		}
		// The spec requires ascending order by name.
		slices.SortFunc(st.SupportedFeatures, func(a, b gatewayv1.SupportedFeature) int { return cmp.Compare(a.Name, b.Name) })
		t.res.GatewayClasses = append(t.res.GatewayClasses, GatewayClassStatus{Name: gc.Name, Status: st})
	}
	slices.SortFunc(t.res.GatewayClasses, func(a, b GatewayClassStatus) int { return cmp.Compare(a.Name, b.Name) })

	gateways := map[nsName]*gatewayState{}
	var order []*gatewayState
	for i := range t.snap.Gateways {
		gw := &t.snap.Gateways[i]
		params := ours[string(gw.Spec.GatewayClassName)]
		if params == nil {
			continue
		}
		gs := t.gateway(gw, *params)
		gateways[nsName{gw.Namespace, gw.Name}] = gs
		order = append(order, gs)
	}
	t.httpRoutes(gateways)
	t.grpcRoutes(gateways)
	t.l4Routes(gateways)
	t.policyStatuses()
	slices.SortFunc(order, func(a, b *gatewayState) int {
		return cmp.Or(cmp.Compare(a.ref.Namespace, b.ref.Namespace), cmp.Compare(a.ref.Name, b.ref.Name))
	})
	for _, gs := range order {
		t.gatewayStatus(gs)
	}
	slices.SortFunc(t.res.GatewayListeners, func(a, b GatewayListener) int { return cmp.Compare(a.Key, b.Key) })
}

// gateway validates a Gateway's listeners: supported protocols, route
// kinds, and conflicts between listeners sharing a port.
func (t *translator) gateway(gw *gatewayv1.Gateway, classParams gatewayParams) *gatewayState {
	gs := &gatewayState{gw: gw, ref: ObjectRef{Kind: kindGateway, Namespace: gw.Namespace, Name: gw.Name}}
	gen := gw.Generation
	params, perr := t.gatewayParameters(gw, classParams)
	if perr != nil {
		gs.invalidParams = "spec.infrastructure." + perr.Error()
	}
	for i := range gw.Spec.Listeners {
		l := &gw.Spec.Listeners[i]
		ls := &listenerState{spec: l, valid: true, gw: nsName{gw.Namespace, gw.Name},
			key: router.ListenerKey(kindGateway, gw.Namespace, gw.Name, l.Port)}
		ls.status.Name = l.Name
		accepted := condition(string(gatewayv1.ListenerConditionAccepted), true, string(gatewayv1.ListenerReasonAccepted), "listener accepted", gen)
		resolved := condition(string(gatewayv1.ListenerConditionResolvedRefs), true, string(gatewayv1.ListenerReasonResolvedRefs), "references resolved", gen)
		switch l.Protocol {
		case gatewayv1.HTTPProtocolType, gatewayv1.TCPProtocolType:
		case gatewayv1.HTTPSProtocolType:
			if ok, cond := t.listenerCertificates(gw, l, ls, gen); !ok {
				resolved = cond
			}
			if r, a := t.frontendValidation(gw, l, ls, gen); r != nil || a != nil {
				if r != nil && resolved.Status == metav1.ConditionTrue {
					resolved = *r
				}
				if a != nil {
					accepted = *a
				}
			}
		case gatewayv1.TLSProtocolType:
			if l.TLS == nil || l.TLS.Mode == nil || *l.TLS.Mode == gatewayv1.TLSModeTerminate {
				// Terminate (the default): decrypt, then forward the
				// plaintext stream by SNI to TLSRoute backends.
				if ok, cond := t.listenerCertificates(gw, l, ls, gen); !ok {
					resolved = cond
				}
			}
		default:
			ls.valid = false
			accepted = condition(string(gatewayv1.ListenerConditionAccepted), false, string(gatewayv1.ListenerReasonUnsupportedProtocol),
				fmt.Sprintf("protocol %s is not supported; HTTP, HTTPS, TLS (Passthrough) and TCP are", l.Protocol), gen)
		}
		ls.kinds, resolved = listenerKinds(l, resolved, gen)
		ls.status.SupportedKinds = ls.kinds
		if ls.kinds == nil {
			ls.status.SupportedKinds = []gatewayv1.RouteGroupKind{}
		}
		if perr != nil {
			// A rejected Gateway serves nothing.
			ls.valid = false
		}
		ls.status.Conditions = []metav1.Condition{accepted, resolved}
		gs.listeners = append(gs.listeners, ls)
	}
	listenerConflicts(gs, gen)
	bound := map[string]int{}
	for _, ls := range gs.listeners {
		if !ls.valid {
			continue
		}
		if h := hostnameOf(ls.spec.Hostname); h != "" {
			t.res.Config.Hosts = append(t.res.Config.Hosts, router.HostClaim{Listener: ls.key, Host: h, HostMatch: gatewayHostMatch(h)})
		}
		i, ok := bound[ls.key]
		if !ok {
			i = len(t.res.GatewayListeners)
			bound[ls.key] = i
			gl := GatewayListener{
				Key: ls.key, Gateway: gs.ref, Port: ls.spec.Port, Protocol: ls.spec.Protocol, Address: requestedAddress(gw),
				TLS: len(ls.certs) > 0, ServiceType: params.serviceType}
			if inf := gw.Spec.Infrastructure; inf != nil {
				for k, v := range inf.Labels {
					gl.Labels = setKey(gl.Labels, string(k), string(v))
				}
				for k, v := range inf.Annotations {
					gl.Annotations = setKey(gl.Annotations, string(k), string(v))
				}
			}
			t.res.GatewayListeners = append(t.res.GatewayListeners, gl)
		}
		t.res.GatewayListeners[i].Certificates = append(t.res.GatewayListeners[i].Certificates, ls.certs...)
		if ls.spec.Protocol == gatewayv1.HTTPSProtocolType {
			t.res.GatewayListeners[i].Hostnames = append(t.res.GatewayListeners[i].Hostnames, hostnameOf(ls.spec.Hostname))
		}
	}
	return gs
}

func requestedAddress(gw *gatewayv1.Gateway) string {
	for _, a := range gw.Spec.Addresses {
		if a.Type == nil || *a.Type == gatewayv1.IPAddressType {
			return a.Value
		}
	}
	return ""
}

// listenerKinds resolves allowedRoutes.kinds: by default the kinds of the
// protocol; kinds Portico does not serve make ResolvedRefs false.
func listenerKinds(l *gatewayv1.Listener, resolved metav1.Condition, gen int64) ([]gatewayv1.RouteGroupKind, metav1.Condition) {
	httpKind := gatewayv1.RouteGroupKind{Group: ptrGroup(gatewayGroup), Kind: kindHTTP}
	grpcKind := gatewayv1.RouteGroupKind{Group: ptrGroup(gatewayGroup), Kind: kindGRPC}
	httpish := l.Protocol == gatewayv1.HTTPProtocolType || l.Protocol == gatewayv1.HTTPSProtocolType
	l4Kind := map[gatewayv1.ProtocolType]string{gatewayv1.TLSProtocolType: kindTLS, gatewayv1.TCPProtocolType: kindTCP}[l.Protocol]
	if l.AllowedRoutes == nil || len(l.AllowedRoutes.Kinds) == 0 {
		switch {
		case httpish:
			return []gatewayv1.RouteGroupKind{httpKind, grpcKind}, resolved
		case l4Kind != "":
			return []gatewayv1.RouteGroupKind{{Group: ptrGroup(gatewayGroup), Kind: gatewayv1.Kind(l4Kind)}}, resolved
		}
		return nil, resolved
	}
	var out []gatewayv1.RouteGroupKind
	var bad []string
	for _, k := range l.AllowedRoutes.Kinds {
		group := gatewayGroup
		if k.Group != nil {
			group = string(*k.Group)
		}
		if group == gatewayGroup && (httpish && (k.Kind == kindHTTP || k.Kind == kindGRPC) || l4Kind != "" && string(k.Kind) == l4Kind) {
			out = append(out, gatewayv1.RouteGroupKind{Group: ptrGroup(gatewayGroup), Kind: k.Kind})
			continue
		}
		bad = append(bad, group+"/"+string(k.Kind))
	}
	if len(bad) > 0 {
		resolved = condition(string(gatewayv1.ListenerConditionResolvedRefs), false, string(gatewayv1.ListenerReasonInvalidRouteKinds),
			fmt.Sprintf("route kinds not supported on this listener: %v", bad), gen)
	}
	return out, resolved
}

func ptrGroup(g string) *gatewayv1.Group { v := gatewayv1.Group(g); return &v }

func ptrKind(k string) *gatewayv1.Kind { v := gatewayv1.Kind(k); return &v }

// listenerConflicts marks listeners sharing a port: different protocols
// conflict (ProtocolConflict); the same hostname twice conflicts
// (HostnameConflict).
func listenerConflicts(gs *gatewayState, gen int64) {
	for i, a := range gs.listeners {
		reason := ""
		for j, b := range gs.listeners {
			if i == j || a.spec.Port != b.spec.Port {
				continue
			}
			if a.spec.Protocol != b.spec.Protocol || tlsMode(a.spec) != tlsMode(b.spec) {
				// Different protocols, or TLS Terminate next to
				// Passthrough, cannot share a port.
				reason = string(gatewayv1.ListenerReasonProtocolConflict)
				break
			}
			if hostnameOf(a.spec.Hostname) == hostnameOf(b.spec.Hostname) {
				reason = string(gatewayv1.ListenerReasonHostnameConflict)
			}
		}
		c := condition(string(gatewayv1.ListenerConditionConflicted), false, string(gatewayv1.ListenerReasonNoConflicts), "no conflicts", gen)
		if reason != "" {
			msg := "another listener on port " + strconv.Itoa(int(a.spec.Port)) + " conflicts with this one"
			a.valid, a.conflict = false, reason
			c = condition(string(gatewayv1.ListenerConditionConflicted), true, reason, msg, gen)
			// A conflicted listener is not accepted and serves no route kind.
			for k := range a.status.Conditions {
				if a.status.Conditions[k].Type == string(gatewayv1.ListenerConditionAccepted) {
					a.status.Conditions[k] = condition(string(gatewayv1.ListenerConditionAccepted), false, reason, msg, gen)
				}
			}
			a.status.SupportedKinds = []gatewayv1.RouteGroupKind{}
		}
		a.status.Conditions = append(a.status.Conditions, c)
	}
}

// tlsMode is a listener's TLS mode ("" without TLS settings; Terminate
// is the default).
func tlsMode(l *gatewayv1.Listener) gatewayv1.TLSModeType {
	if l.Protocol != gatewayv1.TLSProtocolType && l.Protocol != gatewayv1.HTTPSProtocolType {
		return ""
	}
	if l.TLS == nil || l.TLS.Mode == nil {
		return gatewayv1.TLSModeTerminate
	}
	return *l.TLS.Mode
}

func hostnameOf(h *gatewayv1.Hostname) string {
	if h == nil {
		return ""
	}
	return string(*h)
}

// gatewayStatus completes a Gateway's status once routes have attached.
func (t *translator) gatewayStatus(gs *gatewayState) {
	gen := gs.gw.Generation
	var st gatewayv1.GatewayStatus
	valid := 0
	for _, ls := range gs.listeners {
		ls.status.AttachedRoutes = ls.attached
		prog := condition(string(gatewayv1.ListenerConditionProgrammed), ls.valid, string(gatewayv1.ListenerReasonProgrammed), "listener programmed", gen)
		if !ls.valid {
			prog.Reason, prog.Message = string(gatewayv1.ListenerReasonInvalid), "listener is not valid"
			if ls.conflict != "" {
				prog.Reason, prog.Message = ls.conflict, "listener conflicts with another on its port"
			}
		} else {
			valid++
		}
		ls.status.Conditions = append(ls.status.Conditions, prog)
		st.Listeners = append(st.Listeners, ls.status)
	}
	accepted := condition(string(gatewayv1.GatewayConditionAccepted), true, string(gatewayv1.GatewayReasonAccepted), "Gateway accepted", gen)
	programmed := condition(string(gatewayv1.GatewayConditionProgrammed), true, string(gatewayv1.GatewayReasonProgrammed), "Gateway programmed", gen)
	if valid < len(gs.listeners) {
		accepted = condition(string(gatewayv1.GatewayConditionAccepted), valid > 0, string(gatewayv1.GatewayReasonListenersNotValid),
			fmt.Sprintf("%d of %d listeners are not valid", len(gs.listeners)-valid, len(gs.listeners)), gen)
	}
	if valid == 0 {
		programmed = condition(string(gatewayv1.GatewayConditionProgrammed), false, string(gatewayv1.GatewayReasonInvalid), "no valid listener", gen)
	}
	if gs.invalidParams != "" {
		accepted = condition(string(gatewayv1.GatewayConditionAccepted), false, string(gatewayv1.GatewayReasonInvalidParameters), gs.invalidParams, gen)
		programmed = condition(string(gatewayv1.GatewayConditionProgrammed), false, string(gatewayv1.GatewayReasonInvalid),
			"the Gateway is not accepted", gen)
	}
	st.Conditions = []metav1.Condition{accepted, programmed}
	t.res.Gateways = append(t.res.Gateways, GatewayStatus{Ref: gs.ref, Status: st})
}

// allowsNamespace applies a listener's allowedRoutes.namespaces to a
// route's namespace.
func (t *translator) allowsNamespace(gw *gatewayv1.Gateway, l *gatewayv1.Listener, ns string) bool {
	from := gatewayv1.NamespacesFromSame
	var sel *metav1.LabelSelector
	if l.AllowedRoutes != nil && l.AllowedRoutes.Namespaces != nil {
		if l.AllowedRoutes.Namespaces.From != nil {
			from = *l.AllowedRoutes.Namespaces.From
		}
		sel = l.AllowedRoutes.Namespaces.Selector
	}
	switch from {
	case gatewayv1.NamespacesFromAll:
		return true
	case gatewayv1.NamespacesFromSame:
		return ns == gw.Namespace
	case gatewayv1.NamespacesFromSelector:
		if sel == nil {
			return false
		}
		s, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil {
			return false
		}
		for i := range t.snap.Namespaces {
			if t.snap.Namespaces[i].Name == ns {
				return s.Matches(labels.Set(t.snap.Namespaces[i].Labels))
			}
		}
	}
	return false
}

// listenerCertificates resolves an HTTPS listener's certificateRefs. A
// listener with no usable certificate is invalid.
func (t *translator) listenerCertificates(gw *gatewayv1.Gateway, l *gatewayv1.Listener, ls *listenerState, gen int64) (bool, metav1.Condition) {
	bad := func(reason gatewayv1.ListenerConditionReason, msg string) (bool, metav1.Condition) {
		// Not programmed, but routes still attach (and count), as the
		// spec asks of listeners with unresolved references.
		ls.valid, ls.unresolved = false, true
		return false, condition(string(gatewayv1.ListenerConditionResolvedRefs), false, string(reason), msg, gen)
	}
	if l.TLS == nil || (l.TLS.Mode != nil && *l.TLS.Mode != gatewayv1.TLSModeTerminate) {
		return bad(gatewayv1.ListenerReasonInvalidCertificateRef, string(l.Protocol)+" listeners that terminate TLS need tls.certificateRefs")
	}
	if len(l.TLS.CertificateRefs) == 0 {
		return bad(gatewayv1.ListenerReasonInvalidCertificateRef, "tls.certificateRefs is empty")
	}
	var hosts []string
	if l.Hostname != nil {
		hosts = []string{string(*l.Hostname)}
	}
	for i, ref := range l.TLS.CertificateRefs {
		if (ref.Group != nil && *ref.Group != "") || (ref.Kind != nil && *ref.Kind != "Secret") {
			return bad(gatewayv1.ListenerReasonInvalidCertificateRef, fmt.Sprintf("tls.certificateRefs[%d]: only core Secrets are supported", i))
		}
		ns := gw.Namespace
		if ref.Namespace != nil {
			ns = string(*ref.Namespace)
		}
		if ns != gw.Namespace && !t.grantAllows(gw.Namespace, kindGateway, ns, "", "Secret", string(ref.Name)) {
			return bad(gatewayv1.ListenerReasonRefNotPermitted, fmt.Sprintf(
				"tls.certificateRefs[%d]: Secret %s/%s is in another namespace and no ReferenceGrant there allows it", i, ns, ref.Name))
		}
		cert, msg, _ := t.secretCertificate(ns, string(ref.Name))
		if cert == nil {
			return bad(gatewayv1.ListenerReasonInvalidCertificateRef, fmt.Sprintf("tls.certificateRefs[%d]: %s", i, msg))
		}
		ls.certs = append(ls.certs, certs.Certificate{Hosts: hosts, Cert: cert, Source: "Secret/" + ns + "/" + string(ref.Name)})
	}
	return true, metav1.Condition{}
}

func setKey(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[k] = v
	return m
}
