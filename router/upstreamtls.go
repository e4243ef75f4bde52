package router

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// UpstreamTLS says how to speak TLS to a backend (a Gateway API
// BackendTLSPolicy): the SNI to send and how to authenticate the backend's
// certificate.
type UpstreamTLS struct {
	// ServerName is sent as SNI and, without SubjectAltNames, must match
	// the backend's certificate.
	ServerName string `json:"serverName"`
	// CAPEM holds the trusted CA certificates. Empty means the system roots.
	CAPEM []byte `json:"-"`
	// CASource names where CAPEM came from, for tools ("system" for the
	// system roots).
	CASource string `json:"ca"`
	// SubjectAltNames, when set, replace ServerName for authentication: the
	// certificate must carry one of them.
	SubjectAltNames []SubjectAltName `json:"subjectAltNames,omitempty"`
	// InsecureSkipVerify accepts any backend certificate (ingress-nginx's
	// proxy-ssl-verify "off"): the connection is encrypted, not
	// authenticated.
	InsecureSkipVerify bool `json:"insecureSkipVerify,omitempty"`
	// NoSNI sends no server name in the handshake (ingress-nginx's
	// proxy-ssl-server-name "off"); ServerName is still the name the
	// certificate is checked against.
	NoSNI bool `json:"noSNI,omitempty"`
	// ClientCertPEM and ClientKeyPEM, when set, are the certificate and
	// key Portico authenticates itself with (ingress-nginx's
	// proxy-ssl-secret); ClientCertSource names where they came from.
	ClientCertPEM    []byte `json:"-"`
	ClientKeyPEM     []byte `json:"-"`
	ClientCertSource string `json:"clientCert,omitempty"`
	// MinVersion and MaxVersion bound the TLS versions offered (0: TLS
	// 1.2 and the newest); Portico never offers less than TLS 1.2.
	MinVersion uint16 `json:"minVersion,omitempty"`
	MaxVersion uint16 `json:"maxVersion,omitempty"`
	// VerifyDepth, when set, bounds the certificates between the
	// backend's and a trusted CA: a verified chain may hold at most
	// VerifyDepth+1 certificates (nginx's proxy_ssl_verify_depth).
	VerifyDepth int `json:"verifyDepth,omitempty"`

	once sync.Once
	key  string
	cfg  *tls.Config
	err  error
}

// SubjectAltName is a DNS name (wildcards allowed in the certificate) or a
// URI that a backend certificate must carry.
type SubjectAltName struct {
	Hostname string `json:"hostname,omitempty"`
	URI      string `json:"uri,omitempty"`
}

// prepare builds the client tls.Config once; key identifies equal settings
// so backends sharing them share a connection pool.
func (u *UpstreamTLS) prepare() (string, *tls.Config, error) {
	u.once.Do(func() {
		var roots *x509.CertPool
		if len(u.CAPEM) > 0 {
			roots = x509.NewCertPool()
			if !roots.AppendCertsFromPEM(u.CAPEM) {
				u.err = errors.New("no CA certificate could be parsed")
				return
			}
		}
		h := sha256.New()
		fmt.Fprintf(h, "%s\x00%x\x00%t\x00%t\x00%x\x00%x\x00%d-%d-%d\x00", u.ServerName, u.CAPEM, u.InsecureSkipVerify, u.NoSNI,
			u.ClientCertPEM, sha256.Sum256(u.ClientKeyPEM), u.MinVersion, u.MaxVersion, u.VerifyDepth)
		for _, s := range u.SubjectAltNames {
			fmt.Fprintf(h, "%s\x00%s\x00", s.Hostname, s.URI)
		}
		u.key = hex.EncodeToString(h.Sum(nil))
		u.cfg = &tls.Config{ServerName: u.ServerName, RootCAs: roots, MinVersion: max(tls.VersionTLS12, u.MinVersion), MaxVersion: u.MaxVersion}
		if len(u.ClientCertPEM) > 0 {
			pair, err := tls.X509KeyPair(u.ClientCertPEM, u.ClientKeyPEM)
			if err != nil {
				u.err = fmt.Errorf("client certificate: %w", err)
				return
			}
			u.cfg.Certificates = []tls.Certificate{pair}
		}
		if u.NoSNI {
			u.cfg.ServerName = ""
		}
		if u.InsecureSkipVerify {
			u.cfg.InsecureSkipVerify = true //nolint:gosec // asked for: the backend is not authenticated
			return
		}
		if len(u.SubjectAltNames) > 0 || u.NoSNI || u.VerifyDepth > 0 {
			// The chain is still verified against the roots; only what the
			// standard check cannot do (names other than the SNI, the
			// depth) changes, so it is switched off and done here.
			name, sans, depth := u.ServerName, u.SubjectAltNames, u.VerifyDepth
			u.cfg.InsecureSkipVerify = true
			u.cfg.VerifyConnection = func(cs tls.ConnectionState) error {
				return verifyPeer(cs, roots, name, sans, depth)
			}
		}
	})
	return u.key, u.cfg, u.err
}

