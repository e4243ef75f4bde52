package router

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestCORS(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Trace", "1")
	}))
	defer be.Close()
	bk := &Backend{Name: "b", Endpoints: []Endpoint{{addr(be)}}}
	strict := &CORS{AllowOrigins: []string{"https://app.example.com", "https://*.example.org:8443"},
		AllowMethods: []string{"GET", "PUT"}, AllowHeaders: []string{"X-Token"}, ExposeHeaders: []string{"X-Trace"}, MaxAge: 600}
	open := &CORS{AllowOrigins: []string{"*"}, AllowMethods: []string{"*"}, AllowHeaders: []string{"*"}}
	creds := &CORS{AllowOrigins: []string{"*"}, AllowMethods: []string{"*"}, AllowHeaders: []string{"*"}, ExposeHeaders: []string{"*"}, AllowCredentials: true}
	_, front := serveTable(t, Config{Routes: []Route{
		{Path: "/strict", Backends: []WeightedBackend{{Backend: bk, Weight: 1}}, CORS: strict},
		{Path: "/open", Backends: []WeightedBackend{{Backend: bk, Weight: 1}}, CORS: open},
		{Path: "/creds", Backends: []WeightedBackend{{Backend: bk, Weight: 1}}, CORS: creds},
	}}, Options{})
	do := func(method, path string, hdr ...string) *http.Response {
		req, _ := http.NewRequest(method, front.URL+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	type want map[string]string
	cases := []struct {
		name   string
		resp   *http.Response
		code   int
		header want
	}{
		{"preflight allowed", do("OPTIONS", "/strict", "Origin", "https://app.example.com", hReqMethod, "PUT", hReqHeaders, "X-Token"), 200,
			want{hAllowOrigin: "https://app.example.com", hAllowMethods: "GET, PUT", hAllowHeaders: "X-Token", hMaxAge: "600", hAllowCreds: "", "X-Trace": ""}},
		{"preflight wildcard origin with port", do("OPTIONS", "/strict", "Origin", "https://a.b.example.org:8443", hReqMethod, "GET"), 200,
			want{hAllowOrigin: "https://a.b.example.org:8443"}},
		{"preflight wrong port", do("OPTIONS", "/strict", "Origin", "https://a.example.org", hReqMethod, "GET"), 200,
			want{hAllowOrigin: "", hAllowMethods: ""}},
		{"preflight denied origin", do("OPTIONS", "/strict", "Origin", "https://evil.example", hReqMethod, "GET"), 200,
			want{hAllowOrigin: "", hAllowMethods: ""}},
		{"actual request", do("GET", "/strict", "Origin", "https://app.example.com"), 200,
			want{hAllowOrigin: "https://app.example.com", hExposeHeaders: "X-Trace", "X-Trace": "1"}},
		{"actual request, other origin", do("GET", "/strict", "Origin", "http://app.example.com"), 200,
			want{hAllowOrigin: "", "X-Trace": "1"}},
		{"no Origin: plain proxying", do("OPTIONS", "/strict"), 200, want{hAllowOrigin: "", "X-Trace": "1"}},
		{"open preflight", do("OPTIONS", "/open", "Origin", "https://x.test", hReqMethod, "DELETE", hReqHeaders, "A, B"), 200,
			want{hAllowOrigin: "*", hAllowMethods: "*", hAllowHeaders: "*", hMaxAge: "5"}},
		{"credentials echo instead of *", do("OPTIONS", "/creds", "Origin", "https://x.test", hReqMethod, "DELETE", hReqHeaders, "A, B"), 200,
			want{hAllowOrigin: "https://x.test", hAllowMethods: "DELETE", hAllowHeaders: "A, B", hAllowCreds: "true"}},
		{"credentials: no * expose", do("GET", "/creds", "Origin", "https://x.test"), 200,
			want{hAllowOrigin: "https://x.test", hAllowCreds: "true", hExposeHeaders: ""}},
	}
	for _, c := range cases {
		if c.resp.StatusCode != c.code {
			t.Errorf("%s: status %d", c.name, c.resp.StatusCode)
		}
		for k, v := range c.header {
			if got := c.resp.Header.Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", c.name, k, got, v)
			}
		}
	}
}
