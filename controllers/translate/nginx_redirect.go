package translate

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/portico-dev/portico/router"
)

// Redirect annotations of ingress-nginx: ssl-redirect and
// force-ssl-redirect (308 to https), app-root (302 from / to the
// application root), permanent-redirect and temporal-redirect (the route
// answers a fixed URL) and from-to-www-redirect (308 between a host and its
// www. twin).

func init() {
	registerNginx(
		NginxAnnotation{Name: "ssl-redirect", Support: NginxDifferent, Default: "true",
			Note: "plain-HTTP requests for a host named in some Ingress's spec.tls get a 308 to https (ConfigMap key ssl-redirect sets the default). " +
				"Differences: the path keeps its trailing slash (preserve-trailing-slash \"true\"), the https port is the one Portico is told clients use, " +
				"and X-Forwarded-Proto decides only with the ConfigMap's use-forwarded-headers \"true\" and only from peers in --trusted-proxies " +
				"(from others the connection's scheme decides; the Location keeps the request's Host, not X-Forwarded-Host)."},
		NginxAnnotation{Name: "force-ssl-redirect", Support: NginxDifferent, Default: "false",
			Note: "plain-HTTP requests get a 308 to https even without spec.tls (ConfigMap key force-ssl-redirect sets the default); " +
				"as ssl-redirect, the trailing slash is kept, and X-Forwarded-Proto of a peer in --trusted-proxies decides with use-forwarded-headers \"true\" " +
				"(a request it says came as https is not redirected)."},
		NginxAnnotation{Name: "preserve-trailing-slash", Support: NginxDifferent, Default: "false",
			Note: "Portico's HTTPS redirects always keep the trailing slash (the behaviour of \"true\")."},
		NginxAnnotation{Name: "app-root", Support: NginxDifferent,
			Note: "a request for exactly / on the Ingress's hosts gets a 302 to the application root on the same scheme and host; " +
				"the query string is kept (nginx drops it), and over plain HTTP on a TLS host the HTTPS redirect comes first."},
		NginxAnnotation{Name: "permanent-redirect", Support: NginxSupported,
			Note: "the route answers permanent-redirect-code (default 301) with the URL as Location, which must be http(s) and use only the characters ingress-nginx allows."},
		NginxAnnotation{Name: "permanent-redirect-code", Support: NginxSupported, Default: "301",
			Note: "a code outside 300-308 falls back to 301, as ingress-nginx does."},
		NginxAnnotation{Name: "temporal-redirect", Support: NginxSupported,
			Note: "as permanent-redirect with temporal-redirect-code (default 302); it wins over permanent-redirect, as in ingress-nginx."},
		NginxAnnotation{Name: "temporal-redirect-code", Support: NginxSupported, Default: "302",
			Note: "a code outside 300-307 falls back to 302, as ingress-nginx does."},
		NginxAnnotation{Name: "from-to-www-redirect", Support: NginxDifferent, Default: "false",
			Note: "requests for the www. twin of each rule host (or the host without www. for a www. host) get a 308 to the rule host, keeping scheme, path and query; " +
				"skipped when another Ingress routes the twin host. Differences: the Location omits a default port and keeps a trailing slash."},
	)
	onNginxIngress(20, "ssl-redirect", nginxSSLRedirect)
	onNginxIngress(21, "app-root", nginxAppRoot)
	onNginxIngress(22, "from-to-www-redirect", nginxFromToWWW)
	onNginxRoute(20, "redirects", nginxRedirectRoute)
}

// nginxURLChars are the characters ingress-nginx allows in a redirect URL.
var nginxURLChars = regexp.MustCompile(`^[-._~a-zA-Z0-9/:,?&=]*$`)

// nginxSSLRedirect turns the HTTPS redirect of the Ingress off when
// ssl-redirect (or the ConfigMap default) says so.
func nginxSSLRedirect(n *nginxIngress) {
	if !n.routingBool("ssl-redirect", n.globalBool("ssl-redirect", true), "true", "false") {
		n.t.noRedirect[ingressKind+"/"+n.ing.Namespace+"/"+n.ing.Name] = true
	}
}

// nginxRedirectRoute applies force-ssl-redirect and the fixed redirects to
// a route.
func nginxRedirectRoute(n *nginxIngress, _ nginxPath, r *router.Route) {
	if n.routingBool("force-ssl-redirect", n.globalBool("force-ssl-redirect", false), "true", "false") {
		r.HTTPSRedirect = true
	}
	// use-forwarded-headers: the scheme a trusted proxy forwards decides
	// the HTTPS redirects (ssl-redirect's are set later, on TLS hosts).
	r.ForwardedProto = n.globalBool("use-forwarded-headers", false)
	name, def, max := "permanent-redirect", http.StatusMovedPermanently, http.StatusPermanentRedirect
	if _, ok := n.value("temporal-redirect"); ok {
		name, def, max = "temporal-redirect", http.StatusFound, http.StatusTemporaryRedirect
	}
	loc, ok := n.value(name)
	if !ok || loc == "" {
		return
	}
	code := def
	if v, ok := n.value(name + "-code"); ok {
		c, err := strconv.Atoi(strings.TrimSpace(v))
		switch {
		case err != nil:
			n.problem(name+"-code", SeverityError, reasonInvalidAnnotation, fmt.Sprintf("%q is not an integer; using %d", v, def))
		case c < http.StatusMultipleChoices || c > max:
			n.problem(name+"-code", SeverityWarning, reasonInvalidAnnotation, fmt.Sprintf("%d is not a redirect code (300-%d); using %d as ingress-nginx does", c, max, def))
		default:
			code = c
		}
	}
	if msg := checkRedirectURL(loc); msg != "" {
		n.problem(name, SeverityError, reasonInvalidAnnotation, msg+"; requests for this route get 500")
		r.Backends = []router.WeightedBackend{{Backend: &router.Backend{Name: "invalid-" + name, Status: 500, Reason: "invalid " + name}, Weight: 1}}
		return
	}
	r.Redirect = &router.Redirect{Location: loc, StatusCode: code}
}

