package translate

import (
	"fmt"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	certs "github.com/portico-dev/portico/tls"
)

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

// allowsNamespace applies a listener's allowedRoutes.namespaces to a
// route's namespace.
func (t *gatewayProcessor) allowsNamespace(gw *gatewayv1.Gateway, l *gatewayv1.Listener, ns string) bool {
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
func (t *gatewayProcessor) listenerCertificates(gw *gatewayv1.Gateway, l *gatewayv1.Listener, ls *listenerState, gen int64) (bool, metav1.Condition) {
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
