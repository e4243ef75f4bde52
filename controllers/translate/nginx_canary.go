package translate

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/portico-dev/portico/router"
)

// ingress-nginx canaries: an Ingress with canary: "true" claims nothing;
// each of its paths is merged into the route of the main Ingress with the
// same host and path, as routes with header matches ahead of it (by
// header, then by cookie) and as a weighted share of its backends.

func init() {
	registerNginx(
		NginxAnnotation{Name: "canary", Support: NginxDifferent, Default: "false",
			Note: "The canary Ingress's paths join the main Ingress's routes with the same host and path (precedence by header, then cookie, " +
				"then weight) and inherit everything else from the main Ingress, its policies included; the canary's other annotations " +
				"are ignored (reported), except load-balance and upstream-hash-by, which apply to the canary's backend. A canary path " +
				"without a main Ingress of the ingress-nginx class is not served (Error); a second canary for the same path is ignored; " +
				"the canary's default backend is not used. The canary's spec.tls is loaded as for any Ingress."},
		NginxAnnotation{Name: "canary-weight", Support: NginxSupported, Default: "0",
			Note: "The share of the remaining requests (0 to canary-weight-total) sent to the canary."},
		NginxAnnotation{Name: "canary-weight-total", Support: NginxSupported, Default: "100",
			Note: "The total of canary-weight."},
		NginxAnnotation{Name: "canary-by-header", Support: NginxSupported,
			Note: "always: the canary; never: the main backend; any other value: the next rules."},
		NginxAnnotation{Name: "canary-by-header-value", Support: NginxSupported,
			Note: "The header value sending requests to the canary (then always and never mean nothing special)."},
		NginxAnnotation{Name: "canary-by-header-pattern", Support: NginxDifferent,
			Note: "A regular expression (RE2 syntax, not PCRE; unanchored) the header must match; ignored when canary-by-header-value is set. " +
				"An expression RE2 cannot compile is reported and the header rule dropped."},
		NginxAnnotation{Name: "canary-by-cookie", Support: NginxDifferent,
			Note: "Cookie value always: the canary; never: the main backend; else the weight. The cookie is looked for in the first " +
				"Cookie header line."},
	)
	onNginxIngress(0, "canary", nginxCanaryHook)
}

// nginxCanary is the canary settings of a canary Ingress.
type nginxCanary struct {
	weight, total               int
	header, value, pattern, jar string
}

// nginxCanaryPath is one path of a canary Ingress, waiting to be merged.
type nginxCanaryPath struct {
	n        *nginxIngress
	key      claimKey
	field    string
	raw      string // the path as written
	backends []router.WeightedBackend
}

// canaryKept are the annotations a canary Ingress keeps (besides canary-*).
var canaryKept = []string{"load-balance", "upstream-hash-by", "upstream-hash-by-subset", "upstream-hash-by-subset-size",
	"affinity", "affinity-mode", "affinity-canary-behavior"}

var cookieName = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