// checkRedirectURL validates a redirect URL as ingress-nginx does: its
// characters, and an http or https scheme with a host.
func checkRedirectURL(loc string) string {
	if !nginxURLChars.MatchString(loc) {
		return fmt.Sprintf("redirect URL %q holds characters ingress-nginx does not allow (letters, digits and - . _ ~ / : , ? & = only)", loc)
	}
	u, err := url.Parse(loc)
	if err != nil {
		return fmt.Sprintf("redirect URL %q: %v", loc, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Sprintf("redirect URL %q must be absolute with the http or https scheme", loc)
	}
	return ""
}

// nginxAppRoot adds, for each rule host, a route for exactly / answering a
// 302 to the application root.
func nginxAppRoot(n *nginxIngress) {
	root, ok := n.value("app-root")
	if !ok || root == "" {
		return
	}
	u, err := url.ParseRequestURI(root)
	if err != nil || !strings.HasPrefix(root, "/") || u.RawQuery != "" || !isCleanAppRoot(root) {
		n.problem("app-root", SeverityError, reasonInvalidAnnotation, fmt.Sprintf(
			"%q must be an absolute path of letters, digits and - . _ ~ / :; it is ignored, as ingress-nginx ignores it", root))
		return
	}
	for ri, rule := range n.ing.Spec.Rules {
		host, hm, herr := ingressHost(rule.Host)
		if herr != "" {
			continue
		}
		n.addRoute(router.Route{Host: host, HostMatch: hm, Path: "/", PathMatch: router.PathExact,
			Redirect: &router.Redirect{Path: &router.PathModifier{Value: root}, StatusCode: http.StatusFound},
			Source:   router.Source{Kind: ingressKind, Namespace: n.ing.Namespace, Name: n.ing.Name, Rule: ri, Path: -1}},
			fmt.Sprintf("spec.rules[%d]", ri))
	}
}

func isCleanAppRoot(p string) bool {
	c, ok := router.CanonicalPath(p)
	return ok && c == p && strings.Trim(p, "-._~/:abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") == ""
}

// nginxFromToWWW adds, for each exact rule host, a route on its www. twin
// (or the host without www.) redirecting there with a 308.
func nginxFromToWWW(n *nginxIngress) {
	if !n.routingBool("from-to-www-redirect", false, "true", "false") {
		return
	}
	for ri, rule := range n.ing.Spec.Rules {
		host, hm, herr := ingressHost(rule.Host)
		if herr != "" || hm != router.HostExact {
			continue
		}
		from := "www." + host
		if h, ok := strings.CutPrefix(host, "www."); ok {
			from = h
		}
		if n.t.hostRouted(from) {
			n.problem("from-to-www-redirect", SeverityWarning, "RedirectSkipped", fmt.Sprintf(
				"host %q is routed by an Ingress, so it is not redirected to %q (as ingress-nginx omits the redirect)", from, host))
			continue
		}
		n.addRoute(router.Route{Host: from, HostMatch: router.HostExact, Path: "/", PathMatch: router.PathPrefix,
			Redirect: &router.Redirect{Hostname: host, StatusCode: http.StatusPermanentRedirect},
			Source:   router.Source{Kind: ingressKind, Namespace: n.ing.Namespace, Name: n.ing.Name, Rule: ri, Path: -1}},
			fmt.Sprintf("spec.rules[%d].host", ri))
	}
}

// hostRouted reports whether an Ingress of the snapshot has a rule for
// host.
func (t *ingressProcessor) hostRouted(host string) bool {
	if t.frag != nil {
		// The Engine's per-Ingress translation: see nginxRegexHost.
		h := strings.ToLower(host)
		t.frag.askedRouted = append(t.frag.askedRouted, h)
		return t.hosts.ruleHosts[h] > 0
	}
	for i := range t.snap.Ingresses {
		for _, r := range t.snap.Ingresses[i].Spec.Rules {
			if strings.EqualFold(r.Host, host) {
				return true
			}
		}
	}
	return false
}

// addRoute adds a route an annotation makes beside the Ingress's paths.
func (n *nginxIngress) addRoute(r router.Route, field string) {
	t := n.t
	key := claimKey{r.HostMatch, r.Host, r.PathMatch, r.Path}
	if r.PathMatch == router.PathPrefix {
		key.path = strings.TrimSuffix(r.Path, "/")
	}
	if t.frag != nil {
		t.frag.routes = append(t.frag.routes, fragRoute{key: key, route: r, field: field, rawPath: r.Path, warnConflict: true})
		return
	}
	if winner, taken := t.claims[key]; taken {
		t.problem(n.ref, field, SeverityWarning, reasonRouteConflict, pathConflict(r.Host, r.Path, r.PathMatch, winner))
		return
	}
	t.claims[key] = n.ref
	t.res.Config.Routes = append(t.res.Config.Routes, r)
}
