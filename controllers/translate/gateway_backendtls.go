package translate

import (
	"cmp"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/portico-dev/portico/router"
)

// PolicyStatus is the status Portico wants on a policy: one ancestor entry
// per Gateway whose routes use a backend the policy applies to.
type PolicyStatus struct {
	Ref       ObjectRef                        `json:"ref"`
	Ancestors []gatewayv1.PolicyAncestorStatus `json:"ancestors,omitempty"`
}

// policyUse is the set of Portico's Gateways whose routes use a Service
// port, recorded for Services some policy targets.
type policyUse map[policyTarget]map[nsName]bool

func (u policyUse) add(target policyTarget, gw nsName) {
	if u[target] == nil {
		u[target] = map[nsName]bool{}
	}
	u[target][gw] = true
}

// usePolicies records that a route attached to the Gateway gw uses the
// backends, making gw an ancestor in the status of the policies that
// target them.
func (t *gatewayProcessor) usePolicies(gw nsName, backends [][]router.WeightedBackend) {
	for _, bs := range backends {
		for _, wb := range bs {
			if target, ok := t.backends.targetOf[wb.Backend]; ok {
				t.policyUse.add(target, gw)
				t.policyUse.add(policyTarget{target.svc, ""}, gw)
			}
		}
	}
}

// policyStatuses writes one ancestor entry per Gateway using a Service
// (port) each policy targets, at most 16 (the API's limit), in name order.
// Conflicted policies get entries too, so their owners see why.
func (t *gatewayProcessor) policyStatuses() {
	for _, bp := range t.policies {
		st := PolicyStatus{Ref: ObjectRef{Kind: KindBackendTLSPolicy, Namespace: bp.p.Namespace, Name: bp.p.Name}}
		seen := map[nsName]bool{}
		var gws []nsName
		for _, ref := range bp.p.Spec.TargetRefs {
			key := policyTarget{nsName{bp.p.Namespace, string(ref.Name)}, ""}
			if ref.SectionName != nil {
				key.section = string(*ref.SectionName)
			}
			for gw := range t.policyUse[key] {
				if !seen[gw] {
					seen[gw] = true
					gws = append(gws, gw)
				}
			}
		}
		slices.SortFunc(gws, func(a, b nsName) int { return cmp.Or(cmp.Compare(a.ns, b.ns), cmp.Compare(a.name, b.name)) })
		for _, gw := range gws[:min(len(gws), 16)] {
			ns := gatewayv1.Namespace(gw.ns)
			st.Ancestors = append(st.Ancestors, gatewayv1.PolicyAncestorStatus{
				AncestorRef:    gatewayv1.ParentReference{Group: ptrGroup(gatewayGroup), Kind: ptrKind(kindGateway), Namespace: &ns, Name: gatewayv1.ObjectName(gw.name)},
				ControllerName: gatewayv1.GatewayController(t.opts.GatewayControllerName),
				Conditions:     []metav1.Condition{bp.accepted, bp.resolved},
			})
		}
		t.res.BackendTLSPolicies = append(t.res.BackendTLSPolicies, st)
	}
	slices.SortFunc(t.res.BackendTLSPolicies, func(a, b PolicyStatus) int {
		return cmp.Or(cmp.Compare(a.Ref.Namespace, b.Ref.Namespace), cmp.Compare(a.Ref.Name, b.Ref.Name))
	})
}
