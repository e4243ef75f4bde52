package router

import (
	"fmt"
	"testing"
)

func be(name string) *Backend { return &Backend{Name: name} }

func route(host string, hm HostMatch, path string, pm PathMatch, backend string) Route {
	return Route{Host: host, HostMatch: hm, Path: path, PathMatch: pm,
		Backends: []WeightedBackend{{Backend: be(backend), Weight: 1}},
		Source:   Source{Kind: "Ingress", Namespace: "ns", Name: backend, Rule: 0, Path: 0}}
}

func backendOf(r *CompiledRoute) string {
	if r == nil {
		return "<none>"
	}
	return r.Backends[0].Backend.Name
}

// TestIngressPathExamples is the path-matching examples table of the
// Kubernetes Ingress documentation, row by row.
func TestIngressPathExamples(t *testing.T) {
	type rule struct {
		path string
		kind PathMatch
	}
	rows := []struct {
		rules   []rule
		request string
		match   string // the rule path that must match; "" for no match
	}{
		{[]rule{{"/", PathPrefix}}, "/", "/"},
		{[]rule{{"/", PathPrefix}}, "/anything/at/all", "/"},
		{[]rule{{"/foo", PathExact}}, "/foo", "/foo"},
		{[]rule{{"/foo", PathExact}}, "/bar", ""},
		{[]rule{{"/foo", PathExact}}, "/foo/", ""},
		{[]rule{{"/foo/", PathExact}}, "/foo", ""},
		{[]rule{{"/foo", PathPrefix}}, "/foo", "/foo"},
		{[]rule{{"/foo", PathPrefix}}, "/foo/", "/foo"},
		{[]rule{{"/foo/", PathPrefix}}, "/foo", "/foo/"},
		{[]rule{{"/foo/", PathPrefix}}, "/foo/", "/foo/"},
		{[]rule{{"/aaa/bb", PathPrefix}}, "/aaa/bbb", ""},
		{[]rule{{"/aaa/bbb", PathPrefix}}, "/aaa/bbb", "/aaa/bbb"},
		{[]rule{{"/aaa/bbb/", PathPrefix}}, "/aaa/bbb", "/aaa/bbb/"},
		{[]rule{{"/aaa/bbb", PathPrefix}}, "/aaa/bbb/", "/aaa/bbb"},
		{[]rule{{"/aaa/bbb", PathPrefix}}, "/aaa/bbb/ccc", "/aaa/bbb"},
		{[]rule{{"/aaa/bbb", PathPrefix}}, "/aaa/bbbxyz", ""},
		{[]rule{{"/", PathPrefix}, {"/aaa", PathPrefix}}, "/aaa/ccc", "/aaa"},
		{[]rule{{"/", PathPrefix}, {"/aaa", PathPrefix}, {"/aaa/bbb", PathPrefix}}, "/aaa/bbb", "/aaa/bbb"},
		{[]rule{{"/", PathPrefix}, {"/aaa", PathPrefix}, {"/aaa/bbb", PathPrefix}}, "/ccc", "/"},
		{[]rule{{"/aaa", PathPrefix}}, "/ccc", ""},
		{[]rule{{"/foo", PathPrefix}, {"/foo", PathExact}}, "/foo", "/foo Exact"},
		// The note under the table: the last element must match whole.
		{[]rule{{"/foo/bar", PathPrefix}}, "/foo/bar/baz", "/foo/bar"},
		{[]rule{{"/foo/bar", PathPrefix}}, "/foo/barbaz", ""},
	}
	for i, row := range rows {
		var cfg Config
		for _, r := range row.rules {
			name := r.path
			if r.kind == PathExact && len(row.rules) > 1 {
				name += " Exact"
			}
			cfg.Routes = append(cfg.Routes, route("foo.com", HostExact, r.path, r.kind, name))
		}
		got := backendOf(Compile(cfg).Lookup("foo.com", row.request, nil))
		want := row.match
		if want == "" {
			want = "<none>"
		}
		if got != want {
			t.Errorf("row %d: rules %v, request %s: matched %s, want %s", i, row.rules, row.request, got, want)
		}
	}
}

