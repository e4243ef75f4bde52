package router

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
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

// testPKI issues certificates for the upstream TLS tests.
type testPKI struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// issue makes a certificate signed by parent (self-signed when nil).
func issue(t *testing.T, parent *testPKI, cn string, ca bool, usage x509.ExtKeyUsage) *testPKI {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: ca, BasicConstraintsValid: true}
	if ca {
		tmpl.KeyUsage = x509.KeyUsageCertSign
	} else {
		tmpl.DNSNames = []string{cn}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{usage}
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	}
	signer, signKey := tmpl, key
	if parent != nil {
		signer, signKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &testPKI{cert: c, key: key}
}

func (p *testPKI) certPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.cert.Raw})
}

func (p *testPKI) keyPEM(t *testing.T) []byte {
	der, err := x509.MarshalECPrivateKey(p.key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}

// TestUpstreamTLSClientCert: ingress-nginx's proxy-ssl-* in the router's
// terms: the client certificate a backend requires, verification against
// a CA with a depth, no SNI, and the TLS versions offered.
func TestUpstreamTLSClientCert(t *testing.T) {
	root := issue(t, nil, "root", true, 0)
	inter := issue(t, root, "inter", true, 0)
	direct := issue(t, root, "backend.test", false, x509.ExtKeyUsageServerAuth)
	viaInter := issue(t, inter, "backend.test", false, x509.ExtKeyUsageServerAuth)
	client := issue(t, root, "portico", false, x509.ExtKeyUsageClientAuth)
	clients := x509.NewCertPool()
	clients.AddCert(root.cert)
	serve := func(leaf *testPKI, chain ...*testPKI) string {
		cert := tls.Certificate{Certificate: [][]byte{leaf.cert.Raw}, PrivateKey: leaf.key}
		for _, c := range chain {
			cert.Certificate = append(cert.Certificate, c.cert.Raw)
		}
		s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			cn := ""
			if len(r.TLS.PeerCertificates) > 0 {
				cn = r.TLS.PeerCertificates[0].Subject.CommonName
			}
			fmt.Fprintf(w, "client=%s sni=%q version=%x", cn, r.TLS.ServerName, r.TLS.Version)
		}))
		s.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: clients, ClientAuth: tls.RequireAndVerifyClientCert}
		s.StartTLS()
		t.Cleanup(s.Close)
		return strings.TrimPrefix(s.URL, "https://")
	}
	a, b := serve(direct), serve(viaInter, inter)
	withCert := func(u *UpstreamTLS) *UpstreamTLS {
		u.ClientCertPEM, u.ClientKeyPEM = client.certPEM(), client.keyPEM(t)
		return u
	}
	ca := root.certPEM()
	mk := func(path, ep string, u *UpstreamTLS) Route {
		return Route{Host: "foo.com", HostMatch: HostExact, Path: path,
			Backends: []WeightedBackend{{Backend: &Backend{Name: path, Endpoints: []Endpoint{{ep}}, TLS: u}, Weight: 1}}}
	}
	cfg := Config{Routes: []Route{
		mk("/cert", a, withCert(&UpstreamTLS{ServerName: "backend.test", NoSNI: true, InsecureSkipVerify: true})),
		mk("/no-cert", a, &UpstreamTLS{ServerName: "backend.test", InsecureSkipVerify: true}),
		mk("/verify", a, withCert(&UpstreamTLS{ServerName: "backend.test", NoSNI: true, CAPEM: ca, VerifyDepth: 1})),
		mk("/verify-sni", a, withCert(&UpstreamTLS{ServerName: "backend.test", CAPEM: ca, VerifyDepth: 1})),
		mk("/verify-name", a, withCert(&UpstreamTLS{ServerName: "other.test", NoSNI: true, CAPEM: ca, VerifyDepth: 1})),
		mk("/depth1-inter", b, withCert(&UpstreamTLS{ServerName: "backend.test", NoSNI: true, CAPEM: ca, VerifyDepth: 1})),
		mk("/depth2-inter", b, withCert(&UpstreamTLS{ServerName: "backend.test", NoSNI: true, CAPEM: ca, VerifyDepth: 2})),
		mk("/tls13", a, withCert(&UpstreamTLS{ServerName: "backend.test", InsecureSkipVerify: true, MinVersion: tls.VersionTLS13})),
		mk("/tls12", a, withCert(&UpstreamTLS{ServerName: "backend.test", InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12})),
	}}
	_, front := serveTable(t, cfg, Options{})
	for _, tc := range []struct {
		path string
		code int
		body string
	}{
		{"/cert", 200, `client=portico sni=""`},
		{"/no-cert", 502, ""},
		{"/verify", 200, `client=portico sni=""`},
		{"/verify-sni", 200, `client=portico sni="backend.test"`},
		{"/verify-name", 502, ""},
		{"/depth1-inter", 502, ""},
		{"/depth2-inter", 200, "client=portico"},
		{"/tls13", 200, "version=304"},
		{"/tls12", 200, "version=303"},
	} {
		code, body := get(t, front.URL+tc.path, "foo.com")
		if code != tc.code || !strings.Contains(body, tc.body) {
			t.Errorf("%s: %d %q, want %d %q", tc.path, code, body, tc.code, tc.body)
		}
	}
}
