package translate

import (
	"cmp"
	"crypto/tls"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	certs "github.com/portico-dev/portico/tls"
)

// Translate turns a Snapshot into a Result. It is pure: see the package doc.
func Translate(s *Snapshot, opts Options) Result {
	policies := backendPolicies(s)
	c := newCommon(s, opts, policies)
	ingress := newIngressProcessor(c)
	gateway := newGatewayProcessor(c, policies)
	istio := istioProcessor{common: c}
	ingress.ingresses()
	gateway.gatewayAPI()
	istio.istio()
	ingress.applyRedirects()
	ingress.controllerDefault()
	c.applyPolicies()
	c.defaultCertificate()
	sortProblems(c.res.Problems)
	// A rule bound to several servers reports its problems once.
	c.res.Problems = slices.Compact(c.res.Problems)
	return c.res
}

// sortProblems orders problems by object, then field and message (stable).
func sortProblems(ps []Problem) {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Or(
			cmp.Compare(a.Object.Kind, b.Object.Kind),
			cmp.Compare(a.Object.Namespace, b.Object.Namespace),
			cmp.Compare(a.Object.Name, b.Object.Name),
			cmp.Compare(a.Field, b.Field),
			cmp.Compare(a.Message, b.Message),
		)
	})
}

// common is what the translation of every API shares in one Translate
// call: its input, the Result being built, the Services the routes of every
// API resolve to (with the BackendTLSPolicies that apply to them) and the
// Secrets they take certificates from. The state of one API lives in its
// processor (ingressProcessor, gatewayProcessor, istioProcessor).
type common struct {
	snap     *Snapshot
	opts     Options
	res      Result
	backends *backendResolver
	secrets  map[nsName]*corev1.Secret
	// changesAt is the earliest time at which a certificate checked
	// against Options.Now expires or becomes valid, that is when the
	// result may change with nothing else changing (zero: never).
	changesAt time.Time
	// usedSecrets, when set (by the Engine while it translates one
	// Ingress), collects every Secret looked up.
	usedSecrets map[nsName]bool
}

// secret returns the Secret held under k, or nil, noting the lookup in
// usedSecrets.
func (c *common) secret(k nsName) *corev1.Secret {
	if c.usedSecrets != nil {
		c.usedSecrets[k] = true
	}
	return c.secrets[k]
}

// newCommon indexes the snapshot's Services and Secrets, and the validated
// policies (see backendPolicies) by the Services they target.
func newCommon(s *Snapshot, opts Options, policies []*backendPolicy) *common {
	c := &common{
		snap:     s,
		opts:     opts,
		backends: newBackendResolver(s, policies),
		secrets:  map[nsName]*corev1.Secret{},
	}
	for i := range s.Secrets {
		sec := &s.Secrets[i]
		c.secrets[nsName{sec.Namespace, sec.Name}] = sec
	}
	return c
}

func (c *common) problem(obj ObjectRef, field string, sev Severity, reason, msg string) {
	c.res.Problems = append(c.res.Problems, Problem{Object: obj, Field: field, Severity: sev, Reason: reason, Message: msg})
}

// secretCertificate loads a kubernetes.io/tls Secret. On failure it returns
// a message and reason.
func (c *common) secretCertificate(ns, name string) (*tls.Certificate, string, string) {
	sec := c.secret(nsName{ns, name})
	ok := sec != nil
	if !ok {
		return nil, fmt.Sprintf("Secret %s/%s not found", ns, name), reasonSecretNotFound
	}
	if sec.Type != corev1.SecretTypeTLS {
		return nil, fmt.Sprintf("Secret %s/%s has type %q, want %q", ns, name, sec.Type, corev1.SecretTypeTLS), reasonInvalidSecret
	}
	cert, err := c.opts.CertCache.ParseKeyPair(sec.Data[corev1.TLSCertKey], sec.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		return nil, fmt.Sprintf("Secret %s/%s: %v", ns, name, err), reasonInvalidCertificate
	}
	if !c.opts.Now.IsZero() {
		switch {
		case c.opts.Now.Before(cert.Leaf.NotBefore):
			c.changesBy(cert.Leaf.NotBefore)
		case !c.opts.Now.After(cert.Leaf.NotAfter):
			c.changesBy(cert.Leaf.NotAfter)
		}
		if c.opts.Now.After(cert.Leaf.NotAfter) {
			return nil, fmt.Sprintf("Secret %s/%s: certificate expired at %s", ns, name, cert.Leaf.NotAfter.UTC().Format("2006-01-02T15:04:05Z")), reasonInvalidCertificate
		}
		if c.opts.Now.Before(cert.Leaf.NotBefore) {
			return nil, fmt.Sprintf("Secret %s/%s: certificate is not valid before %s", ns, name, cert.Leaf.NotBefore.UTC().Format("2006-01-02T15:04:05Z")), reasonInvalidCertificate
		}
	}
	return cert, "", ""
}

// changesBy notes that the result may change at t.
func (c *common) changesBy(t time.Time) {
	if c.changesAt.IsZero() || t.Before(c.changesAt) {
		c.changesAt = t
	}
}

// defaultCertificate resolves --default-certificate.
func (c *common) defaultCertificate() {
	if c.opts.DefaultCertificate == "" {
		return
	}
	ns, name, ok := strings.Cut(c.opts.DefaultCertificate, "/")
	ref := ObjectRef{Kind: "Secret", Namespace: ns, Name: name}
	if !ok {
		c.problem(ObjectRef{Kind: "Controller", Name: "--default-certificate"}, "", SeverityError, reasonInvalidSecret,
			fmt.Sprintf("%q: want namespace/name", c.opts.DefaultCertificate))
		return
	}
	cert, msg, reason := c.secretCertificate(ns, name)
	if cert == nil {
		c.problem(ref, "(controller default certificate)", SeverityError, reason, msg+"; a generated self-signed certificate is served instead")
		return
	}
	c.res.DefaultCertificate = &certs.Certificate{Cert: cert, Source: "Secret/" + ns + "/" + name}
}
