package translate

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	istiov1 "istio.io/client-go/pkg/apis/networking/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/portico-dev/portico/router"
	certs "github.com/portico-dev/portico/tls"
)

// Translate turns a Snapshot into a Result. It is pure: see the package doc.
func Translate(s *Snapshot, opts Options) Result {
	t := newTranslator(s, opts)
	t.ingresses()
	t.gatewayAPI()
	t.istio()
	t.applyRedirects()
	t.controllerDefault()
	t.defaultCertificate()
	slices.SortStableFunc(t.res.Problems, func(a, b Problem) int {
		return cmp.Or(
			cmp.Compare(a.Object.Kind, b.Object.Kind),
			cmp.Compare(a.Object.Namespace, b.Object.Namespace),
			cmp.Compare(a.Object.Name, b.Object.Name),
			cmp.Compare(a.Field, b.Field),
			cmp.Compare(a.Message, b.Message),
		)
	})
	// A rule bound to several servers reports its problems once.
	t.res.Problems = slices.Compact(t.res.Problems)
	return t.res
}

// translator holds the indexes and claims of one Translate call.
type translator struct {
	snap     *Snapshot
	opts     Options
	res      Result
	backends *backendResolver
	claims   map[claimKey]ObjectRef
	// defaultFrom is the Ingress whose spec.defaultBackend is in use.
	defaultFrom *ObjectRef
	secrets     map[nsName]*corev1.Secret
	// tlsHosts are hosts named in some spec.tls; noRedirect holds
	// "Ingress/namespace/name" of Ingresses that turned the HTTPS redirect
	// off. Both apply to Ingress routes only.
	tlsHosts   map[string]bool
	noRedirect map[string]bool
	// policies are the validated BackendTLSPolicies, oldest first;
	// targeted holds the Services they name, policyUse the Gateways using
	// those Services.
	policies []*backendPolicy
	// istioDRs are the DestinationRules by the Service they apply to.
	istioDRs  map[nsName]*istiov1.DestinationRule
	targeted  map[nsName]bool
	policyUse policyUse
}

// claimKey identifies what a route claims: two routes with the same key
// conflict, whatever their backends.
type claimKey struct {
	hostMatch router.HostMatch
	host      string
	pathMatch router.PathMatch
	path      string
}

func newTranslator(s *Snapshot, opts Options) *translator {
	t := &translator{
		snap:       s,
		opts:       opts,
		backends:   newBackendResolver(s),
		claims:     make(map[claimKey]ObjectRef, claimsHint(s)),
		secrets:    map[nsName]*corev1.Secret{},
		tlsHosts:   map[string]bool{},
		noRedirect: map[string]bool{},
	}
	for i := range s.Secrets {
		sec := &s.Secrets[i]
		t.secrets[nsName{sec.Namespace, sec.Name}] = sec
	}
	t.backends.policies = t.backendPolicies()
	t.backends.targeted = t.targeted
	t.policyUse = policyUse{}
	return t
}

func (t *translator) problem(obj ObjectRef, field string, sev Severity, reason, msg string) {
	t.res.Problems = append(t.res.Problems, Problem{Object: obj, Field: field, Severity: sev, Reason: reason, Message: msg})
}

// defaultCertificate resolves --default-certificate.
func (t *translator) defaultCertificate() {
	if t.opts.DefaultCertificate == "" {
		return
	}
	ns, name, ok := strings.Cut(t.opts.DefaultCertificate, "/")
	ref := ObjectRef{Kind: "Secret", Namespace: ns, Name: name}
	if !ok {
		t.problem(ObjectRef{Kind: "Controller", Name: "--default-certificate"}, "", SeverityError, reasonInvalidSecret,
			fmt.Sprintf("%q: want namespace/name", t.opts.DefaultCertificate))
		return
	}
	cert, msg, reason := t.secretCertificate(ns, name)
	if cert == nil {
		t.problem(ref, "(controller default certificate)", SeverityError, reason, msg+"; a generated self-signed certificate is served instead")
		return
	}
	t.res.DefaultCertificate = &certs.Certificate{Cert: cert, Source: "Secret/" + ns + "/" + name}
}

// claimsHint sizes the claim map: one claim per Ingress path.
func claimsHint(s *Snapshot) int {
	n := 0
	for i := range s.Ingresses {
		for _, r := range s.Ingresses[i].Spec.Rules {
			if r.HTTP != nil {
				n += len(r.HTTP.Paths)
			}
		}
	}
	return n
}