// verifyPeer verifies the peer chain against roots (at most depth
// certificates above the backend's, when depth > 0) and requires one of
// the wanted subject alternative names, or without them the name.
func verifyPeer(cs tls.ConnectionState, roots *x509.CertPool, name string, sans []SubjectAltName, depth int) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("backend sent no certificate")
	}
	leaf := cs.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
	if err != nil {
		return err
	}
	if depth > 0 && !slices.ContainsFunc(chains, func(c []*x509.Certificate) bool { return len(c) <= depth+1 }) {
		return fmt.Errorf("backend certificate chain is longer than the verify depth %d", depth)
	}
	if len(sans) == 0 {
		return leaf.VerifyHostname(name)
	}
	for _, s := range sans {
		if s.Hostname != "" && leaf.VerifyHostname(s.Hostname) == nil {
			return nil
		}
		if s.URI != "" {
			for _, u := range leaf.URIs {
				if u.String() == s.URI {
					return nil
				}
			}
		}
	}
	want := make([]string, 0, len(sans))
	for _, s := range sans {
		want = append(want, s.Hostname+s.URI)
	}
	return fmt.Errorf("backend certificate carries none of the subject alternative names %s", strings.Join(want, ", "))
}

// tlsTransports are the HTTPS connection pools, one per distinct
// UpstreamTLS setting and protocol. They outlive tables like the others.
type tlsTransports struct {
	mu   sync.Mutex
	pool map[string]*http.Transport
}

// forBackend returns the pool for b's TLS settings.
func (t *Transports) forTLS(b *Backend) (http.RoundTripper, error) {
	key, cfg, err := b.TLS.prepare()
	if err != nil {
		return nil, fmt.Errorf("backend %s: TLS settings: %w", b.Name, err)
	}
	if b.Protocol == H2C {
		key += "/h2"
	}
	t.tls.mu.Lock()
	defer t.tls.mu.Unlock()
	if rt, ok := t.tls.pool[key]; ok {
		return rt, nil
	}
	if t.tls.pool == nil {
		t.tls.pool = map[string]*http.Transport{}
	}
	rt := t.HTTP1.Clone()
	rt.TLSClientConfig = cfg.Clone()
	rt.Protocols = new(http.Protocols)
	if b.Protocol == H2C {
		rt.Protocols.SetHTTP2(true)
	} else {
		rt.Protocols.SetHTTP1(true)
	}
	t.tls.pool[key] = rt
	return rt, nil
}

// roundTripper picks the connection pool for a backend and the URL scheme
// that goes with it.
func (t *Transports) roundTripper(b *Backend) (http.RoundTripper, string, error) {
	switch {
	case b.TLS != nil:
		rt, err := t.forTLS(b)
		return rt, "https", err
	case b.Protocol == H2C:
		return t.H2C, "http", nil
	default:
		return t.HTTP1, "http", nil
	}
}
