package dataplane

import "testing"

// TestListenerFor follows the Gateway API's listener selection on one
// port: exact hostname, then the longest wildcard, then the listener
// without a hostname (the cases of HTTPRouteHTTPSListenerDetectMisdirectedRequests).
func TestListenerFor(t *testing.T) {
	hs := []string{"", "second-example.org", "*.wildcard.org", "fourth-example.wildcard.org"}
	for name, want := range map[string]int{
		"example.org":                 0,
		"unknown-example.org":         0,
		"second-example.org":          1,
		"SECOND-EXAMPLE.ORG.":         1,
		"third-example.wildcard.org":  2,
		"a.b.wildcard.org":            2,
		"wildcard.org":                0,
		"fourth-example.wildcard.org": 3,
	} {
		if got := listenerFor(hs, name); got != want {
			t.Errorf("listenerFor(%q) = %d, want %d", name, got, want)
		}
	}
	if got := listenerFor([]string{"a.test"}, "b.test"); got != -1 {
		t.Errorf("no listener: %d", got)
	}
}
