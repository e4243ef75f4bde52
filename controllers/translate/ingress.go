package translate

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/portico-dev/portico/router"
)

// Annotations and labels of the Ingress API that Portico reads.
const (
	AnnotationIngressClass   = "kubernetes.io/ingress.class"
	AnnotationDefaultClass   = "ingressclass.kubernetes.io/is-default-class"
	ingressKind              = "Ingress"
	reasonInvalidHost        = "InvalidHost"
	reasonInvalidPath        = "InvalidPath"
	reasonRouteConflict      = "RouteConflict"
	reasonDefaultConflict    = "DefaultBackendConflict"
	reasonUnsupportedBackend = "UnsupportedBackend"
)

// OwnsIngress reports whether the Ingress belongs to Portico's class:
// spec.ingressClassName naming an IngressClass of our controller; else the
// legacy annotation naming our class; else, with neither set, whether one of
// our IngressClasses is marked as the cluster default.
func OwnsIngress(ing *networkingv1.Ingress, classes []networkingv1.IngressClass, opts Options) bool {
	return ownsPortico(ing, classes, opts) || IsNginxIngress(ing, classes, opts)
}

// ownsPortico reports whether the Ingress belongs to Portico's own class.
func ownsPortico(ing *networkingv1.Ingress, classes []networkingv1.IngressClass, opts Options) bool {
	ours := func(name string) bool {
		for i := range classes {
			if classes[i].Name == name && classes[i].Spec.Controller == opts.ControllerName {
				return true
			}
		}
		return false
	}
	if ing.Spec.IngressClassName != nil {
		return ours(*ing.Spec.IngressClassName)
	}
	if v, ok := ing.Annotations[AnnotationIngressClass]; ok {
		return v == opts.IngressClass || ours(v)
	}
	return defaultClassOf(classes, opts.ControllerName)
}

// ingressProcessor translates the Ingresses of Portico's class: their
// routes on the shared listeners, TLS passthrough, certificates and the
// default backend.
type ingressProcessor struct {
	*common
	// claims holds the oldest Ingress claiming each host and path.
	claims map[claimKey]ObjectRef
	// defaultFrom is the Ingress whose spec.defaultBackend is in use.
	defaultFrom *ObjectRef
	// tlsHosts are hosts named in some spec.tls; noRedirect holds
	// "Ingress/namespace/name" of Ingresses that turned the HTTPS redirect
	// off.
	tlsHosts   map[string]bool
	noRedirect map[string]bool
	// frag, when set, collects one Ingress's translation for the
	// incremental Engine instead of deciding claims (see ingressFrag).
	frag *ingressFrag
	// nginxRegex holds the hosts whose ingress-nginx paths are regular
	// expressions (see nginxRegexHost); nil until first asked.
	nginxRegex map[string]bool
	// canaries are the paths of ingress-nginx canary Ingresses, merged
	// into their main Ingress's routes once all are translated.
	canaries []nginxCanaryPath
	// hosts, with frag, answers what Translate reads of the other
	// Ingresses (nginxRegexHost, hostRouted) from the Engine's index.
	hosts *engineIndex
}

// newIngressProcessor sizes the claims for every Ingress path.
func newIngressProcessor(c *common) *ingressProcessor {
	return &ingressProcessor{
		common:     c,
		claims:     make(map[claimKey]ObjectRef, claimsHint(c.snap)),
		tlsHosts:   map[string]bool{},
		noRedirect: map[string]bool{},
	}
}

