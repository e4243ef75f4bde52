package translate

import (
	"cmp"
	"fmt"
	"iter"
	"regexp"
	"slices"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/portico-dev/portico/router"
)

// use-regex and rewrite-target, with ingress-nginx's quirks: once any
// Ingress of the class sets use-regex, or a rewrite-target that differs
// from a path, on a host, every path of that host (across all its
// ingress-nginx Ingresses, whatever their pathType) is a case-insensitive
// regular expression anchored at the start only, tried longest first.
// rewrite-target then replaces the whole path with the target, $1…$9
// standing for the path expression's groups.

func init() {
	registerNginx(
		NginxAnnotation{Name: "use-regex", Support: NginxDifferent, Default: "false",
			Note: "as ingress-nginx: every path of the host, on every ingress-nginx Ingress, becomes a case-insensitive " +
				"expression anchored at the start only (Exact and Prefix paths too), tried longest path first. " +
				"Differences: expressions are RE2, not PCRE (no lookaround or backreferences; such a path is reported and not served), " +
				"and they match the canonical path, in which reserved characters stay percent-encoded (nginx matches the decoded path)."},
		NginxAnnotation{Name: "rewrite-target", Support: NginxSupported,
			Note: "the whole forwarded path becomes the target, $1…$9 being the groups of the path expression (matched case-insensitively, " +
				"on the canonical path in which reserved characters stay percent-encoded, where nginx uses the decoded path, so a group never turns %2F into a segment); the query is kept. It makes every path of the host a regular expression, " +
				"as use-regex does. Only $0…$9 may follow a $; the rewritten path is canonicalised (no dot segments or empty segments) " +
				"before it is forwarded, where nginx forwards it as it is."},
	)
	onNginxRoute(10, "rewrite-target", nginxRewriteRoute)
}

// nginxRegexHostsOf yields the hosts of an ingress-nginx Ingress's rules
// that have a path its annotations make a regular expression (a host may
// come more than once).
func nginxRegexHostsOf(ing *networkingv1.Ingress) iter.Seq[string] {
	return func(yield func(string) bool) {
		for _, rule := range ing.Spec.Rules {
			if rule.HTTP == nil {
				continue
			}
			h, _, err := ingressHost(rule.Host)
			if err != "" {
				continue
			}
			for _, p := range rule.HTTP.Paths {
				if nginxPathIsRegex(ing, p.Path) {
					if !yield(h) {
						return
					}
					break
				}
			}
		}
	}
}

// nginxRegexHost reports whether the paths of host (as a route has it) are
// regular expressions under ingress-nginx's rules, looking at every
// ingress-nginx Ingress of the snapshot once.
func (t *ingressProcessor) nginxRegexHost(host string) bool {
	if t.frag != nil {
		// The Engine's per-Ingress translation: its index counts the
		// Ingresses making each host's paths expressions, and re-translates
		// those that asked when the answer changes.
		t.frag.askedRegex = append(t.frag.askedRegex, host)
		return t.hosts.regexHosts[host] > 0
	}
	if t.nginxRegex == nil {
		t.nginxRegex = map[string]bool{}
		for i := range t.snap.Ingresses {
			ing := &t.snap.Ingresses[i]
			if !hasNginxAnnotation(ing) || !IsNginxIngress(ing, t.snap.IngressClasses, t.opts) {
				continue
			}
			for h := range nginxRegexHostsOf(ing) {
				t.nginxRegex[h] = true
			}
		}
	}
	return t.nginxRegex[host]
}

// nginxPathIsRegex is ingress-nginx's test for a location that makes its
// server's paths regular expressions: use-regex, or a rewrite-target other
// than the path itself.
func nginxPathIsRegex(ing *networkingv1.Ingress, path string) bool {
	if v := ing.Annotations[NginxAnnotationPrefix+"use-regex"]; strings.EqualFold(strings.TrimSpace(v), "true") {
		return true
	}
	target, ok := ing.Annotations[NginxAnnotationPrefix+"rewrite-target"]
	if path == "" {
		path = "/"
	}
	return ok && target != "" && target != path
}

