package translate

import (
	"cmp"
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// statuses is the PolicyAncestorStatus of every policy of a kind, by
// namespace/name. Each targetRef gives ancestors: the Gateway for a
// Gateway target, the route's Gateways (Portico's) for a route target,
// the Ingress itself for an Ingress.
func (a *attacher) statuses(k *policyKind) []PolicyStatus {
	out := make([]PolicyStatus, 0, len(k.parts))
	controller := gatewayv1.GatewayController(cmp.Or(a.opts.GatewayControllerName, a.opts.ControllerName))
	for _, p := range k.parts {
		st := PolicyStatus{Ref: p.ref}
		seen := map[string]bool{}
		for i, t := range p.targets {
			accepted, resolved := a.conditions(k, p, i, t)
			for _, anc := range a.ancestors(p, t) {
				id := ancestorID(anc)
				if seen[id] || len(st.Ancestors) == 16 {
					continue
				}
				seen[id] = true
				st.Ancestors = append(st.Ancestors, gatewayv1.PolicyAncestorStatus{AncestorRef: anc, ControllerName: controller,
					Conditions: []metav1.Condition{accepted, resolved}})
			}
		}
		for _, route := range a.filtered[p] {
			t := policyTargetRef{group: gatewayGroup, kind: route.kind, name: route.name}
			accepted, resolved := a.conditions(k, p, -1, t)
			for _, anc := range a.ancestors(p, t) {
				id := ancestorID(anc)
				if !seen[id] && len(st.Ancestors) < 16 {
					seen[id] = true
					st.Ancestors = append(st.Ancestors, gatewayv1.PolicyAncestorStatus{AncestorRef: anc, ControllerName: controller,
						Conditions: []metav1.Condition{accepted, resolved}})
				}
			}
		}
		for _, ing := range a.annotated[p] {
			accepted, resolved := a.conditions(k, p, -1, policyTargetRef{group: ingressGroup, kind: ingressKind, name: ing.name})
			ns := gatewayv1.Namespace(ing.ns)
			anc := gatewayv1.ParentReference{Group: ptrGroup(ingressGroup), Kind: ptrKind(ingressKind), Namespace: &ns, Name: gatewayv1.ObjectName(ing.name)}
			id := ancestorID(anc)
			if !seen[id] && len(st.Ancestors) < 16 {
				seen[id] = true
				st.Ancestors = append(st.Ancestors, gatewayv1.PolicyAncestorStatus{AncestorRef: anc, ControllerName: controller,
					Conditions: []metav1.Condition{accepted, resolved}})
			}
		}
		if p.failed() {
			reason := string(gatewayv1.PolicyReasonInvalid)
			if p.unresolved {
				reason = "InvalidReference"
			}
			a.problem(p.ref, p.field, SeverityError, reason, p.message)
		}
		out = append(out, st)
	}
	slices.SortFunc(out, func(x, y PolicyStatus) int {
		return cmp.Or(cmp.Compare(x.Ref.Namespace, y.Ref.Namespace), cmp.Compare(x.Ref.Name, y.Ref.Name))
	})
	return out
}

// conditions are the Accepted and ResolvedRefs conditions of one
// targetRef of p.
func (a *attacher) conditions(k *policyKind, p *policyPart, i int, t policyTargetRef) (metav1.Condition, metav1.Condition) {
	cond := func(typ string, ok bool, reason gatewayv1.PolicyConditionReason, msg string) metav1.Condition {
		status := metav1.ConditionTrue
		if !ok {
			status = metav1.ConditionFalse
		}
		return metav1.Condition{Type: typ, Status: status, Reason: string(reason), Message: msg, ObservedGeneration: p.generation}
	}
	resolved := cond(condResolvedRefs, true, "ResolvedRefs", "every referenced object was found")
	if p.unresolved {
		resolved = cond(condResolvedRefs, false, "InvalidReference", p.field+": "+p.message)
	}
	accepted := cond(string(gatewayv1.PolicyConditionAccepted), true, gatewayv1.PolicyReasonAccepted, "policy is applied")
	if p.proxy != nil && (t.group != gatewayGroup || t.kind != kindGateway) {
		accepted.Message = "policy is applied except " + fmt.Sprintf(proxyNotApplied, t.kind, p.ref.Namespace, t.name)
	}
	switch {
	case !a.targetExists(p.ref.Namespace, t):
		accepted = cond(string(gatewayv1.PolicyConditionAccepted), false, gatewayv1.PolicyReasonTargetNotFound,
			fmt.Sprintf("targetRefs[%d]: %s %s/%s%s not found", i, t.kind, p.ref.Namespace, t.name, sectionText(t.section)))
	case p.failed():
		accepted = cond(string(gatewayv1.PolicyConditionAccepted), false, gatewayv1.PolicyReasonInvalid,
			p.field+": "+p.message+"; the targeted routes answer 500 until this is fixed")
	case i >= 0 && k.lost[p][i] != nil:
		w := k.lost[p][i]
		accepted = cond(string(gatewayv1.PolicyConditionAccepted), false, gatewayv1.PolicyReasonConflicted,
			fmt.Sprintf("targetRefs[%d]: %s, older, targets the same %s", i, w.ref, t.kind))
	}
	return accepted, resolved
}

func sectionText(s string) string {
	if s == "" {
		return ""
	}
	return " section " + s
}

// targetExists reports whether a target (and its section) is there.
func (a *attacher) targetExists(ns string, t policyTargetRef) bool {
	switch {
	case t.group == gatewayGroup && t.kind == kindGateway:
		gw := a.gateways[nsName{ns, t.name}]
		if gw == nil || !a.owned[nsName{ns, t.name}] {
			return false
		}
		if t.section == "" {
			return true
		}
		return slices.ContainsFunc(gw.Spec.Listeners, func(l gatewayv1.Listener) bool { return string(l.Name) == t.section })
	case t.group == gatewayGroup && (t.kind == kindHTTP || t.kind == kindGRPC):
		names, ok := a.rules[attachKey{t.kind, ns, t.name, ""}]
		return ok && (t.section == "" || slices.Contains(names, t.section))
	case t.group == ingressGroup && t.kind == ingressKind:
		_, ok := a.ingresses[nsName{ns, t.name}]
		return ok && t.section == ""
	}
	return false
}

// ancestors of one targetRef (see statuses).
func (a *attacher) ancestors(p *policyPart, t policyTargetRef) []gatewayv1.ParentReference {
	ns := gatewayv1.Namespace(p.ref.Namespace)
	self := gatewayv1.ParentReference{Group: ptrGroup(t.group), Kind: ptrKind(t.kind), Namespace: &ns, Name: gatewayv1.ObjectName(t.name)}
	if t.section != "" {
		sn := gatewayv1.SectionName(t.section)
		self.SectionName = &sn
	}
	if t.group == gatewayGroup && (t.kind == kindHTTP || t.kind == kindGRPC) {
		gws := a.parents[attachKey{t.kind, p.ref.Namespace, t.name, ""}]
		if len(gws) == 0 {
			return []gatewayv1.ParentReference{self}
		}
		out := make([]gatewayv1.ParentReference, 0, len(gws))
		for _, gw := range gws {
			gns := gatewayv1.Namespace(gw.ns)
			out = append(out, gatewayv1.ParentReference{Group: ptrGroup(gatewayGroup), Kind: ptrKind(kindGateway), Namespace: &gns,
				Name: gatewayv1.ObjectName(gw.name)})
		}
		return out
	}
	return []gatewayv1.ParentReference{self}
}

// condResolvedRefs is the ResolvedRefs condition of a policy.
const condResolvedRefs = "ResolvedRefs"

// ancestorID names an ancestor by value (its optional fields are
// pointers: printing them would name their addresses).
func ancestorID(anc gatewayv1.ParentReference) string {
	return fmt.Sprint(valueOf(anc.Group), "/", valueOf(anc.Kind), "/", valueOf(anc.Namespace), "/", anc.Name, "/",
		valueOf(anc.SectionName))
}

func valueOf[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
