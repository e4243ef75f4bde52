package router

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// sniMustMatch admits a TLS request only when its SNI (if any) is its host.
type sniMustMatch struct{}

func (sniMustMatch) Admit(_ string, cs *tls.ConnectionState, host string) int {
	if cs != nil && cs.ServerName != "" && !strings.EqualFold(cs.ServerName, host) {
		return http.StatusMisdirectedRequest
	}
	return 0
}

func TestRedirectHSTSAndMisdirected(t *testing.T) {
	a := backendServer(t, "a")
	bk := &Backend{Name: "a", Endpoints: []Endpoint{{addr(a)}}}
	cfg := Config{Routes: []Route{
		{Host: "secure.example.com", HostMatch: HostExact, Path: "/", Backends: []WeightedBackend{{Backend: bk, Weight: 1}},
			HTTPSRedirect: true, HSTS: "max-age=60"},
		{Host: "plain.example.com", HostMatch: HostExact, Path: "/", Backends: []WeightedBackend{{Backend: bk, Weight: 1}}},
	}}
	rt := New(Options{HTTPSPort: 8443, Certs: sniMustMatch{}})
	rt.Swap(Compile(cfg))

	// Plain HTTP to a TLS host: 308 to https, port and query kept.
	w := httptest.NewRecorder()
	rt.ServeHTTP(w, httptest.NewRequest("POST", "http://secure.example.com:8080/a/b?x=1", nil))
	if w.Code != 308 || w.Header().Get("Location") != "https://secure.example.com:8443/a/b?x=1" {
		t.Fatalf("redirect: %d %q", w.Code, w.Header().Get("Location"))
	}
	w = httptest.NewRecorder()
	rt.ServeHTTP(w, httptest.NewRequest("GET", "http://plain.example.com/", nil))
	if w.Code != 200 || w.Header().Get("Strict-Transport-Security") != "" {
		t.Fatalf("plain host: %d hsts %q", w.Code, w.Header().Get("Strict-Transport-Security"))
	}

	front := httptest.NewUnstartedServer(rt)
	front.StartTLS()
	defer front.Close()
	get := func(sni, host string) (*http.Response, string) {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{ServerName: sni, InsecureSkipVerify: true}}}
		req, _ := http.NewRequest("GET", front.URL+"/", nil)
		req.Host = host
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := get("secure.example.com", "secure.example.com")
	if resp.StatusCode != 200 || resp.Header.Get("Strict-Transport-Security") != "max-age=60" || !strings.Contains(body, "xfp=https") {
		t.Fatalf("HTTPS: %d hsts %q body %q", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"), body)
	}
	if resp, _ := get("plain.example.com", "secure.example.com"); resp.StatusCode != http.StatusMisdirectedRequest {
		t.Fatalf("mismatched SNI/Host: %d, want 421", resp.StatusCode)
	}
}
