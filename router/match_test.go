package router

import (
	"net/http/httptest"
	"net/url"
	"testing"
)

// lookupReq looks a request up through the same adapter the Router uses.
func lookupReq(t *Table, method, target string, headers ...string) string {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Add(headers[i], headers[i+1])
	}
	var req Request
	if t.NeedsRequest() {
		req = &httpRequest{r: r}
	}
	return backendOf(t.Lookup(r.Host, r.URL.Path, req))
}

func named(r Route, name string) Route {
	r.Backends = []WeightedBackend{{Backend: be(name), Weight: 1}}
	r.Host, r.HostMatch = "example.com", HostExact
	return r
}

// TestGatewayPrecedence follows the HTTPRoute precedence rules: Exact path,
// (then regular expressions, our choice), then the longest prefix, then a
// method match, then the most header
// matches, then the most query matches, then configuration order (which
// translation makes the oldest route first).
func TestGatewayPrecedence(t *testing.T) {
	tab := Compile(Config{Routes: []Route{
		named(Route{Path: "/", PathMatch: PathPrefix}, "root"),
		named(Route{Path: "/v2", PathMatch: PathPrefix}, "v2"),
		named(Route{Path: "/v2/example", PathMatch: PathExact}, "v2-exact"),
		named(Route{Path: "/v2", PathMatch: PathPrefix, Method: "POST"}, "v2-post"),
		named(Route{Path: "/v2", PathMatch: PathPrefix, Headers: []ValueMatch{{Name: "version", Value: "two"}}}, "v2-h1"),
		named(Route{Path: "/v2", PathMatch: PathPrefix, Headers: []ValueMatch{{Name: "version", Value: "two"}, {Name: "color", Value: "orange"}}}, "v2-h2"),
		named(Route{Path: "/v2", PathMatch: PathPrefix, QueryParams: []ValueMatch{{Name: "animal", Value: "whale"}}}, "v2-q"),
		named(Route{Path: "/v2", PathMatch: PathPrefix, QueryParams: []ValueMatch{{Name: "animal", Value: "whale"}}}, "v2-q-younger"),
		named(Route{Path: "/v2", PathMatch: PathPrefix, Headers: []ValueMatch{{Name: "version", Value: "two"}}, QueryParams: []ValueMatch{{Name: "animal", Value: "dolphin"}}}, "v2-h1-q"),
		named(Route{Path: "/re/[0-9]+/items", PathMatch: PathRegularExpression}, "regex"),
		named(Route{Path: "/search", PathMatch: PathPrefix, Headers: []ValueMatch{{Name: "X-Tier", Value: "^(gold|silver)$", Regex: true}}}, "search-tier"),
		named(Route{Path: "/search", PathMatch: PathPrefix, QueryParams: []ValueMatch{{Name: "q", Value: "port.*", Regex: true}}}, "search-q"),
	}})
	cases := []struct {
		method, target string
		headers        []string
		want           string
	}{
		{"GET", "http://example.com/", nil, "root"},
		{"GET", "http://example.com/v2/example", nil, "v2-exact"},
		{"POST", "http://example.com/v2/example", nil, "v2-exact"}, // Exact beats method
		{"GET", "http://example.com/v2/other", nil, "v2"},
		{"POST", "http://example.com/v2/other", []string{"version", "two", "color", "orange"}, "v2-post"}, // method beats headers
		{"GET", "http://example.com/v2/other", []string{"version", "two"}, "v2-h1"},                       // v2-h1-q also needs animal=dolphin
		{"GET", "http://example.com/v2/other", []string{"version", "two", "color", "orange"}, "v2-h2"},
		{"GET", "http://example.com/v2/other?animal=whale", nil, "v2-q"},
		{"GET", "http://example.com/v2/other?animal=dolphin", []string{"version", "two"}, "v2-h1-q"},
		{"GET", "http://example.com/v3", nil, "root"},
		{"GET", "http://example.com/re/42/items", nil, "regex"},
		{"GET", "http://example.com/re/x/items", nil, "root"},
		{"GET", "http://example.com/v2/example", []string{"version", "two"}, "v2-exact"},
		{"GET", "http://example.com/re/42/items/more", nil, "root"}, // regexes match the whole path
		{"GET", "http://example.com/search", []string{"x-tier", "gold"}, "search-tier"},
		{"GET", "http://example.com/search?q=portico", []string{"x-tier", "bronze"}, "search-q"},
		{"GET", "http://example.com/search?q=other", nil, "root"},
		{"GET", "http://example.com/search", []string{"X-Tier", "silver", "X-Tier", "gold"}, "search-tier"},
	}
	for _, c := range cases {
		if got := lookupReq(tab, c.method, c.target, c.headers...); got != c.want {
			t.Errorf("%s %s %v: got %s, want %s", c.method, c.target, c.headers, got, c.want)
		}
	}
	if n := len(tab.Routes()); n != 11 {
		t.Errorf("routes = %d, want 11: v2-q-younger has the same match as v2-q and is unreachable", n)
	}
}

