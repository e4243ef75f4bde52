package router

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestStringPrefixAndRegexRewrite(t *testing.T) {
	b := backendServer(t, "b")
	be := &Backend{Name: "b", Endpoints: []Endpoint{{addr(b)}}}
	wb := []WeightedBackend{{Backend: be, Weight: 1}}
	cfg := Config{Routes: []Route{
		{Host: "a.com", HostMatch: HostExact, Path: `/old.*`, PathMatch: PathRegularExpression, Backends: wb,
			Rewrite: &Rewrite{Path: &PathModifier{Value: "/new", StringPrefix: "/old"}}},
		{Host: "a.com", HostMatch: HostExact, Path: `/v([0-9]+)/(.*)`, PathMatch: PathRegularExpression, Backends: wb,
			Rewrite: &Rewrite{Path: &PathModifier{Value: "/api/$2/version/$1", Regex: `^/v([0-9]+)/(.*)$`}}},
	}}
	_, front := serveTable(t, cfg, Options{})
	for path, want := range map[string]string{
		"/oldies?x=1": "b a.com /newies?x=1",
		"/old/x":      "b a.com /new/x",
		"/v2/users":   "b a.com /api/users/version/2",
	} {
		if _, body := get(t, front.URL+path, "a.com"); !strings.HasPrefix(body, want) {
			t.Errorf("%s: %q, want prefix %q", path, body, want)
		}
	}
}

func TestFaultInjection(t *testing.T) {
	b := backendServer(t, "b")
	be := &Backend{Name: "b", Endpoints: []Endpoint{{addr(b)}}}
	wb := []WeightedBackend{{Backend: be, Weight: 1}}
	cfg := Config{Routes: []Route{
		{Host: "a.com", HostMatch: HostExact, Path: "/abort", Backends: wb, Fault: &Fault{AbortPercent: 100, AbortStatus: 418}},
		{Host: "a.com", HostMatch: HostExact, Path: "/never", Backends: wb, Fault: &Fault{AbortPercent: 0, AbortStatus: 418}},
		{Host: "a.com", HostMatch: HostExact, Path: "/delay", Backends: wb, Fault: &Fault{DelayPercent: 100, Delay: 50 * time.Millisecond}},
	}}
	_, front := serveTable(t, cfg, Options{})
	if code, _ := get(t, front.URL+"/abort", "a.com"); code != 418 {
		t.Errorf("abort: %d", code)
	}
	if code, _ := get(t, front.URL+"/never", "a.com"); code != 200 {
		t.Errorf("0%% abort: %d", code)
	}
	start := time.Now()
	if code, _ := get(t, front.URL+"/delay", "a.com"); code != 200 || time.Since(start) < 50*time.Millisecond {
		t.Errorf("delay: %d after %v", code, time.Since(start))
	}
}

func TestInvertedHeaderMatch(t *testing.T) {
	b := backendServer(t, "b")
	be := &Backend{Name: "b", Endpoints: []Endpoint{{addr(b)}}}
	cfg := Config{Routes: []Route{{Host: "a.com", HostMatch: HostExact, Path: "/", Backends: []WeightedBackend{{Backend: be, Weight: 1}},
		Headers: []ValueMatch{{Name: "x-internal", Regex: true, Invert: true}, {Name: "x-env", Value: "^(?:dev|test)$", Regex: true, Invert: true}}}}}
	_, front := serveTable(t, cfg, Options{})
	for _, tc := range []struct {
		hdr  []string
		code int
	}{
		{nil, 200},
		{[]string{"X-Internal", "1"}, 404},
		{[]string{"X-Env", "prod"}, 200},
		{[]string{"X-Env", "dev"}, 404},
		{[]string{"X-Env", "devx"}, 200},
	} {
		if code, _ := get(t, front.URL+"/", "a.com", tc.hdr...); code != tc.code {
			t.Errorf("%v: %d, want %d", tc.hdr, code, tc.code)
		}
	}
}

// BenchmarkLookupOrderedRegex is the Istio shape: one host whose rules are
// anchored regexes tried in order; the request matches the last of n.
func BenchmarkLookupOrderedRegex(b *testing.B) {
	for _, n := range []int{10, 100} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			var cfg Config
			for i := range n {
				cfg.Routes = append(cfg.Routes, Route{Host: "shop.example.com", HostMatch: HostExact,
					Path: regexp.QuoteMeta(fmt.Sprintf("/svc-%d/", i)) + ".*", PathMatch: PathRegularExpression,
					Source: Source{Name: fmt.Sprint(i)}})
			}
			tab := Compile(cfg)
			path := fmt.Sprintf("/svc-%d/items/42", n-1)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if tab.Lookup("shop.example.com", path, nil) == nil {
					b.Fatal("no match")
				}
			}
		})
	}
}
