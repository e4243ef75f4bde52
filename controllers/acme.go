package controllers

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/go-logr/logr"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/portico-dev/portico/controllers/translate"
)

// ACMEOptions turn on certificates from an ACME CA for Ingress TLS entries
// without a secretName.
type ACMEOptions struct {
	// CA is the ACME directory URL; empty disables ACME.
	CA    string
	Email string
	// CARootsFile, when set, is a PEM bundle trusted for the CA's HTTPS
	// endpoint (a private CA, or Pebble in tests).
	CARootsFile string
	// Namespace holds the storage Secrets and lock Leases.
	Namespace string
	// Profile names an ACME certificate profile, when the CA offers them.
	Profile string
	// RenewCheckInterval is how often certificates are checked for renewal
	// (default 10m).
	RenewCheckInterval time.Duration
	// DisableARI turns off ACME Renewal Information (tests with very short
	// certificates).
	DisableARI bool
}

// acmeManager obtains and renews certificates with certmagic, storing them
// in Secrets, and answers HTTP-01 and TLS-ALPN-01 challenges on Portico's own
// listeners.
type acmeManager struct {
	cfg    *certmagic.Config
	issuer *certmagic.ACMEIssuer
	cache  *certmagic.Cache
	log    logr.Logger

	managerContext // stops certificate maintenance when the manager stops

	mu      sync.Mutex
	managed map[string]bool
	sources map[string][]translate.ObjectRef // host -> Ingresses asking for it
	reader  client.Reader
	events  events.EventRecorder
}

func newACMEManager(opts ACMEOptions, storage certmagic.Storage, httpAddr, httpsAddr string,
	reader client.Reader, rec events.EventRecorder, log logr.Logger) (*acmeManager, error) {
	m := &acmeManager{managed: map[string]bool{}, sources: map[string][]translate.ObjectRef{},
		reader: reader, events: rec, log: log}
	var roots *x509.CertPool
	if opts.CARootsFile != "" {
		pem, err := os.ReadFile(opts.CARootsFile)
		if err != nil {
			return nil, fmt.Errorf("--acme-ca-roots: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--acme-ca-roots %s: no PEM certificate", opts.CARootsFile)
		}
	}
	m.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert:   func(certmagic.Certificate) (*certmagic.Config, error) { return m.cfg, nil },
		RenewCheckInterval: opts.RenewCheckInterval,
		Logger:             zap.NewNop(),
	})
	m.cfg = certmagic.New(m.cache, certmagic.Config{
		Storage:    storage,
		OnEvent:    m.onEvent,
		OCSP:       certmagic.OCSPConfig{DisableStapling: true},
		DisableARI: opts.DisableARI,
		Logger:     zap.NewNop(),
	})
	httpHost, httpPort := splitPort(httpAddr, 80)
	_, httpsPort := splitPort(httpsAddr, 443)
	// The solvers' "listeners" are Portico's own: certmagic finds the
	// ports taken and leaves the answering to HandleHTTPChallenge and the
	// certificate store.
	m.issuer = certmagic.NewACMEIssuer(m.cfg, certmagic.ACMEIssuer{
		CA: opts.CA, Email: opts.Email, Agreed: true, TrustedRoots: roots, Profile: opts.Profile,
		ListenHost: httpHost, AltHTTPPort: httpPort, AltTLSALPNPort: httpsPort,
		DisableTLSALPNChallenge: httpsAddr == "",
		Logger:                  zap.NewNop(),
	})
	m.cfg.Issuers = []certmagic.Issuer{m.issuer}
	m.onStop = m.cache.Stop
	return m, nil
}

func splitPort(addr string, def int) (string, int) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", def
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		return host, def
	}
	return host, n
}

// HandleHTTP answers HTTP-01 challenges; it runs before routing and any
// HTTPS redirect.
func (m *acmeManager) HandleHTTP(w http.ResponseWriter, r *http.Request) bool {
	return m.issuer.HandleHTTPChallenge(w, r)
}

// GetCertificate serves managed certificates and TLS-ALPN-01 challenges.
func (m *acmeManager) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return m.cfg.GetCertificate(hello)
}

// Manage starts obtaining certificates for hosts not managed yet and
// remembers which Ingresses asked, for Events.
func (m *acmeManager) Manage(hosts []translate.ACMEHost) {
	ctx := m.context()
	if ctx == nil {
		ctx = context.Background()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sources = map[string][]translate.ObjectRef{}
	var fresh []string
	for _, h := range hosts {
		for _, name := range h.Hosts {
			m.sources[name] = append(m.sources[name], h.Source)
			if !m.managed[name] {
				m.managed[name] = true
				fresh = append(fresh, name)
			}
		}
	}
	if len(fresh) == 0 {
		return
	}
	slices.Sort(fresh)
	if err := m.cfg.ManageAsync(ctx, fresh); err != nil {
		m.log.Error(err, "starting ACME management", "hosts", fresh)
	}
}

// onEvent turns certmagic's outcomes into Events on the Ingresses that
// asked for the host.
func (m *acmeManager) onEvent(ctx context.Context, event string, data map[string]any) error {
	name, _ := data["identifier"].(string)
	var reason, note, kind string
	switch event {
	case "cert_obtained":
		reason, kind = "CertificateIssued", corev1.EventTypeNormal
		note = "certificate for " + name + " issued by the ACME CA"
		if r, _ := data["renewal"].(bool); r {
			reason, note = "CertificateRenewed", "certificate for "+name+" renewed"
		}
	case "cert_failed":
		reason, kind = "ACMEOrderFailed", corev1.EventTypeWarning
		note = fmt.Sprintf("obtaining a certificate for %s failed: %v; the default certificate is served meanwhile and the order is retried", name, data["error"])
	default:
		return nil
	}
	m.log.Info("ACME", "event", event, "host", name, "note", note)
	m.mu.Lock()
	refs := slices.Clone(m.sources[name])
	m.mu.Unlock()
	for _, ref := range refs {
		var ing networkingv1.Ingress
		if err := m.reader.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, &ing); err != nil {
			continue
		}
		if m.events != nil {
			m.events.Eventf(&ing, nil, kind, reason, "ACME", "%s", note)
		}
	}
	return nil
}