// claimKey identifies what a route claims: two routes with the same key
// conflict, whatever their backends.
type claimKey struct {
	hostMatch router.HostMatch
	host      string
	pathMatch router.PathMatch
	path      string
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

// ingresses translates our Ingresses oldest first, so that the oldest claim
// on a host and path wins.
func (t *ingressProcessor) ingresses() {
	var ours []*networkingv1.Ingress
	for i := range t.snap.Ingresses {
		ing := &t.snap.Ingresses[i]
		if OwnsIngress(ing, t.snap.IngressClasses, t.opts) {
			ours = append(ours, ing)
		}
	}
	sortOldestFirst(ours)
	n := 0
	for _, ing := range ours {
		for _, r := range ing.Spec.Rules {
			if r.HTTP != nil {
				n += len(r.HTTP.Paths)
			}
		}
	}
	t.res.Config.Routes = make([]router.Route, 0, n)
	for _, ing := range ours {
		t.ingress(ing, IsNginxIngress(ing, t.snap.IngressClasses, t.opts))
	}
	t.mergeNginxCanaries()
	t.nginxSortRegex()
	t.res.Ingresses = make([]ObjectRef, 0, len(ours))
	for _, ing := range ours {
		t.res.Ingresses = append(t.res.Ingresses, ObjectRef{Kind: ingressKind, Namespace: ing.Namespace, Name: ing.Name})
	}
	slices.SortFunc(t.res.Ingresses, func(a, b ObjectRef) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
}

// ingress translates one Ingress; nginx says it is of the ingress-nginx
// class, served with that controller's annotation semantics.
func (t *ingressProcessor) ingress(ing *networkingv1.Ingress, nginx bool) {
	ref := ObjectRef{Kind: ingressKind, Namespace: ing.Namespace, Name: ing.Name}
	var nx *nginxIngress
	if nginx {
		nx = t.newNginx(ing, ref)
		if nx.refused != "" {
			return
		}
		nx.nginxForeign()
	}
	t.foreignAnnotations(ing, ref, nx != nil)
	if t.boolAnnotation(ing, ref, AnnotationSSLPassthrough, false) || nx != nil && nx.passthrough() {
		t.ingressPassthrough(ing, ref)
		return
	}
	t.ingressTLS(ing, ref)
	if !t.boolAnnotation(ing, ref, AnnotationSSLRedirect, true) {
		t.noRedirect[ingressKind+"/"+ing.Namespace+"/"+ing.Name] = true
	}
	hsts := t.hsts(ing, ref)
	if db := ing.Spec.DefaultBackend; db != nil && (nx == nil || nx.canary == nil) {
		t.ingressDefault(ing, ref, db)
		if nx != nil {
			t.nginxDefaultPolicy(nx)
		}
	}
	for ri, rule := range ing.Spec.Rules {
		host, hostMatch, err := ingressHost(rule.Host)
		if err != "" {
			t.problem(ref, fmt.Sprintf("spec.rules[%d].host", ri), SeverityError, reasonInvalidHost, err)
			continue
		}
		if rule.HTTP == nil {
			continue
		}
		for pi, p := range rule.HTTP.Paths {
			pfield := func(suffix string) string { return fmt.Sprintf("spec.rules[%d].http.paths[%d]%s", ri, pi, suffix) }
			path, pathMatch, perr := ingressPath(p)
			if nx != nil && t.nginxRegexHost(host) {
				path, pathMatch, perr = nginxRegexPath(p)
			}
			if perr != "" {
				t.problem(ref, pfield(".path"), SeverityError, reasonInvalidPath, perr)
				continue
			}
			key := claimKey{hostMatch, host, pathMatch, path}
			if pathMatch == router.PathPrefix {
				key.path = strings.TrimSuffix(path, "/")
			}
			if nx != nil && nx.canary != nil {
				t.addNginxCanary(nx, key, pfield(""), &p)
				continue
			}
			if t.frag == nil {
				if winner, taken := t.claims[key]; taken {
					t.problem(ref, pfield(""), SeverityError, reasonRouteConflict, pathConflict(host, p.Path, pathMatch, winner))
					continue
				}
				t.claims[key] = ref
			}
			src := router.Source{Kind: ingressKind, Namespace: ing.Namespace, Name: ing.Name, Rule: ri, Path: pi}
			mark := len(t.res.Problems)
			backend := t.ingressBackend(ref, ing.Namespace, &p.Backend, func() string { return pfield(".backend") })
			route := router.Route{
				Host: host, HostMatch: hostMatch, Path: path, PathMatch: pathMatch,
				Backends: backend, Source: src, HSTS: hsts,
			}
			if nx != nil {
				nx.route(nginxPath{rule: ri, path: pi, raw: p.Path}, &route)
			}
			if t.frag != nil {
				t.frag.routes = append(t.frag.routes, fragRoute{key: key, route: route, problems: t.takeProblems(mark),
					field: pfield(""), rawPath: p.Path})
				continue
			}
			t.res.Config.Routes = append(t.res.Config.Routes, route)
		}
	}
}

// ingressBackend resolves one IngressBackend. An unresolvable backend still
// yields a route (answering 503), so the path is not served by another rule.
// field renders the backend's field path; it is only called for a problem.
func (t *ingressProcessor) ingressBackend(ref ObjectRef, ns string, b *networkingv1.IngressBackend, field func() string) []router.WeightedBackend {
	if b.Resource != nil {
		t.problem(ref, field()+".resource", SeverityError, reasonUnsupportedBackend, fmt.Sprintf(
			"resource backends (%s %s) are not supported; requests get 503", b.Resource.Kind, b.Resource.Name))
		return nil
	}
	if b.Service == nil {
		t.problem(ref, field(), SeverityError, reasonUnsupportedBackend, "backend names no service; requests get 503")
		return nil
	}
	port := servicePortRef{number: b.Service.Port.Number, name: b.Service.Port.Name}
	be, p := t.backends.resolve(ns, b.Service.Name, port)
	if p != nil {
		msg := p.message
		if p.severity == SeverityError {
			msg += "; requests get 503"
		}
		t.problem(ref, field()+".service"+p.fieldSuffix, p.severity, p.reason, msg)
	}
	if be == nil {
		return nil
	}
	return []router.WeightedBackend{{Backend: be, Weight: 1}}
}

// ingressHost validates an Ingress rule host and returns its match kind.
func ingressHost(h string) (string, router.HostMatch, string) {
	if h == "" {
		return "", router.HostAny, ""
	}
	h = strings.ToLower(h)
	if _, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
		// The Ingress API forbids IP addresses as hosts: rules match by
		// name, and the Host header of a request to an address is not one.
		return "", 0, fmt.Sprintf("host %q: an IP address is not allowed as an Ingress host", h)
	}
	if isDNSName(strings.TrimPrefix(h, "*.")) {
		if strings.HasPrefix(h, "*.") {
			return h, router.HostWildcardOneLabel, ""
		}
		return h, router.HostExact, ""
	}
	if strings.HasPrefix(h, "*.") {
		if errs := validation.IsWildcardDNS1123Subdomain(h); len(errs) > 0 {
			return "", 0, fmt.Sprintf("host %q: %s", h, strings.Join(errs, "; "))
		}
		return h, router.HostWildcardOneLabel, ""
	}
	if errs := validation.IsDNS1123Subdomain(h); len(errs) > 0 {
		return "", 0, fmt.Sprintf("host %q: %s", h, strings.Join(errs, "; "))
	}
	return h, router.HostExact, ""
}

// ingressPath validates an Ingress path. ImplementationSpecific is served as
// Prefix, as the README documents.
func ingressPath(p networkingv1.HTTPIngressPath) (string, router.PathMatch, string) {
	match := router.PathPrefix
	if p.PathType != nil && *p.PathType == networkingv1.PathTypeExact {
		match = router.PathExact
	}
	if p.PathType != nil {
		switch *p.PathType {
		case networkingv1.PathTypeExact, networkingv1.PathTypePrefix, networkingv1.PathTypeImplementationSpecific:
		default:
			return "", 0, fmt.Sprintf("unknown pathType %q", *p.PathType)
		}
	}
	raw := p.Path
	if raw == "" {
		raw = "/"
	}
	if !strings.HasPrefix(raw, "/") {
		return "", 0, fmt.Sprintf("path %q must start with /", p.Path)
	}
	if strings.ContainsAny(raw, "?#") {
		return "", 0, fmt.Sprintf("path %q must not contain a query or fragment", p.Path)
	}
	canonical, ok := router.CanonicalPath(raw)
	if !ok {
		return "", 0, fmt.Sprintf("path %q has a malformed percent-encoding", p.Path)
	}
	if canonical != raw {
		return "", 0, fmt.Sprintf("path %q is not in canonical form (it would be %q); dot segments, empty segments and needless escapes are not allowed", p.Path, canonical)
	}
	return raw, match, ""
}

// pathConflict is the message of a path that an older claim on its host
// and path keeps from being served.
func pathConflict(host, rawPath string, m router.PathMatch, winner ObjectRef) string {
	return fmt.Sprintf("host %q path %q (%s) is already routed by %s, which is older; this path is not served",
		displayHost(host), rawPath, m, winner)
}

// takeProblems removes and returns the problems found since mark: those
// that count only if the route they belong to wins its claim.
func (t *ingressProcessor) takeProblems(mark int) []Problem {
	if len(t.res.Problems) == mark {
		return nil
	}
	out := slices.Clone(t.res.Problems[mark:])
	t.res.Problems = t.res.Problems[:mark]
	return out
}

func displayHost(h string) string {
	if h == "" {
		return "*"
	}
	return h
}

// isDNSName is a fast check for a lower-case RFC 1123 subdomain, as the API
// server validates it (labels are not limited to 63 characters there);
// names it rejects go through the API machinery validators for a precise
// message.
func isDNSName(h string) bool {
	if len(h) == 0 || len(h) > 253 {
		return false
	}
	label := 0
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			label++
		case c == '-':
			if label == 0 || i+1 == len(h) || h[i+1] == '.' {
				return false
			}
			label++
		case c == '.':
			if label == 0 {
				return false
			}
			label = 0
		default:
			return false
		}
	}
	return label > 0
}