func TestHostMatching(t *testing.T) {
	cfg := Config{Routes: []Route{
		route("foo.bar.com", HostExact, "/", PathPrefix, "exact"),
		route("*.bar.com", HostWildcardOneLabel, "/", PathPrefix, "wild-one"),
		route("*.example.com", HostWildcardAnyLabels, "/", PathPrefix, "wild-any"),
		route("*.deep.example.com", HostWildcardAnyLabels, "/", PathPrefix, "wild-any-deep"),
		route("", HostAny, "/", PathPrefix, "any"),
	}}
	tab := Compile(cfg)
	cases := map[string]string{
		"foo.bar.com":        "exact",
		"FOO.Bar.COM":        "exact",
		"foo.bar.com:8080":   "exact",
		"foo.bar.com.":       "exact",
		"baz.bar.com":        "wild-one",
		"x.baz.bar.com":      "any", // one label only for Ingress wildcards
		"bar.com":            "any", // a wildcard never matches its own suffix
		"a.example.com":      "wild-any",
		"a.b.c.example.com":  "wild-any",
		"x.deep.example.com": "wild-any-deep",
		"example.com":        "any",
		"other.org":          "any",
		"":                   "any",
		"127.0.0.1:80":       "any",
		"[::1]:80":           "any",
	}
	for host, want := range cases {
		if got := backendOf(tab.Lookup(host, "/", nil)); got != want {
			t.Errorf("host %q: got %s, want %s", host, got, want)
		}
	}
}

func TestNoFallbackToLessSpecificHost(t *testing.T) {
	cfg := Config{
		Routes: []Route{
			route("foo.com", HostExact, "/api", PathPrefix, "api"),
			route("", HostAny, "/", PathPrefix, "any"),
		},
		Default: &Route{Backends: []WeightedBackend{{Backend: be("default"), Weight: 1}}},
	}
	tab := Compile(cfg)
	if got := backendOf(tab.Lookup("foo.com", "/web", nil)); got != "default" {
		t.Fatalf("got %s, want default", got)
	}
	if got := backendOf(tab.Lookup("bar.com", "/web", nil)); got != "any" {
		t.Fatalf("got %s, want any", got)
	}
}

func TestFirstRouteWinsDuplicates(t *testing.T) {
	cfg := Config{Routes: []Route{
		route("foo.com", HostExact, "/a", PathPrefix, "old"),
		route("foo.com", HostExact, "/a/", PathPrefix, "new"),
	}}
	tab := Compile(cfg)
	if got := backendOf(tab.Lookup("foo.com", "/a/x", nil)); got != "old" {
		t.Fatalf("got %s, want old", got)
	}
	if n := len(tab.Routes()); n != 1 {
		t.Fatalf("routes = %d, want 1", n)
	}
}

func TestLookupAllocatesNothing(t *testing.T) {
	tab := Compile(Config{Routes: []Route{
		route("foo.com", HostExact, "/api/v1", PathPrefix, "a"),
		route("*.bar.com", HostWildcardOneLabel, "/", PathPrefix, "b"),
	}})
	allocs := testing.AllocsPerRun(100, func() {
		tab.Lookup("FOO.com:443", "/api/v1/users/1", nil)
		tab.Lookup("x.bar.com", "/z", nil)
	})
	if allocs != 0 {
		t.Fatalf("allocs = %v", allocs)
	}
}

func benchTable(n int) (*Table, []string) {
	var cfg Config
	hosts := make([]string, 0, n)
	for i := 0; i < n; i++ {
		h := fmt.Sprintf("host-%d.example.com", i/4)
		cfg.Routes = append(cfg.Routes, route(h, HostExact, fmt.Sprintf("/svc-%d", i%4), PathPrefix, h))
		hosts = append(hosts, h)
	}
	return Compile(cfg), hosts
}

func BenchmarkLookup(b *testing.B) {
	for _, n := range []int{1, 1000, 10000, 50000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			tab, hosts := benchTable(n)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				h := hosts[i%len(hosts)]
				if tab.Lookup(h, "/svc-0/deep/path/to/resource", nil) == nil && n >= 4 {
					b.Fatal("no match")
				}
			}
		})
	}
}

func BenchmarkCompile(b *testing.B) {
	for _, n := range []int{10000, 50000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			var cfg Config
			for i := 0; i < n; i++ {
				h := fmt.Sprintf("host-%d.example.com", i)
				cfg.Routes = append(cfg.Routes, route(h, HostExact, "/", PathPrefix, h))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				Compile(cfg)
			}
		})
	}
}

// TestHostClaimIsolatesListeners: a host reserved on a listener with no
// routes answers 404 rather than the wildcard host's routes.
func TestHostClaimIsolatesListeners(t *testing.T) {
	r := route("*.example.com", HostWildcardAnyLabels, "/", PathPrefix, "wild")
	r.Listener = "gw"
	tab := Compile(Config{Routes: []Route{r}, Hosts: []HostClaim{{Listener: "gw", Host: "foo.example.com", HostMatch: HostExact}}})
	if got := backendOf(tab.LookupOn("gw", "bar.example.com", "/", nil)); got != "wild" {
		t.Fatalf("bar: %s", got)
	}
	if got := backendOf(tab.LookupOn("gw", "foo.example.com", "/", nil)); got != "<none>" {
		t.Fatalf("foo (its own listener, no routes): %s", got)
	}
}