func TestIdenticalMatchKeptOnce(t *testing.T) {
	tab := Compile(Config{Routes: []Route{
		named(Route{Path: "/a", Method: "GET"}, "old"),
		named(Route{Path: "/a/", Method: "GET"}, "new"),
	}})
	if got := lookupReq(tab, "GET", "http://example.com/a/b"); got != "old" || len(tab.Routes()) != 1 {
		t.Fatalf("got %s with %d routes", got, len(tab.Routes()))
	}
}

func TestInvalidRegexDropped(t *testing.T) {
	tab := Compile(Config{Routes: []Route{named(Route{Path: "/(", PathMatch: PathRegularExpression}, "bad"),
		named(Route{Path: "/"}, "root")}})
	if got := lookupReq(tab, "GET", "http://example.com/("); got != "root" {
		t.Fatalf("got %s", got)
	}
}

func BenchmarkLookupPredicates(b *testing.B) {
	tab := Compile(Config{Routes: []Route{
		named(Route{Path: "/api", Headers: []ValueMatch{{Name: "version", Value: "2"}}}, "h"),
		named(Route{Path: "/api", QueryParams: []ValueMatch{{Name: "v", Value: "2"}}}, "q"),
		named(Route{Path: "/api"}, "plain"),
	}})
	r := httptest.NewRequest("GET", "http://example.com/api/users?v=3", nil)
	r.Header.Set("Version", "1")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if tab.Lookup("example.com", "/api/users", &httpRequest{r: r}) == nil {
			b.Fatal("no match")
		}
	}
}

// TestQueryValueAgreesWithParseQuery compares the scanner with the
// standard parser.
func TestQueryValueAgreesWithParseQuery(t *testing.T) {
	for _, raw := range []string{"a=1&b=2", "a=1&a=2", "a", "a=", "x%3Dy=1&a=%2F+b", "b=1;a=2", "&&a=3", "a=%zz&a=ok", "c=1"} {
		want := map[string][]string{}
		// url.ParseQuery keeps good pairs even when it reports an error.
		vals, _ := url.ParseQuery(raw)
		for k, v := range vals {
			want[k] = v
		}
		for _, name := range []string{"a", "b", "x=y", "c"} {
			got, ok := queryValue(raw, name)
			w, wok := want[name]
			if ok != wok || (ok && got != w[0]) {
				t.Errorf("%q %q: got %q %v, ParseQuery %v", raw, name, got, ok, w)
			}
		}
	}
}

func FuzzQueryValue(f *testing.F) {
	f.Add("a=1&b=%20x", "b")
	f.Fuzz(func(t *testing.T, raw, name string) {
		vals, _ := url.ParseQuery(raw)
		got, ok := queryValue(raw, name)
		w, wok := vals[name]
		if ok != wok || (ok && got != w[0]) {
			t.Fatalf("%q %q: got %q %v, ParseQuery %v", raw, name, got, ok, w)
		}
	})
}
