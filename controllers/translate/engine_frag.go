package translate

import (
	"slices"
	"strings"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/portico-dev/portico/router"
	certs "github.com/portico-dev/portico/tls"
)

// ingressFrag is the translation of one Ingress of Portico's class on its
// own: everything Translate would produce for it, with the decisions that
// depend on other Ingresses (which claim on a host and path is the oldest,
// which default backend is used, which routes redirect to HTTPS) left to
// the Engine. A fragment is valid as long as its Ingress and everything it
// names (its Services, their EndpointSlices, its Secrets) are unchanged, the
// IngressClasses and Options are the same, and Options.Now has not reached
// changesAt.
type ingressFrag struct {
	ing *networkingv1.Ingress
	ref ObjectRef
	// problems are those found whatever the other Ingresses say.
	problems []Problem
	// routes and passthrough are the claims, in rule and path order.
	routes      []fragRoute
	passthrough []fragL4
	def         *fragDefault
	certs       []certs.Certificate
	acme        []ACMEHost
	// tlsHosts are the hosts of its spec.tls (lower case); noRedirect is
	// set when it turned the HTTPS redirect off for its own routes.
	tlsHosts   []string
	noRedirect bool
	// services and secrets are what it names or its translation looked
	// up.
	services, secrets []nsName
	changesAt         time.Time
	// nginx says it is of the ingress-nginx class; canaries are its
	// canary paths (a canary Ingress claims nothing). askedRegex and
	// askedRouted are the hosts whose answers it read from the Engine:
	// whether their paths are regular expressions (nginxRegexHost), and
	// whether any Ingress has a rule for them (hostRouted).
	nginx                   bool
	canaries                []fragCanary
	askedRegex, askedRouted []string
}

// fragCanary is one path of an ingress-nginx canary Ingress: merged into
// the route that wins its claim (see engineIndex.mergeCanaries).
type fragCanary struct {
	key      claimKey
	field    string
	raw      string
	backends []router.WeightedBackend
	canary   *nginxCanary
}

// fragRoute is one path of an Ingress: served if it wins its claim, with
// problems that count only then; the loser gets a conflict problem on field.
type fragRoute struct {
	key      claimKey
	route    router.Route
	problems []Problem
	field    string
	rawPath  string
	// warnConflict: losing the claim is a Warning, not an Error (the
	// routes ingress-nginx annotations add beside the paths).
	warnConflict bool
}

// fragL4 is one TLS passthrough host of an Ingress.
type fragL4 struct {
	key      claimKey
	route    router.L4Route
	problems []Problem
	field    string
}

// fragDefault is an Ingress's spec.defaultBackend.
type fragDefault struct {
	route    *router.Route
	problems []Problem
}

// compareFrags orders fragments oldest first, as Translate processes
// Ingresses.
func compareFrags(a, b *ingressFrag) int {
	return compareAge(a.ing.CreationTimestamp, ObjectRef{Namespace: a.ref.Namespace, Name: a.ref.Name},
		b.ing.CreationTimestamp, ObjectRef{Namespace: b.ref.Namespace, Name: b.ref.Name})
}

// translateIngress translates one Ingress of Portico's class against the
// Engine's objects.
func (e *Engine) translateIngress(ing *networkingv1.Ingress, classes []networkingv1.IngressClass, opts Options) *ingressFrag {
	f := &ingressFrag{ing: ing, ref: ObjectRef{Kind: ingressKind, Namespace: ing.Namespace, Name: ing.Name}}
	c := &common{opts: opts, backends: e.resolver, secrets: e.secrets, usedSecrets: map[nsName]bool{}}
	t := &ingressProcessor{common: c, tlsHosts: map[string]bool{}, noRedirect: map[string]bool{}, frag: f, hosts: e.ix}
	e.resolver.used = map[nsName]bool{}
	defer func() { e.resolver.used = nil }()
	f.nginx = IsNginxIngress(ing, classes, opts)
	t.ingress(ing, f.nginx)
	for _, cp := range t.canaries {
		f.canaries = append(f.canaries, fragCanary{key: cp.key, field: cp.field, raw: cp.raw, backends: cp.backends, canary: cp.n.canary})
	}
	f.problems = c.res.Problems
	f.certs = c.res.Certificates
	f.acme = c.res.ACMEHosts
	for h := range t.tlsHosts {
		f.tlsHosts = append(f.tlsHosts, h)
	}
	slices.Sort(f.tlsHosts)
	f.noRedirect = len(t.noRedirect) > 0
	f.changesAt = c.changesAt
	f.services, f.secrets = ingressNames(ing)
	f.services = unionNames(f.services, e.resolver.used)
	f.secrets = unionNames(f.secrets, c.usedSecrets)
	return f
}

// unionNames adds the names of used to the sorted list s.
func unionNames(s []nsName, used map[nsName]bool) []nsName {
	if len(used) == 0 {
		return s
	}
	for k := range used {
		s = append(s, k)
	}
	slices.SortFunc(s, compareNames)
	return slices.Compact(s)
}

// ingressNames lists the Services and Secrets an Ingress names: the
// objects whose change can change its translation.
func ingressNames(ing *networkingv1.Ingress) (services, secrets []nsName) {
	add := func(b *networkingv1.IngressBackend) {
		if b != nil && b.Service != nil {
			services = append(services, nsName{ing.Namespace, b.Service.Name})
		}
	}
	add(ing.Spec.DefaultBackend)
	for _, r := range ing.Spec.Rules {
		if r.HTTP == nil {
			continue
		}
		for i := range r.HTTP.Paths {
			add(&r.HTTP.Paths[i].Backend)
		}
	}
	for _, t := range ing.Spec.TLS {
		if t.SecretName != "" {
			secrets = append(secrets, nsName{ing.Namespace, t.SecretName})
		}
	}
	if v, ok := ing.Annotations[AnnotationClientCASecret]; ok {
		ns, name, found := strings.Cut(v, "/")
		if !found {
			ns, name = ing.Namespace, v
		}
		secrets = append(secrets, nsName{ns, name})
	}
	sortNames := func(s []nsName) []nsName {
		slices.SortFunc(s, compareNames)
		return slices.Compact(s)
	}
	return sortNames(services), sortNames(secrets)
}

func compareNames(a, b nsName) int {
	if c := strings.Compare(a.ns, b.ns); c != 0 {
		return c
	}
	return strings.Compare(a.name, b.name)
}

// objectVersion identifies one version of an object: two objects with the
// same UID and resourceVersion are the same. Objects without a
// resourceVersion (standalone files) carry their content's digest in it.
type objectVersion struct {
	uid, rv string
}

func versionOf(m *metav1.ObjectMeta) objectVersion {
	return objectVersion{string(m.UID), m.ResourceVersion}
}
