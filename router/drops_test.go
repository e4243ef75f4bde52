package router

import (
	"slices"
	"strings"
	"testing"
)

// TestCompileReportsDrops: a route with the very same match as an earlier
// one of its listener and host, and a route whose regular expression does
// not compile, are left out and listed by Dropped with the winner.
func TestCompileReportsDrops(t *testing.T) {
	src := func(name string) Source {
		return Source{Kind: "HTTPRoute", Namespace: "ns", Name: name, Rule: 0, Path: 0}
	}
	cfg := Config{Routes: []Route{
		{Host: "a.test", HostMatch: HostExact, Path: "/x", PathMatch: PathPrefix, Source: src("old")},
		{Host: "a.test", HostMatch: HostExact, Path: "/x/", PathMatch: PathPrefix, Source: src("same")},
		{Host: "a.test", HostMatch: HostExact, Path: "/x", PathMatch: PathPrefix, Method: "GET", Source: src("other-match")},
		{Host: "b.test", HostMatch: HostExact, Path: "/x", PathMatch: PathPrefix, Source: src("other-host")},
		{Host: "a.test", HostMatch: HostExact, Path: "/x", PathMatch: PathPrefix, Listener: "Gateway/ns/gw:80", Source: src("other-listener")},
		{Host: "a.test", HostMatch: HostExact, Path: "/(", PathMatch: PathRegularExpression, Source: src("bad-regex")},
	}}
	tbl := Compile(cfg)
	d := tbl.Dropped()
	if len(d) != 2 {
		t.Fatalf("dropped %+v, want 2", d)
	}
	if d[0].Route.Name != "same" || d[0].Winner == nil || d[0].Winner.Name != "old" || !strings.Contains(d[0].Reason, "HTTPRoute/ns/old") {
		t.Errorf("shadowed route: %+v", d[0])
	}
	if d[1].Route.Name != "bad-regex" || d[1].Winner != nil || !strings.Contains(d[1].Reason, "path regular expression") {
		t.Errorf("invalid route: %+v", d[1])
	}
	if n := len(tbl.Routes()); n != 4 {
		t.Errorf("%d routes compiled, want 4", n)
	}
}

// TestEarlierPrefixRegexCoversLater: in configuration order (Istio's first
// match), a later rule under an earlier rule's literal prefix, or after a
// rule that matches everything, never matches and is reported; one the
// earlier rule does not cover is kept.
func TestEarlierPrefixRegexCoversLater(t *testing.T) {
	re := func(name, path string) Route {
		return Route{Host: "a.test", HostMatch: HostExact, Path: path, PathMatch: PathRegularExpression,
			Source: Source{Kind: "VirtualService", Name: name, Rule: 0, Path: 0}}
	}
	withHeader := re("hdr", "/api.*")
	withHeader.Headers = []ValueMatch{{Name: "x-v", Value: "1"}}
	tab := Compile(Config{Routes: []Route{withHeader, re("api", "/api.*"), re("deeper", "/api/v1.*"), re("exact", "/other"), re("all", ".*"), re("after-all", "/zzz")}})
	var got []string
	for _, d := range tab.Dropped() {
		got = append(got, d.Route.Name+"<"+d.Winner.Name)
	}
	if want := []string{"deeper<api", "after-all<all"}; !slices.Equal(got, want) {
		t.Fatalf("dropped %v, want %v", got, want)
	}
}
