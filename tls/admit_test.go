package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"
)

// testCA is a CA that signs client certificates.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return &testCA{cert: c, key: key, pool: pool}
}

func (ca *testCA) client(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "client"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// serverState handshakes with s as the server (SNI sni, "" for none, and
// the client certificate, if any) and returns the server's view of the
// connection, or nil when the handshake failed.
func serverState(t *testing.T, s *Store, sni string, client *tls.Certificate) *tls.ConnectionState {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	done := make(chan *tls.ConnectionState, 1)
	go func() {
		srv := tls.Server(b, s.TLSConfig())
		if err := srv.Handshake(); err != nil {
			done <- nil
			return
		}
		cs := srv.ConnectionState()
		done <- &cs
		_, _ = srv.Read(make([]byte, 1))
	}()
	cfg := &tls.Config{InsecureSkipVerify: true, ServerName: sni} //nolint:gosec // test client
	if client != nil {
		cfg.Certificates = []tls.Certificate{*client}
	}
	cl := tls.Client(a, cfg)
	_ = cl.SetDeadline(time.Now().Add(5 * time.Second))
	go func() { _ = cl.Handshake(); _, _ = cl.Read(make([]byte, 1)) }()
	select {
	case cs := <-done:
		return cs
	case <-time.After(5 * time.Second):
		t.Fatal("handshake timed out")
		return nil
	}
}

// TestAdmitClientCertificatePolicy is the matrix of issue #10: a request
// is served only when its connection's handshake satisfied the
// client-certificate policy of the host it asks for, whatever the SNI.
func TestAdmitClientCertificatePolicy(t *testing.T) {
	caA, caB := newTestCA(t, "CA A"), newTestCA(t, "CA B")
	s := NewStore(ecCert(t, "default.invalid"))
	s.Swap([]Certificate{
		{Hosts: []string{"mutual.test"}, Cert: ecCert(t, "mutual.test"), ClientCAs: caA.pool, ClientCASource: "A"},
		{Hosts: []string{"other-mutual.test"}, Cert: ecCert(t, "other-mutual.test"), ClientCAs: caB.pool, ClientCASource: "B"},
		{Hosts: []string{"*.wild.test"}, Cert: ecCert(t, "*.wild.test"), ClientCAs: caA.pool, ClientCASource: "A"},
		{Hosts: []string{"simple.test"}, Cert: ecCert(t, "simple.test")},
		{Hosts: []string{"*.shared.test"}, Cert: ecCert(t, "*.shared.test")},
	}, nil)
	certA, certB := caA.client(t), caB.client(t)
	noSNI := serverState(t, s, "", nil)
	simple := serverState(t, s, "simple.test", nil)
	mutualA := serverState(t, s, "mutual.test", &certA)
	mutualWrongCA := serverState(t, s, "mutual.test", &certB)
	otherB := serverState(t, s, "other-mutual.test", &certB)
	simpleWithCert := serverState(t, s, "simple.test", &certA) // certificate offered, never requested
	sharedA := serverState(t, s, "a.shared.test", nil)
	wildA := serverState(t, s, "x.wild.test", &certA)
	if mutualWrongCA != nil {
		t.Fatal("handshake for mutual.test with a certificate of another CA succeeded")
	}
	for _, tc := range []struct {
		name string
		cs   *tls.ConnectionState
		host string
		want Admission
	}{
		{"no SNI, mTLS host", noSNI, "mutual.test", Misdirected},
		{"no SNI, mTLS host in capitals with port stripped", noSNI, "MUTUAL.TEST", Misdirected},
		{"no SNI, mTLS host with trailing dot", noSNI, "mutual.test.", Misdirected},
		{"no SNI, wildcard mTLS host", noSNI, "y.wild.test", Misdirected},
		{"no SNI, plain host", noSNI, "simple.test", Admitted},
		{"no SNI, unknown host", noSNI, "nowhere.test", Admitted},
		{"SNI simple, Host mutual", simple, "mutual.test", Misdirected},
		{"SNI simple with unrequested cert, Host mutual", simpleWithCert, "mutual.test", Misdirected},
		{"SNI simple, Host simple", simple, "simple.test", Admitted},
		{"SNI simple, Host SIMPLE.TEST", simple, "SIMPLE.TEST", Admitted},
		{"SNI mutual with cert, Host mutual", mutualA, "mutual.test", Admitted},
		{"SNI mutual with cert, Host wildcard host of the same CA (cert does not cover)", mutualA, "x.wild.test", Misdirected},
		{"SNI wildcard with cert, other name under it", wildA, "z.wild.test", Admitted},
		{"SNI mutual with CA A cert, Host of CA B", mutualA, "other-mutual.test", Misdirected},
		{"SNI CA B, Host of CA A", otherB, "mutual.test", Misdirected},
		{"SNI mutual with cert, Host simple", mutualA, "simple.test", Misdirected},
		{"SNI shared wildcard, sibling name", sharedA, "b.shared.test", Admitted},
		{"SNI shared wildcard, name it does not cover", sharedA, "simple.test", Misdirected},
		{"cleartext, mTLS host", nil, "mutual.test", Forbidden},
		{"cleartext, plain host", nil, "simple.test", Admitted},
	} {
		if tc.cs == nil && tc.name[:9] != "cleartext" {
			t.Fatalf("%s: handshake failed", tc.name)
		}
		if got := s.Admit(tc.cs, tc.host); got != tc.want {
			t.Errorf("%s: Admit(%q) = %d, want %d", tc.name, tc.host, got, tc.want)
		}
	}

	// A policy added after the handshake is enforced on the connections
	// made before it (a swap cannot open a window).
	s2 := NewStore(ecCert(t, "default.invalid"))
	s2.Swap([]Certificate{{Hosts: []string{"late.test"}, Cert: ecCert(t, "late.test")}}, nil)
	before := serverState(t, s2, "late.test", nil)
	s2.Swap([]Certificate{{Hosts: []string{"late.test"}, Cert: ecCert(t, "late.test"), ClientCAs: caA.pool, ClientCASource: "A"}}, nil)
	if got := s2.Admit(before, "late.test"); got != Misdirected {
		t.Errorf("connection made before the policy: Admit = %d, want Misdirected", got)
	}
}

// TestAdmitPortWidePolicy: a certificate without hosts that requires
// client certificates (Istio MUTUAL for "*") covers every name without an
// entry of its own: such a port fails closed.
func TestAdmitPortWidePolicy(t *testing.T) {
	ca := newTestCA(t, "CA")
	s := NewStore(ecCert(t, "default.invalid"))
	s.Swap([]Certificate{
		{Cert: ecCert(t, "any.test"), ClientCAs: ca.pool, ClientCASource: "A"},
		{Hosts: []string{"own.test"}, Cert: ecCert(t, "own.test")},
	}, nil)
	cert := ca.client(t)
	if cs := serverState(t, s, "whatever.test", nil); cs != nil {
		t.Fatal("handshake without a client certificate succeeded on a port-wide MUTUAL server")
	}
	withCert := serverState(t, s, "whatever.test", &cert)
	if withCert == nil {
		t.Fatal("handshake with a client certificate failed")
	}
	if got := s.Admit(withCert, "whatever.test"); got != Admitted {
		t.Errorf("with certificate: %d", got)
	}
	noSNI := serverState(t, s, "own.test", nil)
	if got := s.Admit(noSNI, "other.test"); got != Misdirected {
		t.Errorf("a host without an entry, asked on a connection without certificate: %d, want Misdirected", got)
	}
	if got := s.Admit(noSNI, "own.test"); got != Admitted {
		t.Errorf("a host with its own entry: %d", got)
	}
}
