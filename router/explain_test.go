package router

import (
	"net/http"
	"strings"
	"testing"
)

// explainTable is a table exercising every part of a decision: exact
// host, one-label wildcard and rules without host on the shared listener,
// with exact, regex and prefix paths and predicates, and a default route.
func explainTable() *Table {
	api := route("shop.example.com", HostExact, "/api", PathPrefix, "api")
	canary := route("shop.example.com", HostExact, "/api", PathPrefix, "canary")
	canary.Headers = []ValueMatch{{Name: "env", Value: "canary"}}
	post := route("shop.example.com", HostExact, "/orders", PathExact, "orders")
	post.Method = http.MethodPost
	beta := route("shop.example.com", HostExact, "/api/v2", PathPrefix, "beta")
	beta.QueryParams = []ValueMatch{{Name: "beta", Value: "1"}}
	re := route("shop.example.com", HostExact, "/api/[0-9]+", PathRegularExpression, "numbers")
	def := route("", HostAny, "/", PathPrefix, "default")
	def.Source.Rule, def.Source.Path = -1, -1
	return Compile(Config{Routes: []Route{
		route("shop.example.com", HostExact, "/", PathPrefix, "shop-root"),
		api, canary, post, beta, re,
		route("*.example.com", HostWildcardOneLabel, "/", PathPrefix, "wild"),
		route("", HostAny, "/", PathPrefix, "any"),
	}, Default: &def})
}

func candidate(t *testing.T, e Explanation, backend string) Candidate {
	t.Helper()
	for _, c := range e.Candidates {
		if backendOf(c.Route) == backend {
			return c
		}
	}
	t.Fatalf("no candidate %s in %+v", backend, e.Candidates)
	return Candidate{}
}

func TestExplainPrecedenceAndReasons(t *testing.T) {
	tb := explainTable()
	rows := []struct {
		name, method, path, query string
		header                    http.Header
		winner                    string
		// reasons: backend -> substring of its candidate's reason
		reasons map[string]string
	}{
		{name: "longest prefix", path: "/api/x", winner: "api", reasons: map[string]string{
			"canary":    "header Env: absent, must equal \"canary\"",
			"shop-root": "the longest matching prefix wins",
			"orders":    "path: Exact /orders is not /api/x",
			"numbers":   "does not match the regular expression",
			"beta":      "not under the prefix /api/v2",
		}},
		{name: "header precedence", path: "/api/x", header: http.Header{"Env": {"canary"}}, winner: "canary", reasons: map[string]string{
			"api": "would match, but Ingress/ns/canary#rule0.path0 serves the request",
		}},
		{name: "header value", path: "/api/x", header: http.Header{"Env": {"prod"}}, winner: "api", reasons: map[string]string{
			"canary": `"prod" does not equal "canary"`,
		}},
		{name: "method", method: http.MethodGet, path: "/orders", winner: "shop-root", reasons: map[string]string{
			"orders": "method: wants POST, the request is GET",
		}},
		{name: "method matches", method: http.MethodPost, path: "/orders", winner: "orders", reasons: map[string]string{
			"shop-root": "an Exact path beats regular expressions and prefixes",
		}},
		{name: "query", path: "/api/v2/x", query: "beta=2", winner: "api", reasons: map[string]string{
			"beta": `query beta: "2" does not equal "1"`,
		}},
		{name: "query matches", path: "/api/v2/x", query: "beta=1", winner: "beta"},
		{name: "regex before prefix", path: "/api/42", winner: "numbers", reasons: map[string]string{
			"api": "regular expressions are tried before prefixes",
		}},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			e := tb.Explain(ExplainRequest{Host: "Shop.Example.com:8080", Path: row.path, Method: row.method, Header: row.header, RawQuery: row.query})
			if got := backendOf(e.Winner); got != row.winner {
				t.Fatalf("winner %s, want %s", got, row.winner)
			}
			if e.Host != "shop.example.com" || e.Default {
				t.Errorf("host %q default %v", e.Host, e.Default)
			}
			w := candidate(t, e, row.winner)
			if !w.Tried || !w.Matched || w.Reason != "matches and serves the request" {
				t.Errorf("winner candidate %+v", w)
			}
			for b, want := range row.reasons {
				if c := candidate(t, e, b); !strings.Contains(c.Reason, want) {
					t.Errorf("%s: reason %q, want it to contain %q", b, c.Reason, want)
				}
			}
			if len(e.Candidates) != 6 {
				t.Errorf("%d candidates, want every route of the host (6)", len(e.Candidates))
			}
		})
	}
}