func nginxCanaryHook(n *nginxIngress) {
	if v, ok := n.value("canary"); !ok || !n.nginxBool("canary", v, false) {
		return
	}
	c := &nginxCanary{total: 100}
	if _, ok := n.value("canary-weight-total"); ok {
		if t := n.positiveInt("canary-weight-total"); t > 0 && t <= 1_000_000 {
			c.total = t
		} else {
			n.problem("canary-weight-total", SeverityError, "InvalidAnnotation", "canary-weight-total must be 1 to 1000000; 100 is used")
		}
	}
	c.weight = min(n.positiveInt("canary-weight"), c.total)
	c.header, _ = n.value("canary-by-header")
	c.header = strings.TrimSpace(c.header)
	if c.header != "" && !headerToken.MatchString(c.header) {
		n.problem("canary-by-header", SeverityError, "InvalidAnnotation", quote(c.header)+" is not a header name; the header rule is dropped")
		c.header = ""
	}
	c.value, _ = n.value("canary-by-header-value")
	if c.value == "" {
		if p, _ := n.value("canary-by-header-pattern"); p != "" {
			if _, err := regexp.Compile(p); err != nil {
				n.problem("canary-by-header-pattern", SeverityError, "InvalidAnnotation", err.Error()+"; the header rule is dropped")
				c.header = ""
			}
			c.pattern = p
		}
	}
	c.jar, _ = n.value("canary-by-cookie")
	c.jar = strings.TrimSpace(c.jar)
	if c.jar != "" && !cookieName.MatchString(c.jar) {
		n.problem("canary-by-cookie", SeverityError, "InvalidAnnotation", quote(c.jar)+" is not a cookie name; the cookie rule is dropped")
		c.jar = ""
	}
	n.canary = c
	if n.ing.Spec.DefaultBackend != nil {
		n.t.problem(n.ref, "spec.defaultBackend", SeverityWarning, "IgnoredOnCanary",
			"the default backend of a canary Ingress is not used (a canary is never a catch-all)")
	}
	var ignored []string
	for k := range n.ing.Annotations {
		name, ok := strings.CutPrefix(k, NginxAnnotationPrefix)
		if !ok || strings.HasPrefix(name, "canary") || slices.Contains(canaryKept, name) || strings.HasPrefix(name, "session-cookie") {
			continue
		}
		if a, known := nginxRegistry[name]; known && a.Support != NginxUnsupported {
			ignored = append(ignored, name)
		}
	}
	slices.Sort(ignored)
	for _, name := range ignored {
		n.problem(name, SeverityWarning, "IgnoredOnCanary", fmt.Sprintf(
			"%s%s is ignored on a canary Ingress: its paths inherit the main Ingress's settings", NginxAnnotationPrefix, name))
	}
}

// addNginxCanary records a canary path for mergeNginxCanaries.
func (t *ingressProcessor) addNginxCanary(n *nginxIngress, key claimKey, field string, p *networkingv1.HTTPIngressPath) {
	bs := t.ingressBackend(n.ref, n.ing.Namespace, &p.Backend, func() string { return field + ".backend" })
	nginxBalanceBackends(n, bs)
	t.canaries = append(t.canaries, nginxCanaryPath{n: n, key: key, field: field, raw: cmp.Or(p.Path, "/"), backends: bs})
}

// mergeNginxCanaries merges each canary path into its main route.
func (t *ingressProcessor) mergeNginxCanaries() {
	if len(t.canaries) == 0 {
		return
	}
	merged := map[claimKey]ObjectRef{}
	routes := t.res.Config.Routes
	var added []router.Route
	for _, cp := range t.canaries {
		main, ok := t.claims[cp.key]
		if !ok {
			t.res.Problems = append(t.res.Problems, canaryWithoutMain(cp.n.ref, cp.field, cp.raw, cp.key, nil))
			continue
		}
		if !t.isNginxRef(main) {
			t.res.Problems = append(t.res.Problems, canaryWithoutMain(cp.n.ref, cp.field, cp.raw, cp.key, &main))
			continue
		}
		if other, dup := merged[cp.key]; dup {
			t.res.Problems = append(t.res.Problems, canaryConflict(cp.n.ref, cp.field, other))
			continue
		}
		merged[cp.key] = cp.n.ref
		for i := range routes {
			r := &routes[i]
			if r.Source.Kind != ingressKind || r.Source.Namespace != main.Namespace || r.Source.Name != main.Name || len(r.Headers) > 0 {
				continue
			}
			if k := routeClaimKey(r); k == cp.key {
				added = append(added, cp.n.canary.routes(r, cp.backends)...)
				r.Backends = cp.n.canary.weighted(r.Backends, cp.backends)
			}
		}
	}
	t.res.Config.Routes = append(t.res.Config.Routes, added...)
}

