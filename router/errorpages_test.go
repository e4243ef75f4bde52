package router

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// errorBackend answers like ingress-nginx's custom error pages example:
// the status of X-Code, a body naming what it was sent.
func errorBackend(t *testing.T) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var code int
		_, _ = fmt.Sscan(r.Header.Get("X-Code"), &code)
		if code == 0 {
			code = 404
		}
		w.Header().Set("X-Error-Page", "yes")
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(code)
		fmt.Fprintf(w, "page %s %s code=%s format=%s orig=%s ns=%s ing=%s svc=%s port=%s rid=%d xff=%s body=%d",
			r.Method, r.RequestURI, r.Header.Get("X-Code"), r.Header.Get("X-Format"), r.Header.Get("X-Original-URI"),
			r.Header.Get("X-Namespace"), r.Header.Get("X-Ingress-Name"), r.Header.Get("X-Service-Name"),
			r.Header.Get("X-Service-Port"), len(r.Header.Get("X-Request-ID")), r.Header.Get("X-Forwarded-For"), r.ContentLength)
	}))
	t.Cleanup(s.Close)
	return s
}

// TestErrorPages: ingress-nginx's custom-http-errors and default-backend in
// the router: listed statuses are replaced by the error backend's answer
// to "/" with the error headers, others pass; a backend without endpoints
// sends its requests to the error backend with X-Code 503; on HTTP/1 (the
// configured engine), HTTP/2, and through net/http's transport (a TLS
// backend).
func TestErrorPages(t *testing.T) {
	rec := &recordingBackend{}
	be := httptest.NewServer(rec)
	defer be.Close()
	tlsBe := httptest.NewTLSServer(rec)
	defer tlsBe.Close()
	eb := errorBackend(t)
	pages := func(codes ...int) *ErrorPages {
		return &ErrorPages{Codes: codes, Backend: &Backend{Name: "errors", Endpoints: []Endpoint{{addr(eb)}}}, WhenUnavailable: true,
			Namespace: "shop", Ingress: "web", Service: "app", ServicePort: "80"}
	}
	app := &Backend{Name: "app", Endpoints: []Endpoint{{addr(be)}}}
	cfg := Config{Routes: []Route{
		{Host: "a.test", HostMatch: HostExact, Path: "/", Backends: []WeightedBackend{{Backend: app, Weight: 1}}, ErrorPages: pages(404, 503),
			Rewrite: &Rewrite{Path: &PathModifier{ReplacePrefix: true, Value: "/status"}}, ResponseHeaders: &HeaderOps{Set: []Header{{"X-Route", "a"}}}},
		{Host: "empty.test", HostMatch: HostExact, Path: "/", Backends: []WeightedBackend{{Backend: &Backend{Name: "empty"}, Weight: 1}}, ErrorPages: pages(404)},
		{Host: "tls.test", HostMatch: HostExact, Path: "/", ErrorPages: pages(418),
			Backends: []WeightedBackend{{Backend: &Backend{Name: "tls", Endpoints: []Endpoint{{strings.TrimPrefix(tlsBe.URL, "https://")}},
				TLS: &UpstreamTLS{ServerName: "example.com", InsecureSkipVerify: true}}, Weight: 1}}},
		{Host: "down.test", HostMatch: HostExact, Path: "/", Backends: []WeightedBackend{{Backend: app, Weight: 1}},
			ErrorPages: &ErrorPages{Codes: []int{404}, Backend: &Backend{Name: "no-errors"}}},
		{Host: "builtin.test", HostMatch: HostExact, Path: "/", Backends: []WeightedBackend{{Backend: app, Weight: 1}},
			ErrorPages: &ErrorPages{Codes: []int{500}, Backend: &Backend{Name: "builtin", Status: 404, Reason: "default backend - 404"}}},
	}}
	_, front := serveTable(t, cfg, Options{})
	h1 := &http.Client{}
	for _, client := range []struct {
		name string
		c    *http.Client
	}{{"http1", h1}, {"h2c", h2cClient()}} {
		for _, c := range []struct {
			method, host, path string
			code               int
			body, route        string
		}{
			{"GET", "a.test", "/404?x=1", 404, "page GET /?x=1 code=404 format=text/html orig=/404?x=1 ns=shop ing=web svc=app port=80 rid=32 xff=127.0.0.1 body=0", "a"},
			{"POST", "a.test", "/503", 503, "page POST / code=503 ", "a"},
			{"GET", "a.test", "/500", 500, "", "a"}, // not listed: the backend's answer
			{"GET", "a.test", "/200", 200, "", "a"},
			{"GET", "empty.test", "/x?y", 503, "page GET /x?y code=503 format=text/html orig=/x?y ns=shop ing=web svc=app port=80 rid=32", ""},
			{"GET", "tls.test", "/status/418", 418, "page GET / code=418 ", ""},
			{"GET", "down.test", "/status/404", 404, "Not Found\n", ""}, // the error backend has no endpoint
			{"GET", "builtin.test", "/status/500", 404, "default backend - 404\n", ""},
		} {
			req, _ := http.NewRequest(c.method, front.URL+c.path, strings.NewReader("body"))
			req.Host = c.host
			req.Header.Set("Accept", "text/html")
			resp, err := client.c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.code || !strings.HasPrefix(string(b), c.body) || resp.Header.Get("X-Route") != c.route {
				t.Errorf("%s %s %s%s: %d %q X-Route %q, want %d %q…", client.name, c.method, c.host, c.path, resp.StatusCode, b,
					resp.Header.Get("X-Route"), c.code, c.body)
			}
			if strings.HasPrefix(c.body, "page") && resp.Header.Get("X-Error-Page") != "yes" {
				t.Errorf("%s %s%s: the error backend's headers are not sent", client.name, c.host, c.path)
			}
		}
	}
	// A client's own X-Request-ID is passed on when plausible.
	req, _ := http.NewRequest("GET", front.URL+"/404", nil)
	req.Host = "a.test"
	req.Header.Set("X-Request-ID", "abc-123")
	resp, err := h1.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "rid=7 ") {
		t.Errorf("client request id: %q", b)
	}
}

func TestCheckErrorPages(t *testing.T) {
	for _, e := range []*ErrorPages{
		{Codes: []int{404}},
		{Codes: []int{200}, Backend: &Backend{Name: "x"}},
		{Codes: []int{404}, Backend: &Backend{Name: "x"}, Ingress: "a\nb"},
	} {
		if CheckErrorPages(e) == nil {
			t.Errorf("%+v accepted", e)
		}
	}
	if err := CheckErrorPages(&ErrorPages{Codes: []int{300, 599}, Backend: &Backend{Name: "x"}}); err != nil {
		t.Error(err)
	}
}
