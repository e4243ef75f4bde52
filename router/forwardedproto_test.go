package router

import (
	"net/http"
	"net/netip"
	"testing"
)

// TestForwardedProtoRedirect: with ForwardedProto, a trusted proxy's
// X-Forwarded-Proto is the scheme the HTTPS redirect looks at (redirected
// only when it says http); an untrusted peer's header changes nothing, and
// neither does a route without ForwardedProto.
func TestForwardedProtoRedirect(t *testing.T) {
	be := backendServer(t, "app")
	bk := &Backend{Name: "app", Endpoints: []Endpoint{{addr(be)}}}
	cfg := Config{Routes: []Route{
		{Host: "fwd.test", HostMatch: HostExact, Path: "/", HTTPSRedirect: true, ForwardedProto: true,
			Backends: []WeightedBackend{{Backend: bk, Weight: 1}}},
		{Host: "plain.test", HostMatch: HostExact, Path: "/", HTTPSRedirect: true,
			Backends: []WeightedBackend{{Backend: bk, Weight: 1}}},
	}}
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	_, trusted := serveTable(t, cfg, Options{TrustedProxies: loopback})
	_, untrusted := serveTable(t, cfg, Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}})
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, c := range []struct {
		name, url, host, proto string
		want                   int
	}{
		{"trusted https", trusted.URL, "fwd.test", "https", 200},
		{"trusted HTTPS", trusted.URL, "fwd.test", " HTTPS", 200},
		{"trusted http", trusted.URL, "fwd.test", "http", 308},
		{"trusted other scheme", trusted.URL, "fwd.test", "wss", 200}, // as ingress-nginx: only "http" redirects
		{"trusted none", trusted.URL, "fwd.test", "", 308},
		{"untrusted https", untrusted.URL, "fwd.test", "https", 308},
		{"route without ForwardedProto", trusted.URL, "plain.test", "https", 308},
	} {
		req, _ := http.NewRequest("GET", c.url+"/x", nil)
		req.Host = c.host
		if c.proto != "" {
			req.Header.Set("X-Forwarded-Proto", c.proto)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s: %d, want %d", c.name, resp.StatusCode, c.want)
		}
	}
}
