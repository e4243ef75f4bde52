package translate

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/portico-dev/portico/router"
)

// Reasons of the problems made from routes the router leaves out.
const (
	reasonRouteShadowed = "RouteShadowed"
	reasonInvalidRoute  = "InvalidRoute"
)

// DropProblems turns the routes router.Compile left out of a table
// (Table.Dropped) into problems on the objects they came from, so that a
// route that can never match is reported as a Warning Event (and in
// standalone's output) instead of vanishing: two HTTPRoutes or GRPCRoutes
// with the very same match on a listener, a VirtualService rule behind an
// earlier rule with the same match, an invalid regular expression.
func DropProblems(drops []router.Drop) []Problem {
	out := make([]Problem, 0, len(drops))
	for _, d := range drops {
		p := Problem{Object: ObjectRef{Kind: d.Route.Kind, Namespace: d.Route.Namespace, Name: d.Route.Name},
			Field: sourceField(d.Route), Severity: SeverityWarning, Reason: reasonRouteShadowed, Message: d.Reason}
		if d.Winner == nil {
			p.Severity, p.Reason = SeverityError, reasonInvalidRoute
		}
		out = append(out, p)
	}
	return out
}

// sourceField is the field path of a route's rule in its object.
func sourceField(s router.Source) string {
	if s.Rule < 0 {
		return "spec"
	}
	switch s.Kind {
	case ingressKind:
		return fmt.Sprintf("spec.rules[%d].http.paths[%d]", s.Rule, s.Path)
	case KindVirtualService:
		if s.Path >= 0 {
			return fmt.Sprintf("spec.http[%d].match[%d]", s.Rule, s.Path)
		}
		return fmt.Sprintf("spec.http[%d]", s.Rule)
	}
	if s.Path >= 0 {
		return fmt.Sprintf("spec.rules[%d].matches[%d]", s.Rule, s.Path)
	}
	return fmt.Sprintf("spec.rules[%d]", s.Rule)
}

// ConditionRulesShadowed is the route parent condition Portico sets on an
// HTTPRoute or GRPCRoute some of whose rules it leaves out on that parent:
// rules that can never match because an earlier route (by the Gateway
// API's precedence) has the very same match, or that the router cannot
// serve. Its message names each rule and the route that wins over it.
const ConditionRulesShadowed = "portico.dev/RulesShadowed"

// ApplyDrops reports the routes router.Compile left out of a table: as
// problems (Events, standalone output, Istio status) and, for HTTPRoutes
// and GRPCRoutes, as a ConditionRulesShadowed condition on the parent
// whose listener the rule was left out of.
func ApplyDrops(res *Result, drops []router.Drop) {
	res.Problems = append(res.Problems, DropProblems(drops)...)
	type parentKey struct {
		route     ObjectRef
		namespace string
		name      string
	}
	msgs := map[parentKey][]string{}
	var order []parentKey
	for _, d := range drops {
		if d.Route.Kind != kindHTTP && d.Route.Kind != kindGRPC {
			continue
		}
		_, ns, name, _, ok := router.ParseListenerKey(d.Listener)
		if !ok {
			continue
		}
		k := parentKey{ObjectRef{Kind: d.Route.Kind, Namespace: d.Route.Namespace, Name: d.Route.Name}, ns, name}
		m := sourceField(d.Route) + ": " + d.Reason
		if !slices.Contains(msgs[k], m) {
			if msgs[k] == nil {
				order = append(order, k)
			}
			msgs[k] = append(msgs[k], m)
		}
	}
	for _, k := range order {
		statuses := res.HTTPRoutes
		if k.route.Kind == kindGRPC {
			statuses = res.GRPCRoutes
		}
		for i := range statuses {
			if statuses[i].Ref != k.route {
				continue
			}
			for j := range statuses[i].Parents {
				p := &statuses[i].Parents[j]
				ns := k.route.Namespace
				if p.ParentRef.Namespace != nil {
					ns = string(*p.ParentRef.Namespace)
				}
				if string(p.ParentRef.Name) != k.name || ns != k.namespace || p.ParentRef.Kind != nil && *p.ParentRef.Kind != "Gateway" {
					continue
				}
				meta.SetStatusCondition(&p.Conditions, metav1.Condition{Type: ConditionRulesShadowed, Status: metav1.ConditionTrue,
					Reason: reasonRouteShadowed, ObservedGeneration: conditionGeneration(p.Conditions),
					Message: truncateMessage(strings.Join(msgs[k], "; "))})
			}
		}
	}
}

// conditionGeneration is the observedGeneration the parent's other
// conditions carry.
func conditionGeneration(cs []metav1.Condition) int64 {
	if len(cs) > 0 {
		return cs[0].ObservedGeneration
	}
	return 0
}

// truncateMessage keeps a condition message within the API's 32768 bytes.
func truncateMessage(m string) string {
	const limit = 32768
	if len(m) <= limit {
		return m
	}
	return m[:limit-len(" …")] + " …"
}
