package router

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// tlsBackend starts a loopback HTTPS server (certificate for example.com)
// that reports the SNI and protocol it saw, and returns it with its CA.
func tlsBackend(t *testing.T, h2 bool) (*httptest.Server, []byte) {
	t.Helper()
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "sni=%s proto=%s host=%s", r.TLS.ServerName, r.Proto, r.Host)
	}))
	s.EnableHTTP2 = h2
	s.StartTLS()
	t.Cleanup(s.Close)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
	return s, ca
}

func TestUpstreamTLS(t *testing.T) {
	s, ca := tlsBackend(t, false)
	s2, ca2 := tlsBackend(t, true)
	ep := []Endpoint{{strings.TrimPrefix(s.URL, "https://")}}
	ep2 := []Endpoint{{strings.TrimPrefix(s2.URL, "https://")}}
	mk := func(path string, b *Backend) Route {
		return Route{Host: "foo.com", HostMatch: HostExact, Path: path, Backends: []WeightedBackend{{Backend: b, Weight: 1}}}
	}
	cfg := Config{Routes: []Route{
		mk("/ok", &Backend{Name: "ok", Endpoints: ep, TLS: &UpstreamTLS{ServerName: "example.com", CAPEM: ca}}),
		mk("/wrong-host", &Backend{Name: "wrong-host", Endpoints: ep, TLS: &UpstreamTLS{ServerName: "example.org", CAPEM: ca}}),
		mk("/wrong-ca", &Backend{Name: "wrong-ca", Endpoints: ep, TLS: &UpstreamTLS{ServerName: "example.com", CAPEM: otherCA(t)}}),
		mk("/system", &Backend{Name: "system", Endpoints: ep, TLS: &UpstreamTLS{ServerName: "example.com"}}),
		mk("/san", &Backend{Name: "san", Endpoints: ep, TLS: &UpstreamTLS{ServerName: "other.test", CAPEM: ca,
			SubjectAltNames: []SubjectAltName{{URI: "spiffe://x/y"}, {Hostname: "example.com"}}}}),
		mk("/san-miss", &Backend{Name: "san-miss", Endpoints: ep, TLS: &UpstreamTLS{ServerName: "example.com", CAPEM: ca,
			SubjectAltNames: []SubjectAltName{{Hostname: "other.test"}}}}),
		mk("/h2", &Backend{Name: "h2", Protocol: H2C, Endpoints: ep2, TLS: &UpstreamTLS{ServerName: "example.com", CAPEM: ca2}}),
		mk("/bad-pem", &Backend{Name: "bad-pem", Endpoints: ep, TLS: &UpstreamTLS{ServerName: "example.com", CAPEM: []byte("junk")}}),
	}}
	_, front := serveTable(t, cfg, Options{})
	for _, tc := range []struct {
		path string
		code int
		body string
	}{
		{"/ok", 200, "sni=example.com proto=HTTP/1.1 host=foo.com"},
		{"/wrong-host", 502, ""},
		{"/wrong-ca", 502, ""},
		{"/system", 502, ""},
		{"/san", 200, "sni=other.test proto=HTTP/1.1"},
		{"/san-miss", 502, ""},
		{"/h2", 200, "sni=example.com proto=HTTP/2.0"},
		{"/bad-pem", 502, ""},
	} {
		code, body := get(t, front.URL+tc.path, "foo.com")
		if code != tc.code || !strings.Contains(body, tc.body) {
			t.Errorf("%s: %d %q, want %d %q", tc.path, code, body, tc.code, tc.body)
		}
	}
}

func TestUpstreamTLSPoolsShared(t *testing.T) {
	tr := NewTransports()
	a := &Backend{Name: "a", TLS: &UpstreamTLS{ServerName: "x", CAPEM: nil}}
	b := &Backend{Name: "b", TLS: &UpstreamTLS{ServerName: "x", CAPEM: nil}}
	c := &Backend{Name: "c", TLS: &UpstreamTLS{ServerName: "y", CAPEM: nil}}
	ra, _, _ := tr.roundTripper(a)
	rb, _, _ := tr.roundTripper(b)
	rc, _, _ := tr.roundTripper(c)
	if ra != rb || ra == rc {
		t.Fatalf("pools: equal settings must share one, different ones must not")
	}
}

// otherCA is a CA that signed nothing the test servers present.
func otherCA(t *testing.T) []byte {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "other"}, IsCA: true,
		BasicConstraintsValid: true, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