// nginxRegexPath is an ingress-nginx path on a regex host as a route path:
// nginx's `location ~* "^PATH"`, that is a case-insensitive search for PATH
// with ^ (so alternatives after the first are not anchored), accepting any
// rest. The router anchors route expressions at both ends.
func nginxRegexPath(p networkingv1.HTTPIngressPath) (string, router.PathMatch, string) {
	raw := p.Path
	if raw == "" {
		raw = "/"
	}
	if strings.ContainsAny(raw, "\r\n\x00") {
		return "", 0, fmt.Sprintf("path %q holds a control character", p.Path)
	}
	if _, err := regexp.Compile("(?i)" + raw); err != nil {
		return "", 0, fmt.Sprintf("path %q is treated as a regular expression (use-regex or rewrite-target on this host) "+
			"but is not valid RE2 (ingress-nginx uses PCRE; lookaround and backreferences have no RE2 equivalent): %v; it is not served", p.Path, err)
	}
	return "(?i)(?s:.*?)(?:^" + raw + ")(?s:.*)", router.PathRegularExpression, ""
}

// nginxRewriteRoute applies rewrite-target to a route of a regex host.
func nginxRewriteRoute(n *nginxIngress, p nginxPath, r *router.Route) {
	target, ok := n.value("rewrite-target")
	raw := p.raw
	if raw == "" {
		raw = "/"
	}
	if !ok || target == "" || target == raw || r.PathMatch != router.PathRegularExpression {
		return
	}
	value, msg := nginxRewriteTarget(target)
	if msg != "" {
		n.problem("rewrite-target", SeverityError, reasonInvalidAnnotation, msg+"; requests for this path get 500")
		r.Backends = []router.WeightedBackend{{Backend: &router.Backend{Name: "invalid-rewrite-target", Status: 500,
			Reason: "invalid rewrite-target"}, Weight: 1}}
		return
	}
	r.Rewrite = &router.Rewrite{Path: &router.PathModifier{Regex: "(?i)(?s:.*?)(?:" + raw + ")(?s:.*)", Value: value}}
}

// nginxRewriteTarget checks a rewrite-target as ingress-nginx validates
// it (a path of letters, digits, - . _ ~ / : and $) and turns nginx's
// $1 into ${1}, so that a digit or letter after it is literal.
func nginxRewriteTarget(target string) (string, string) {
	var b strings.Builder
	for i := 0; i < len(target); i++ {
		c := target[i]
		switch {
		case c == '$':
			if i+1 >= len(target) || target[i+1] < '0' || target[i+1] > '9' {
				return "", fmt.Sprintf("rewrite-target %q: only $0 to $9 (groups of the path expression) may follow a $; "+
					"nginx variables are not supported", target)
			}
			b.WriteString("${" + string(target[i+1]) + "}")
			i++
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.IndexByte("-._~/:", c) >= 0:
			b.WriteByte(c)
		default:
			return "", fmt.Sprintf("rewrite-target %q: character %q is not allowed (ingress-nginx allows letters, digits, - . _ ~ / : and $n)", target, c)
		}
	}
	return b.String(), ""
}

// nginxSortRegex orders the regex routes of ingress-nginx Ingresses as
// ingress-nginx orders a server's locations, which nginx tries in turn:
// longest path first, equal lengths in reverse lexical order. Only their
// positions among themselves change.
func (t *ingressProcessor) nginxSortRegex() {
	if t.nginxRegex == nil {
		return
	}
	sortNginxRegex(t.res.Config.Routes, func(h string) bool { return t.nginxRegex[h] })
}

// sortNginxRegex is nginxSortRegex on a list of routes, regex telling the
// hosts whose paths are expressions.
func sortNginxRegex(routes []router.Route, regex func(host string) bool) {
	var at []int
	for i := range routes {
		if routes[i].Source.Kind == ingressKind && routes[i].PathMatch == router.PathRegularExpression && regex(routes[i].Host) {
			at = append(at, i)
		}
	}
	sorted := make([]router.Route, len(at))
	for i, j := range at {
		sorted[i] = routes[j]
	}
	slices.SortStableFunc(sorted, func(a, b router.Route) int {
		return cmp.Or(cmp.Compare(len(b.Path), len(a.Path)), strings.Compare(b.Path, a.Path))
	})
	for i, j := range at {
		routes[j] = sorted[i]
	}
}
