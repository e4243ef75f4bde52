package certs

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"testing"
	"time"
)

func rsaCert(t *testing.T, names ...string) *tls.Certificate {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

func ecCert(t *testing.T, names ...string) *tls.Certificate {
	t.Helper()
	c, err := SelfSigned(names...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// handshake connects to a TLS server using s with the given SNI and
// returns the certificate the server presented.
func handshake(t *testing.T, s *Store, sni string, cfg *tls.Config) (*x509.Certificate, error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		tc := tls.Server(c, s.TLSConfig())
		_ = tc.Handshake()
		_, _ = tc.Read(make([]byte, 1))
	}()
	if cfg == nil {
		cfg = &tls.Config{}
	}
	cfg.ServerName, cfg.InsecureSkipVerify = sni, true
	c, err := tls.Dial("tcp", ln.Addr().String(), cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	// TLS 1.3 reports client-certificate rejection on the first read.
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := c.Read(make([]byte, 1)); err != nil {
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			return nil, err
		}
	}
	return c.ConnectionState().PeerCertificates[0], nil
}

func TestSNISelection(t *testing.T) {
	def := ecCert(t, "default.invalid")
	s := NewStore(def)
	exact, wild := ecCert(t, "shop.example.com"), ecCert(t, "*.example.com")
	s.Swap([]Certificate{
		{Hosts: []string{"shop.example.com"}, Cert: exact, Source: "Secret/a/exact"},
		{Hosts: []string{"*.example.com"}, Cert: wild, Source: "Secret/a/wild"},
	}, nil)
	cases := map[string]*tls.Certificate{
		"shop.example.com":  exact,
		"SHOP.example.com":  exact,
		"blog.example.com":  wild,
		"a.b.example.com":   def, // X.509 wildcards cover one label
		"example.com":       def,
		"unknown.invalid":   def,
		"":                  def,
		"shop.example.com.": exact,
	}
	for sni, want := range cases {
		got, err := handshake(t, s, sni, nil)
		if err != nil {
			t.Fatalf("%q: %v", sni, err)
		}
		if !got.Equal(want.Leaf) {
			t.Errorf("SNI %q: served the certificate for %v, want the one for %v", sni, got.DNSNames, want.Leaf.DNSNames)
		}
	}
}

func TestRotationServedOnNextHandshake(t *testing.T) {
	s := NewStore(ecCert(t, "default.invalid"))
	v1, v2 := ecCert(t, "rot.example.com"), ecCert(t, "rot.example.com")
	s.Swap([]Certificate{{Hosts: []string{"rot.example.com"}, Cert: v1}}, nil)
	got, _ := handshake(t, s, "rot.example.com", nil)
	if got.SerialNumber.Cmp(v1.Leaf.SerialNumber) != 0 {
		t.Fatal("first certificate not served")
	}
	s.Swap([]Certificate{{Hosts: []string{"rot.example.com"}, Cert: v2}}, nil)
	got, _ = handshake(t, s, "rot.example.com", nil)
	if got.SerialNumber.Cmp(v2.Leaf.SerialNumber) != 0 {
		t.Fatal("rotated certificate not served")
	}
}

func TestECDSAAndRSAForOneHost(t *testing.T) {
	s := NewStore(ecCert(t, "default.invalid"))
	ec, rs := ecCert(t, "dual.example.com"), rsaCert(t, "dual.example.com")
	s.Swap([]Certificate{{Hosts: []string{"dual.example.com"}, Cert: ec}, {Hosts: []string{"dual.example.com"}, Cert: rs}}, nil)
	got, err := handshake(t, s, "dual.example.com", nil)
	if err != nil || got.PublicKeyAlgorithm != x509.ECDSA {
		t.Fatalf("modern client: %v %v", got.PublicKeyAlgorithm, err)
	}
	rsaOnly := &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}}
	got, err = handshake(t, s, "dual.example.com", rsaOnly)
	if err != nil || got.PublicKeyAlgorithm != x509.RSA {
		t.Fatalf("RSA-only client: %v %v", got.PublicKeyAlgorithm, err)
	}
}

func TestClientCertificatesRequired(t *testing.T) {
	ca := ecCert(t, "Client CA")
	ca.Leaf.IsCA = true
	pool := x509.NewCertPool()
	pool.AddCert(ca.Leaf)
	s := NewStore(ecCert(t, "default.invalid"))
	s.Swap([]Certificate{
		{Hosts: []string{"mtls.example.com"}, Cert: ecCert(t, "mtls.example.com"), ClientCAs: pool, ClientCASource: "Secret/a/ca"},
		{Hosts: []string{"open.example.com"}, Cert: ecCert(t, "open.example.com")},
	}, nil)
	if _, err := handshake(t, s, "mtls.example.com", nil); err == nil {
		t.Fatal("handshake without a client certificate succeeded")
	}
	if _, err := handshake(t, s, "open.example.com", nil); err != nil {
		t.Fatalf("host without mTLS: %v", err)
	}
}

func TestParseCache(t *testing.T) {
	pc := NewParseCache()
	if _, err := pc.ParseKeyPair(nil, nil); err == nil {
		t.Fatal("empty input accepted")
	}
	if _, err := pc.ParseKeyPair([]byte("junk"), []byte("junk")); err == nil {
		t.Fatal("junk accepted")
	}
	pc.Sweep()
	pc.Sweep()
	if len(pc.m) != 0 {
		t.Fatalf("sweep kept %d unused entries", len(pc.m))
	}
}