func TestExplainWildcardShadowing(t *testing.T) {
	tb := explainTable()
	e := tb.Explain(ExplainRequest{Host: "shop.example.com", Path: "/"})
	if len(e.Hosts) != 3 || e.Hosts[0].Match != HostExact || e.Hosts[1].Pattern != "*.example.com" || e.Hosts[2].Match != HostAny {
		t.Fatalf("hosts %+v: want exact, then the shadowed *.example.com and no-host tables", e.Hosts)
	}
	e = tb.Explain(ExplainRequest{Host: "other.example.com", Path: "/x"})
	if backendOf(e.Winner) != "wild" || len(e.Hosts) != 2 || e.Hosts[0].Match != HostWildcardOneLabel {
		t.Fatalf("winner %s hosts %+v", backendOf(e.Winner), e.Hosts)
	}
	// One label only: a.b.example.com falls to the rules without host.
	e = tb.Explain(ExplainRequest{Host: "a.b.example.com", Path: "/x"})
	if backendOf(e.Winner) != "any" || len(e.Hosts) != 1 {
		t.Fatalf("winner %s hosts %+v", backendOf(e.Winner), e.Hosts)
	}
}

func TestExplainNoMatchAndDefault(t *testing.T) {
	tb := Compile(Config{Routes: []Route{route("a.example.com", HostExact, "/app", PathExact, "app")}})
	e := tb.Explain(ExplainRequest{Host: "a.example.com", Path: "/other"})
	if e.Winner != nil || e.Default || len(e.Candidates) != 1 || e.Candidates[0].Tried {
		t.Fatalf("want no winner and one untried candidate, got %+v", e)
	}
	e = tb.Explain(ExplainRequest{Host: "b.example.com", Path: "/app"})
	if e.Winner != nil || len(e.Hosts) != 0 {
		t.Fatalf("unknown host: %+v", e)
	}
	e = explainTable().Explain(ExplainRequest{Host: "shop.example.com", Path: "/orders", Method: http.MethodDelete})
	if backendOf(e.Winner) != "shop-root" {
		t.Fatalf("winner %s", backendOf(e.Winner))
	}
	def := route("", HostAny, "/", PathPrefix, "default")
	tb = Compile(Config{Routes: []Route{route("a.example.com", HostExact, "/app", PathExact, "app")}, Default: &def})
	e = tb.Explain(ExplainRequest{Host: "a.example.com", Path: "/other"})
	if backendOf(e.Winner) != "default" || !e.Default {
		t.Fatalf("want the default route, got %s (default %v)", backendOf(e.Winner), e.Default)
	}
	// Gateway listeners have no default route.
	e = tb.Explain(ExplainRequest{Listener: "Gateway/ns/gw:80", Host: "a.example.com", Path: "/other"})
	if e.Winner != nil {
		t.Fatalf("gateway listener: %s", backendOf(e.Winner))
	}
	if e := tb.Explain(ExplainRequest{Host: "a.example.com", Path: "/%zz"}); e.PathError == "" {
		t.Fatal("malformed path not reported")
	}
}

func TestExplainPassthrough(t *testing.T) {
	tb := Compile(Config{
		Routes:      []Route{route("tls.example.com", HostExact, "/", PathPrefix, "http")},
		Passthrough: []L4Route{{Host: "tls.example.com", HostMatch: HostExact, Backends: []WeightedBackend{{Backend: be("raw"), Weight: 1}}}},
	})
	if e := tb.Explain(ExplainRequest{Host: "tls.example.com", Path: "/", TLS: true}); e.Passthrough == nil || e.Winner != nil {
		t.Fatalf("https: want the passthrough route, got %+v", e)
	}
	if e := tb.Explain(ExplainRequest{Host: "tls.example.com", Path: "/"}); e.Passthrough != nil || backendOf(e.Winner) != "http" {
		t.Fatalf("http: want the HTTP route, got %+v", e)
	}
	if e := tb.Explain(ExplainRequest{Host: "tls.example.com", Path: "/", TLS: true, SNI: "other.example.com"}); e.Passthrough != nil {
		t.Fatal("another SNI must not pass through")
	}
}
