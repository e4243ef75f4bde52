package certs

import (
	"crypto/tls"
	"crypto/x509"
	"strings"
	"sync/atomic"
)

// Certificate is one certificate to serve for Hosts (exact names, or
// "*.example.com" covering exactly one label, as X.509 wildcards do).
type Certificate struct {
	Hosts []string `json:"hosts"`
	// Cert is parsed, with Leaf set.
	Cert *tls.Certificate `json:"-"`
	// Source names where the certificate came from, e.g. "Secret/ns/name".
	Source string `json:"source"`
	// ClientCAs, when set, makes client certificates signed by them
	// required for Hosts (frontend mTLS). ClientCASource names them.
	ClientCAs      *x509.CertPool `json:"-"`
	ClientCASource string         `json:"clientCASource,omitempty"`
	// Managed says the certificate comes from the ACME manager set with
	// SetACME; Cert is nil.
	Managed bool `json:"managed,omitempty"`
}

// ACMEALPN is the ALPN protocol of the TLS-ALPN-01 challenge (RFC 8737).
const ACMEALPN = "acme-tls/1"

// Store chooses the certificate for each TLS handshake by SNI from an
// immutable index that Swap replaces atomically, so a rotated certificate is
// served from the next handshake on, without a restart or a dropped
// connection. Store is safe for concurrent use.
type Store struct {
	idx  atomic.Pointer[index]
	base *tls.Config
	acme atomic.Pointer[func(*tls.ClientHelloInfo) (*tls.Certificate, error)]
}

// index maps names to the certificates that serve them. Several
// certificates may serve a name (an ECDSA and an RSA one); the first the
// client supports wins.
type index struct {
	exact    map[string]*hostCerts
	wildcard map[string]*hostCerts // "example.com" for "*.example.com"
	def      *tls.Certificate
	// any, when set, is the policy of every name without its own entry: a
	// certificate without hosts that requires client certificates (an
	// Istio MUTUAL server for "*"), so such a port fails closed.
	any *hostCerts
}

type hostCerts struct {
	certs     []*tls.Certificate
	managed   bool // served by the ACME manager
	clientCAs *x509.CertPool
	// policy identifies the client-certificate requirement, so the HTTP
	// layer can tell whether a request's host shares its connection's.
	policy string
}

// NewStore returns a Store serving def until the first Swap.
func NewStore(def *tls.Certificate) *Store {
	s := &Store{}
	s.idx.Store(&index{def: def})
	s.base = ServerConfig(s.GetCertificate)
	s.base.GetConfigForClient = s.getConfigForClient
	return s
}

// TLSConfig returns the server configuration that uses the Store.
func (s *Store) TLSConfig() *tls.Config { return s.base }

// Swap replaces the served certificates. Earlier entries win when two claim
// the same name with the same key type. def replaces the default
// certificate unless nil.
func (s *Store) Swap(certs []Certificate, def *tls.Certificate) {
	old := s.idx.Load()
	idx := &index{exact: map[string]*hostCerts{}, wildcard: map[string]*hostCerts{}, def: old.def}
	if def != nil {
		idx.def = def
	}
	for i := range certs {
		c := &certs[i]
		if c.Cert == nil && !c.Managed {
			continue
		}
		if len(c.Hosts) == 0 && c.ClientCAs != nil && idx.any == nil {
			idx.any = &hostCerts{certs: []*tls.Certificate{c.Cert}, clientCAs: c.ClientCAs, policy: c.ClientCASource}
		}
		for _, h := range c.Hosts {
			h = strings.ToLower(strings.TrimSuffix(h, "."))
			m, key := idx.exact, h
			if strings.HasPrefix(h, "*.") {
				m, key = idx.wildcard, h[2:]
			}
			hc := m[key]
			if hc == nil {
				hc = &hostCerts{clientCAs: c.ClientCAs, policy: c.ClientCASource}
				m[key] = hc
			}
			if c.Managed {
				hc.managed = true
			} else {
				hc.certs = append(hc.certs, c.Cert)
			}
		}
	}
	s.idx.Store(idx)
}

// lookup finds the certificates for a server name: exact, then wildcard.
func (idx *index) lookup(name string) *hostCerts {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if hc, ok := idx.exact[name]; ok {
		return hc
	}
	if i := strings.IndexByte(name, '.'); i > 0 {
		if hc, ok := idx.wildcard[name[i+1:]]; ok {
			return hc
		}
	}
	return idx.any
}

