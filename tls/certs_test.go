package certs

import (
	"crypto/tls"
	"testing"
)

func TestSelfSignedServesTLS(t *testing.T) {
	cert, err := SelfSigned("localhost")
	if err != nil {
		t.Fatal(err)
	}
	cfg := ServerConfig(func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return cert, nil })
	if cfg.MinVersion != tls.VersionTLS12 || cfg.NextProtos[0] != "h2" {
		t.Fatalf("unexpected defaults: %+v", cfg)
	}
	if cert.Leaf.DNSNames[0] != "localhost" {
		t.Fatalf("names %v", cert.Leaf.DNSNames)
	}
}
