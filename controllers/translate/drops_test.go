package translate

import (
	"testing"

	"github.com/portico-dev/portico/router"
)

// TestDropProblems: routes the router leaves out become problems on their
// objects, at their rule's field.
func TestDropProblems(t *testing.T) {
	winner := router.Source{Kind: kindHTTP, Namespace: "a", Name: "old", Rule: 0, Path: 0}
	ps := DropProblems([]router.Drop{
		{Route: router.Source{Kind: kindHTTP, Namespace: "a", Name: "new", Rule: 1, Path: 2}, Winner: &winner, Reason: "never matches"},
		{Route: router.Source{Kind: KindVirtualService, Namespace: "b", Name: "vs", Rule: 3, Path: -1}, Reason: "invalid regular expression: x"},
		{Route: router.Source{Kind: ingressKind, Namespace: "c", Name: "ing", Rule: 0, Path: 1}, Winner: &winner, Reason: "never matches"},
	})
	want := []struct{ kind, field, reason string }{
		{kindHTTP, "spec.rules[1].matches[2]", reasonRouteShadowed},
		{KindVirtualService, "spec.http[3]", reasonInvalidRoute},
		{ingressKind, "spec.rules[0].http.paths[1]", reasonRouteShadowed},
	}
	for i, w := range want {
		if p := ps[i]; p.Object.Kind != w.kind || p.Field != w.field || p.Reason != w.reason {
			t.Errorf("problem %d: %+v, want %+v", i, p, w)
		}
	}
	if ps[1].Severity != SeverityError || ps[0].Severity != SeverityWarning {
		t.Errorf("severities %s %s", ps[0].Severity, ps[1].Severity)
	}
}