// GetCertificate implements tls.Config.GetCertificate: the certificate for
// the ClientHello's SNI that the client supports, else the default.
func (s *Store) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	idx := s.idx.Load()
	acme := s.acme.Load()
	if acme != nil && isACMEChallenge(hello) {
		return (*acme)(hello)
	}
	if hc := idx.lookup(hello.ServerName); hc != nil {
		if hc.managed && acme != nil && len(hc.certs) == 0 {
			if c, err := (*acme)(hello); err == nil && c != nil {
				return c, nil
			}
			return idx.def, nil // not issued yet
		}
		for _, c := range hc.certs {
			if len(hc.certs) == 1 || hello.SupportsCertificate(c) == nil {
				return c, nil
			}
		}
		return hc.certs[0], nil
	}
	return idx.def, nil
}

// getConfigForClient requires client certificates for hosts with ClientCAs.
func (s *Store) getConfigForClient(hello *tls.ClientHelloInfo) (*tls.Config, error) {
	if s.acme.Load() != nil && isACMEChallenge(hello) {
		cfg := s.base.Clone()
		cfg.GetConfigForClient = nil
		cfg.NextProtos = []string{ACMEALPN}
		return cfg, nil
	}
	hc := s.idx.Load().lookup(hello.ServerName)
	if hc == nil || hc.clientCAs == nil {
		return nil, nil
	}
	cfg := s.base.Clone()
	cfg.GetConfigForClient = nil
	cfg.ClientAuth = tls.RequireAndVerifyClientCert
	cfg.ClientCAs = hc.clientCAs
	return cfg, nil
}

// Policy returns the client-certificate policy of a host name ("" when none
// is required).
func (s *Store) Policy(name string) string {
	if hc := s.idx.Load().lookup(name); hc != nil {
		return hc.policy
	}
	return ""
}

// certCovers reports whether the certificate served for SNI name sni is
// also valid for host.
func (s *Store) certCovers(sni, host string) bool {
	cert, _ := s.GetCertificate(&tls.ClientHelloInfo{ServerName: sni})
	if cert == nil || cert.Leaf == nil {
		return false
	}
	return cert.Leaf.VerifyHostname(host) == nil
}

// Admission answers whether a request may be served on its connection.
type Admission uint8

// Admissions.
const (
	// Admitted: serve the request.
	Admitted Admission = iota
	// Misdirected: the connection was made for another name, or its
	// handshake did not satisfy the host's client-certificate policy; the
	// client may retry on a connection made for the host (421).
	Misdirected
	// Forbidden: no connection of this kind can ever satisfy the host's
	// client-certificate policy, e.g. a cleartext one (403).
	Forbidden
)

// Admit decides whether a request for host may be served on a connection
// whose TLS state is cs (nil for cleartext). A host that requires client
// certificates is served only when the connection presented a chain that
// was verified at the handshake and leads to one of that host's client CAs,
// whatever name the client sent in its SNI (or none): what the handshake
// proved is checked against the policy of the host asked for, per request,
// so HTTP/2 streams and Host headers cannot borrow another host's
// handshake. A connection made for one name (SNI) carries requests for
// another only if its certificate covers that name too.
func (s *Store) Admit(cs *tls.ConnectionState, host string) Admission {
	idx := s.idx.Load()
	want := idx.lookup(host)
	if want != nil && want.clientCAs != nil {
		if cs == nil {
			return Forbidden
		}
		if !verifiedBy(cs.VerifiedChains, want.clientCAs) {
			return Misdirected
		}
	}
	if cs == nil || cs.ServerName == "" || strings.EqualFold(strings.TrimSuffix(cs.ServerName, "."), strings.TrimSuffix(host, ".")) {
		return Admitted
	}
	if got := idx.lookup(cs.ServerName); got != nil && got.clientCAs != nil && (want == nil || want.clientCAs == nil) {
		// A connection made for a client-certificate host carries no
		// requests for hosts without that policy.
		return Misdirected
	}
	if !s.certCovers(cs.ServerName, host) {
		return Misdirected
	}
	return Admitted
}

// verifiedBy reports whether one of the chains verified at the handshake
// ends in a certificate that pool trusts (the anchor is one of pool's CAs,
// or is itself signed by one of them).
func verifiedBy(chains [][]*x509.Certificate, pool *x509.CertPool) bool {
	for _, chain := range chains {
		if len(chain) == 0 {
			continue
		}
		anchor := chain[len(chain)-1]
		opts := x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
		if _, err := anchor.Verify(opts); err == nil {
			return true
		}
	}
	return false
}

// SetACME makes get serve the hosts of Managed certificates and answer
// TLS-ALPN-01 challenges.
func (s *Store) SetACME(get func(*tls.ClientHelloInfo) (*tls.Certificate, error)) {
	s.acme.Store(&get)
}

func isACMEChallenge(hello *tls.ClientHelloInfo) bool {
	return len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == ACMEALPN
}
