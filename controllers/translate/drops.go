package translate

import (
	"fmt"

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