// knownAnnotations are the portico.dev annotations Portico reads.
var knownAnnotations = map[string]bool{
	AnnotationSSLRedirect: true, AnnotationHSTS: true, AnnotationHSTSSubdomains: true, AnnotationHSTSPreload: true,
	AnnotationClientCASecret: true, AnnotationSSLPassthrough: true, AnnotationSecurityPolicy: true, AnnotationTrafficPolicy: true,
}

// foreignPrefixes are annotation prefixes of other ingress controllers
// whose behaviour Portico does not reproduce.
var foreignPrefixes = []string{
	"nginx.ingress.kubernetes.io/", "ingress.kubernetes.io/", "traefik.ingress.kubernetes.io/",
	"haproxy.org/", "haproxy.router.openshift.io/", "projectcontour.io/", "konghq.com/",
	"alb.ingress.kubernetes.io/", "kubernetes.io/tls-acme", "cert-manager.io/",
}

// foreignAnnotations reports annotations Portico does not act on, so a
// migrated Ingress does not silently lose behaviour: unknown portico.dev
// annotations are errors (likely typos), other controllers' are warnings.
// An ingress-nginx Ingress (nginx set) reports its nginx annotations
// through nginxForeign instead.
func (t *ingressProcessor) foreignAnnotations(ing *networkingv1.Ingress, ref ObjectRef, nginx bool) {
	keys := make([]string, 0, len(ing.Annotations))
	for k := range ing.Annotations {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		field := "metadata.annotations[" + k + "]"
		if strings.HasPrefix(k, "portico.dev/") {
			if !knownAnnotations[k] {
				t.problem(ref, field, SeverityError, reasonInvalidAnnotation, fmt.Sprintf("unknown Portico annotation %q; it has no effect", k))
			}
			continue
		}
		if nginx && strings.HasPrefix(k, NginxAnnotationPrefix) {
			continue
		}
		for _, p := range foreignPrefixes {
			if strings.HasPrefix(k, p) {
				t.problem(ref, field, SeverityWarning, "UnsupportedAnnotation", fmt.Sprintf(
					"annotation %q belongs to another ingress controller and is ignored by Portico; see the README for what Portico supports", k))
				break
			}
		}
	}
}
