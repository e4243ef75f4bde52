package translate_test

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"

	"github.com/portico-dev/portico/controllers/translate"
	"github.com/portico-dev/portico/router"
)

// TestShadowedRulesReachTheirObjects: every rule the router leaves out
// because an earlier route always wins is reported on the losing object,
// naming the winner: as a RulesShadowed condition on the HTTPRoute's and
// GRPCRoute's parent, and as a problem (Event; Istio status) for each API.
func TestShadowedRulesReachTheirObjects(t *testing.T) {
	res := translate.Translate(loadSnapshot(t, "testdata/drops/shadowed.yaml"), testOptions)
	translate.ApplyDrops(&res, router.Compile(res.Config).Dropped())

	cond := func(statuses []translate.RouteStatus, name string) string {
		for _, s := range statuses {
			if s.Ref.Name != name {
				continue
			}
			if len(s.Parents) != 1 {
				t.Fatalf("%s: %d parents", name, len(s.Parents))
			}
			if c := meta.FindStatusCondition(s.Parents[0].Conditions, translate.ConditionRulesShadowed); c != nil {
				return c.Message
			}
			return ""
		}
		t.Fatalf("no status for %s", name)
		return ""
	}
	if m := cond(res.HTTPRoutes, "new"); !strings.Contains(m, "spec.rules[1].matches[0]") || !strings.Contains(m, "HTTPRoute/default/old#rule0.path0") ||
		strings.Contains(m, "spec.rules[0]") {
		t.Errorf("HTTPRoute new: condition %q, want rule 1 shadowed by old", m)
	}
	if m := cond(res.HTTPRoutes, "old"); m != "" {
		t.Errorf("HTTPRoute old (the winner) has condition %q", m)
	}
	if m := cond(res.GRPCRoutes, "new-g"); !strings.Contains(m, "GRPCRoute/default/old-g") {
		t.Errorf("GRPCRoute new-g: condition %q, want shadowed by old-g", m)
	}
	found := map[string]bool{}
	for _, p := range res.Problems {
		if p.Reason == "RouteShadowed" {
			found[p.Object.Kind+"/"+p.Object.Name+" "+p.Field] = strings.Contains(p.Message, "comes first")
		}
	}
	if _, ok := found["VirtualService/vs spec.http[3].match[0]"]; ok {
		t.Error("the exact /z rule is reported though nothing before it covers it")
	}
	for _, want := range []string{"HTTPRoute/new spec.rules[1].matches[0]", "GRPCRoute/new-g spec.rules[0].matches[0]", "VirtualService/vs spec.http[1].match[0]",
		"VirtualService/vs spec.http[2].match[0]"} {
		if !found[want] {
			t.Errorf("no RouteShadowed problem naming the winner for %s; have %v", want, found)
		}
	}
}
