package translate

import (
	"cmp"
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/gateway-api/pkg/features"

	"github.com/portico-dev/portico/router"
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

// gatewayProcessor translates the Gateway API: GatewayClasses and Gateways
// of Portico's controller, the routes attached to them, and the status of
// all of them and of BackendTLSPolicies.
type gatewayProcessor struct {
	*common
	// policies are the validated BackendTLSPolicies, oldest first;
	// policyUse the Gateways whose routes use the Services they target.
	policies  []*backendPolicy
	policyUse policyUse
}

// newGatewayProcessor makes room for one status per policy; the list is
// empty, not nil, even when the Gateway API is off.
func newGatewayProcessor(c *common, policies []*backendPolicy) *gatewayProcessor {
	c.res.BackendTLSPolicies = make([]PolicyStatus, 0, len(policies))
	return &gatewayProcessor{common: c, policies: policies, policyUse: policyUse{}}
}

// gatewayState is one of our Gateways during translation.
type gatewayState struct {
	gw        *gatewayv1.Gateway
	ref       ObjectRef
	listeners []*listenerState
	// invalidParams, when set, says why the Gateway's parametersRef
	// rejects it.
	invalidParams string
}

func condition(t string, ok bool, reason, msg string, gen int64) metav1.Condition {
	st := metav1.ConditionFalse
	if ok {
		st = metav1.ConditionTrue
	}
	return metav1.Condition{Type: t, Status: st, Reason: reason, Message: msg, ObservedGeneration: gen}
}

// gatewayAPI translates GatewayClasses, Gateways and HTTPRoutes.
func (t *gatewayProcessor) gatewayAPI() {
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
func (t *gatewayProcessor) gateway(gw *gatewayv1.Gateway, classParams gatewayParams) *gatewayState {
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

// gatewayStatus completes a Gateway's status once routes have attached.
func (t *gatewayProcessor) gatewayStatus(gs *gatewayState) {
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

func setKey(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	m[k] = v
	return m
}