// canaryWithoutMain is the problem of a canary path that no Ingress
// routes (main nil), or that an Ingress not of the ingress-nginx class
// routes.
func canaryWithoutMain(ref ObjectRef, field, raw string, key claimKey, main *ObjectRef) Problem {
	msg := fmt.Sprintf("canary path %q on host %q has no main Ingress with the same host and path; it is not served", raw, displayHost(key.host))
	if main != nil {
		msg = fmt.Sprintf("canary path %q on host %q: the Ingress routing it, %s, is not of the ingress-nginx class; the canary is not served",
			raw, displayHost(key.host), *main)
	}
	return Problem{Object: ref, Field: field, Severity: SeverityError, Reason: "CanaryWithoutMain", Message: msg}
}

// canaryConflict is the problem of a second canary for a host and path.
func canaryConflict(ref ObjectRef, field string, first ObjectRef) Problem {
	return Problem{Object: ref, Field: field, Severity: SeverityError, Reason: "CanaryConflict", Message: fmt.Sprintf(
		"%s is already the canary of this host and path (one canary per path); this one is ignored", first)}
}

// routeClaimKey is the claim of an Ingress route.
func routeClaimKey(r *router.Route) claimKey {
	k := claimKey{r.HostMatch, r.Host, r.PathMatch, r.Path}
	if r.PathMatch == router.PathPrefix {
		k.path = strings.TrimSuffix(r.Path, "/")
	}
	return k
}

// routes are the header and cookie routes of the canary ahead of main.
func (c *nginxCanary) routes(main *router.Route, canary []router.WeightedBackend) []router.Route {
	var out []router.Route
	add := func(bs []router.WeightedBackend, ms ...router.ValueMatch) {
		r := *main
		r.Backends = slices.Clone(bs)
		r.Headers = ms
		out = append(out, r)
	}
	var undecided []router.ValueMatch // the header rule did not decide
	switch {
	case c.header == "":
	case c.value != "":
		m := router.ValueMatch{Name: c.header, Value: c.value}
		add(canary, m)
		m.Invert = true
		undecided = append(undecided, m)
	case c.pattern != "":
		m := router.ValueMatch{Name: c.header, Value: c.pattern, Regex: true}
		add(canary, m)
		m.Invert = true
		undecided = append(undecided, m)
	default:
		add(canary, router.ValueMatch{Name: c.header, Value: "always"})
		add(main.Backends, router.ValueMatch{Name: c.header, Value: "never"})
		undecided = append(undecided, router.ValueMatch{Name: c.header, Value: "^(always|never)$", Regex: true, Invert: true})
	}
	if c.jar != "" {
		q := regexp.QuoteMeta(c.jar)
		cookie := func(v string) router.ValueMatch {
			return router.ValueMatch{Name: "Cookie", Value: `(^|;)\s*` + q + `=` + v + `\s*(;|$)`, Regex: true}
		}
		add(canary, append(slices.Clone(undecided), cookie("always"))...)
		add(main.Backends, append(slices.Clone(undecided), cookie("never"))...)
	}
	return out
}

// weighted mixes the canary's backends into the main ones by weight.
func (c *nginxCanary) weighted(main, canary []router.WeightedBackend) []router.WeightedBackend {
	switch {
	case c.weight == 0 || len(canary) == 0 || len(main) == 0:
		return main
	case c.weight >= c.total:
		return slices.Clone(canary)
	}
	out := make([]router.WeightedBackend, 0, len(main)+len(canary))
	for _, b := range main {
		b.Weight *= uint32(c.total - c.weight)
		out = append(out, b)
	}
	for _, b := range canary {
		b.Weight *= uint32(c.weight)
		out = append(out, b)
	}
	return out
}

// isNginxRef reports whether an Ingress is of the ingress-nginx class.
func (t *ingressProcessor) isNginxRef(ref ObjectRef) bool {
	for i := range t.snap.Ingresses {
		if ing := &t.snap.Ingresses[i]; ing.Namespace == ref.Namespace && ing.Name == ref.Name {
			return IsNginxIngress(ing, t.snap.IngressClasses, t.opts)
		}
	}
	return false
}
