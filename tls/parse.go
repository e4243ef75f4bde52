package certs

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"sync"
)

// ParseCache memoises ParseKeyPair by the bytes parsed, so rebuilding the
// configuration does not re-parse unchanged keys. A nil *ParseCache parses
// every time. It is safe for concurrent use; entries not used by the last
// Sweep generation are dropped by Sweep.
type ParseCache struct {
	mu   sync.Mutex
	m    map[[32]byte]*parsed
	used map[[32]byte]bool
}

type parsed struct {
	cert *tls.Certificate
	err  error
}

// NewParseCache returns an empty cache.
func NewParseCache() *ParseCache {
	return &ParseCache{m: map[[32]byte]*parsed{}, used: map[[32]byte]bool{}}
}

// ParseKeyPair parses a PEM certificate chain and private key (RSA, ECDSA or
// Ed25519), checks they match, and sets Leaf.
func (pc *ParseCache) ParseKeyPair(certPEM, keyPEM []byte) (*tls.Certificate, error) {
	if pc == nil {
		return parseKeyPair(certPEM, keyPEM)
	}
	h := sha256.New()
	h.Write(certPEM)
	h.Write([]byte{0})
	h.Write(keyPEM)
	var key [32]byte
	copy(key[:], h.Sum(nil))
	pc.mu.Lock()
	defer pc.mu.Unlock()
	pc.used[key] = true
	if p, ok := pc.m[key]; ok {
		return p.cert, p.err
	}
	c, err := parseKeyPair(certPEM, keyPEM)
	pc.m[key] = &parsed{c, err}
	return c, err
}

// Sweep forgets entries not parsed since the previous Sweep.
func (pc *ParseCache) Sweep() {
	if pc == nil {
		return
	}
	pc.mu.Lock()
	defer pc.mu.Unlock()
	for k := range pc.m {
		if !pc.used[k] {
			delete(pc.m, k)
		}
	}
	pc.used = map[[32]byte]bool{}
}

func parseKeyPair(certPEM, keyPEM []byte) (*tls.Certificate, error) {
	if len(certPEM) == 0 {
		return nil, errors.New("tls.crt is empty")
	}
	if len(keyPEM) == 0 {
		return nil, errors.New("tls.key is empty")
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	if c.Leaf == nil {
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			return nil, err
		}
		c.Leaf = leaf
	}
	return &c, nil
}

// ParseCAs parses a PEM bundle of CA certificates into a pool.
func ParseCAs(data []byte) (*x509.CertPool, error) {
	cas, err := ParseCACertificates(data)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, c := range cas {
		pool.AddCert(c)
	}
	return pool, nil
}

// ParseCACertificates parses a PEM bundle of CA certificates; it fails
// when the bundle holds none.
func ParseCACertificates(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for len(data) > 0 {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing CA certificate: %w", err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM CERTIFICATE block found")
	}
	return out, nil
}
