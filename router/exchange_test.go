package router

import (
	"slices"
	"strings"
	"testing"
)

// sliceHeaders is a header store unlike net/http's, as a second engine
// would have: the filters must work on it unchanged.
type sliceHeaders struct{ kv [][2]string }

func (h *sliceHeaders) Get(n string) string {
	if v := h.Values(n); len(v) > 0 {
		return v[0]
	}
	return ""
}

func (h *sliceHeaders) Values(n string) []string {
	var out []string
	for _, p := range h.kv {
		if strings.EqualFold(p[0], n) {
			out = append(out, p[1])
		}
	}
	return out
}

func (h *sliceHeaders) Set(n, v string) { h.Del(n); h.Add(n, v) }
func (h *sliceHeaders) Add(n, v string) { h.kv = append(h.kv, [2]string{n, v}) }
func (h *sliceHeaders) Del(n string) {
	h.kv = slices.DeleteFunc(h.kv, func(p [2]string) bool { return strings.EqualFold(p[0], n) })
}

// TestFiltersOnOwnView runs the request filters on an Exchange backed by
// a non-net/http header store.
func TestFiltersOnOwnView(t *testing.T) {
	h := &sliceHeaders{}
	h.Add("origin", "https://app.example.com")
	h.Add("access-control-request-method", "PUT")
	h.Add("x-drop", "1")
	x := &Exchange{Method: "OPTIONS", TLS: true, Host: "a.example.com:8443", Path: "/api/v1/items", RawQuery: "q=1", Header: h}

	(&HeaderOps{Set: []Header{{Name: "X-Set", Value: "s"}}, Add: []Header{{Name: "X-Add", Value: "a"}}, Remove: []string{"X-Drop"}}).apply(h)
	if h.Get("x-set") != "s" || h.Get("x-add") != "a" || h.Get("x-drop") != "" {
		t.Fatalf("header ops: %v", h.kv)
	}

	route := &CompiledRoute{Route: &Route{Path: "/api", PathMatch: PathPrefix,
		Rewrite: &Rewrite{Hostname: "internal", Path: &PathModifier{ReplacePrefix: true, Value: "/v2"}}}}
	rx := *x
	route.rewriteRequest(&rx)
	if rx.Host != "internal" || rx.Path != "/v2/v1/items" || !rx.rewritten {
		t.Fatalf("rewrite: %+v", rx)
	}

	route.Redirect = &Redirect{Hostname: "b.example.com", StatusCode: 301}
	if loc, code := route.redirectTo(x); loc != "https://b.example.com:8443/api/v1/items?q=1" || code != 301 {
		t.Fatalf("redirect: %s %d", loc, code)
	}
	if loc := httpsLocation(&Exchange{Host: "a.example.com", Path: "/p", Header: h}, 8443); loc != "https://a.example.com:8443/p" {
		t.Fatalf("https redirect: %s", loc)
	}

	resp := &sliceHeaders{}
	c := &CORS{AllowOrigins: []string{"https://*.example.com"}, AllowMethods: []string{"GET", "PUT"}}
	if !c.preflight(x, resp) || resp.Get("access-control-allow-origin") != "https://app.example.com" ||
		resp.Get("access-control-allow-methods") != "GET, PUT" {
		t.Fatalf("preflight: %v", resp.kv)
	}

	bal := &Balancing{Policy: ConsistentHash, HashCookie: "sid"}
	h.Add("Cookie", "a=1; sid=\"abc\"")
	k1, ok1 := requestHash(bal, x)
	h.Set("Cookie", "sid=abc")
	k2, ok2 := requestHash(bal, x)
	if !ok1 || !ok2 || k1 != k2 {
		t.Fatalf("cookie hash key: %v %v %v %v", k1, ok1, k2, ok2)
	}
}
