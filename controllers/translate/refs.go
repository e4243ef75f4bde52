package translate

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/portico-dev/portico/router"
)

// ruleBackends resolves every rule's backendRefs. An invalid ref becomes
// a backend answering 500 for its share of the traffic; a rule without
// backendRefs answers 500. The condition is ResolvedRefs, naming the first
// unresolved ref. Backends are spoken to with proto (h2c for gRPC unless the
// Service port says otherwise).
func (t *gatewayProcessor) ruleBackends(in routeInput, rules [][]gatewayv1.BackendRef, proto router.Protocol) ([][]router.WeightedBackend, *refState) {
	refs := newRefState(in.gen)
	fail := refs.fail
	out := make([][]router.WeightedBackend, len(rules))
	for ri, refs := range rules {
		if len(refs) == 0 {
			out[ri] = []router.WeightedBackend{{Backend: &router.Backend{Name: "none", Status: 500,
				Reason: "route rule has no backendRefs"}, Weight: 1}}
			continue
		}
		for bi, br := range refs {
			weight := uint32(1)
			if br.Weight != nil {
				weight = uint32(max(*br.Weight, 0))
			}
			field := fmt.Sprintf("spec.rules[%d].backendRefs[%d]", ri, bi)
			be := t.backendRef(in.ref.Namespace, in.ref.Kind, br.BackendObjectReference, field, fail)
			if proto == router.H2C && be.Status == 0 && be.Protocol != router.H2C {
				be = t.backends.withProtocol(be, router.H2C)
			}
			out[ri] = append(out[ri], router.WeightedBackend{Backend: be, Weight: weight})
		}
	}
	return out, refs
}

// refState tracks a route's ResolvedRefs condition: the first reference
// that did not resolve names the reason.
type refState struct {
	resolved metav1.Condition
}

func newRefState(gen int64) *refState {
	return &refState{resolved: condition(string(gatewayv1.RouteConditionResolvedRefs), true,
		string(gatewayv1.RouteReasonResolvedRefs), "all references resolved", gen)}
}

// fail records an unresolved reference and returns the backend standing in
// for it, which answers 500.
func (s *refState) fail(reason gatewayv1.RouteConditionReason, msg string) *router.Backend {
	if s.resolved.Status == metav1.ConditionTrue {
		s.resolved = condition(string(gatewayv1.RouteConditionResolvedRefs), false, string(reason), msg, s.resolved.ObservedGeneration)
	}
	return &router.Backend{Name: "invalid", Status: 500, Reason: msg}
}

// backendRef resolves one reference to a Service port.
func (t *gatewayProcessor) backendRef(routeNS, routeKind string, ref gatewayv1.BackendObjectReference, field string,
	fail func(gatewayv1.RouteConditionReason, string) *router.Backend) *router.Backend {
	group, kind := "", "Service"
	if ref.Group != nil {
		group = string(*ref.Group)
	}
	if ref.Kind != nil {
		kind = string(*ref.Kind)
	}
	if group != "" || kind != "Service" {
		return fail(gatewayv1.RouteReasonInvalidKind, fmt.Sprintf("%s: backend kind %s/%s is not supported (Service is)", field, group, kind))
	}
	ns := routeNS
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	if ns != routeNS && !t.grantAllows(routeNS, routeKind, ns, "", "Service", string(ref.Name)) {
		return fail(gatewayv1.RouteReasonRefNotPermitted, fmt.Sprintf(
			"%s: Service %s/%s is in another namespace and no ReferenceGrant there allows it", field, ns, ref.Name))
	}
	if ref.Port == nil {
		return fail(gatewayv1.RouteReasonBackendNotFound, fmt.Sprintf("%s: port is required for a Service", field))
	}
	be, p := t.backends.resolve(ns, string(ref.Name), servicePortRef{number: *ref.Port})
	if be == nil {
		msg := fmt.Sprintf("%s: Service %s/%s port %d", field, ns, ref.Name, *ref.Port)
		if p != nil {
			msg = field + ": " + p.message
		}
		return fail(gatewayv1.RouteReasonBackendNotFound, msg)
	}
	// TLSRoute and TCPRoute forward bytes: WebSocket over TLS passes
	// through them as it is.
	if p != nil && p.reason == reasonUnsupportedProtocol && routeKind != kindTLS && routeKind != kindTCP {
		return fail(gatewayv1.RouteReasonUnsupportedProtocol, field+": "+p.message)
	}
	return be
}

// grantAllows reports whether a ReferenceGrant in toNS lets objects of
// fromKind in fromNS refer to the named object of toGroup/toKind.
func (t *gatewayProcessor) grantAllows(fromNS, fromKind, toNS, toGroup, toKind, toName string) bool {
	for i := range t.snap.ReferenceGrants {
		g := &t.snap.ReferenceGrants[i]
		if g.Namespace != toNS {
			continue
		}
		from := false
		for _, f := range g.Spec.From {
			if string(f.Group) == gatewayGroup && string(f.Kind) == fromKind && string(f.Namespace) == fromNS {
				from = true
				break
			}
		}
		if !from {
			continue
		}
		for _, to := range g.Spec.To {
			if string(to.Group) == toGroup && string(to.Kind) == toKind && (to.Name == nil || string(*to.Name) == toName) {
				return true
			}
		}
	}
	return false
}
