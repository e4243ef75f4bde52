package router

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestExplainAgreesWithRouter generates random tables and requests and
// checks that Explain's winner is the route the Router serves: through
// ServeHTTP (each route's backend answers its own name) and through
// LookupOn.
func TestExplainAgreesWithRouter(t *testing.T) {
	rng := rand.New(rand.NewPCG(16, 2026))
	hosts := []struct {
		host string
		m    HostMatch
	}{{"a.example.com", HostExact}, {"b.example.com", HostExact}, {"x.a.example.com", HostExact},
		{"*.example.com", HostWildcardOneLabel}, {"*.example.com", HostWildcardAnyLabels}, {"", HostAny}}
	paths := []string{"/", "/a", "/a/", "/a/b", "/a/b/c", "/b", "/a/bc"}
	regexes := []string{"/a/[a-z]+", "/b.*", "/a/b/c", ".*"}
	reqHosts := []string{"a.example.com", "A.Example.COM:8080", "b.example.com.", "x.a.example.com", "y.x.a.example.com", "c.example.com", "other.org", ""}
	reqPaths := []string{"/", "/a", "/a/", "/a/b", "/a//b", "/a/./b/c", "/a/bc", "/b", "/bb", "/%61/b", "/c"}
	listeners := []string{"", "Gateway/ns/gw:80"}
	requests, served := 0, 0
	for round := 0; round < 60; round++ {
		var cfg Config
		for i := 0; i < 1+rng.IntN(25); i++ {
			h := hosts[rng.IntN(len(hosts))]
			r := Route{Listener: listeners[rng.IntN(2)], Host: h.host, HostMatch: h.m, PathMatch: PathMatch(rng.IntN(3)),
				Source: Source{Kind: "HTTPRoute", Namespace: "ns", Name: fmt.Sprintf("r%d", i), Rule: i, Path: 0}}
			r.Path = paths[rng.IntN(len(paths))]
			if r.PathMatch == PathRegularExpression {
				r.Path = regexes[rng.IntN(len(regexes))]
			}
			if rng.IntN(4) == 0 {
				r.Method = []string{http.MethodGet, http.MethodPost}[rng.IntN(2)]
			}
			if rng.IntN(3) == 0 {
				r.Headers = append(r.Headers, ValueMatch{Name: "env", Value: []string{"canary", "prod", "can.*"}[rng.IntN(3)], Regex: rng.IntN(3) == 0, Invert: rng.IntN(5) == 0})
			}
			if rng.IntN(4) == 0 {
				r.QueryParams = append(r.QueryParams, ValueMatch{Name: "v", Value: []string{"1", "2"}[rng.IntN(2)]})
			}
			r.Backends = []WeightedBackend{{Backend: &Backend{Name: r.Source.Name, Status: 299, Reason: r.Source.Name}, Weight: 1}}
			cfg.Routes = append(cfg.Routes, r)
		}
		if rng.IntN(2) == 0 {
			cfg.Default = &Route{Path: "/", Source: Source{Kind: "Ingress", Name: "default", Rule: -1},
				Backends: []WeightedBackend{{Backend: &Backend{Name: "default", Status: 299, Reason: "default"}, Weight: 1}}}
		}
		tb := Compile(cfg)
		rt := &Router{}
		rt.Swap(tb)
		for j := 0; j < 80; j++ {
			listener := listeners[rng.IntN(2)]
			host, path := reqHosts[rng.IntN(len(reqHosts))], reqPaths[rng.IntN(len(reqPaths))]
			method := []string{http.MethodGet, http.MethodPost, http.MethodPut}[rng.IntN(3)]
			header := http.Header{}
			if v := rng.IntN(4); v > 0 {
				header.Set("Env", []string{"canary", "prod", "canaryish"}[v-1])
			}
			query := []string{"", "v=1", "v=2", "x=1&v=1"}[rng.IntN(4)]
			e := tb.Explain(ExplainRequest{Listener: listener, Host: host, Path: path, Method: method, Header: header, RawQuery: query})
			canon, _ := CanonicalPath(path)
			req := httptest.NewRequest(method, "http://h"+path, nil)
			req.URL.RawQuery, req.Host, req.Header = query, host, header.Clone()
			want := tb.LookupOn(listener, host, canon, &httpRequest{req})
			if e.Winner != want {
				t.Fatalf("round %d %s %s%s?%s env=%q on %q: Explain %s, LookupOn %s", round, method, host, path, query, header.Get("Env"),
					listener, backendOf(e.Winner), backendOf(want))
			}
			rec := httptest.NewRecorder()
			var h http.Handler = rt
			if listener != "" {
				h = rt.Listener(listener)
			}
			h.ServeHTTP(rec, req)
			got := "<none>"
			if rec.Code == 299 {
				got = strings.TrimSpace(rec.Body.String())
				served++
			} else if rec.Code != http.StatusNotFound {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			if e.Winner == nil && got != "<none>" || e.Winner != nil && got != e.Winner.Source.Name {
				t.Fatalf("round %d %s %s%s?%s env=%q on %q: Explain %v, the Router served %s", round, method, host, path, query,
					header.Get("Env"), listener, e.Winner, got)
			}
			for _, c := range e.Candidates {
				if c.Route == e.Winner != (c.Reason == "matches and serves the request") {
					t.Fatalf("candidate %s: reason %q (winner %s)", c.Route.Source, c.Reason, backendOf(e.Winner))
				}
			}
			requests++
		}
	}
	t.Logf("%d requests, %d served by a route", requests, served)
	if served < requests/4 {
		t.Fatalf("only %d of %d requests were served by a route: the generator is too sparse", served, requests)
	}
}
