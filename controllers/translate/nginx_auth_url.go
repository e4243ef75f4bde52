package translate

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/portico-dev/portico/router"
)

// ingress-nginx's external authentication (auth-url and friends), on the
// router's HTTP ExtAuth with nginx auth_request semantics.

func init() {
	registerNginx(
		NginxAnnotation{Name: "auth-url", Support: NginxDifferent,
			Note: "Every request is first sent (headers only, GET unless auth-method) to the URL with X-Original-URL, X-Original-Method, " +
				"X-Sent-From, X-Real-IP, X-Forwarded-For and X-Auth-Request-Redirect; 2xx admits it, 401 and 403 are answered to the client, " +
				"anything else (or an unreachable service) is answered 500. $host, $http_host and $server_name in the URL are replaced " +
				"by the rule's host (exact hosts only); other nginx variables are refused. An invalid URL makes the routes answer 500. " +
				"The client gets Portico's own text for 401/403, not the auth service's body."},
		NginxAnnotation{Name: "auth-method", Support: NginxSupported,
			Note: "The method of the auth request; X-Original-URI and X-Scheme are then sent too."},
		NginxAnnotation{Name: "auth-signin", Support: NginxDifferent,
			Note: "A 401 from the auth service becomes a 302 to this URL with rd= the original URL (query-escaped as a whole), unless the URL " +
				"already has the parameter; Set-Cookie of the auth answer goes with it. $host is replaced as in auth-url; " +
				"$scheme, $request_uri and $escaped_request_uri are filled in per request; other variables are refused (plain 401)."},
		NginxAnnotation{Name: "auth-signin-redirect-param", Support: NginxSupported, Default: "rd",
			Note: "The query parameter of auth-signin carrying the original URL."},
		NginxAnnotation{Name: "auth-response-headers", Support: NginxSupported,
			Note: "These headers of a 2xx auth answer are copied to the request sent upstream; a client's own values are removed."},
		NginxAnnotation{Name: "auth-request-redirect", Support: NginxDifferent,
			Note: "The X-Auth-Request-Redirect value sent to the auth service (default: the request URI); taken literally, nginx variables are not expanded."},
		NginxAnnotation{Name: "auth-cache-key", Support: NginxUnsupported,
			Note: "Auth answers are not cached: every request asks the auth service."},
		NginxAnnotation{Name: "auth-cache-duration", Support: NginxUnsupported,
			Note: "Auth answers are not cached: every request asks the auth service."},
		NginxAnnotation{Name: "auth-proxy-set-headers", Support: NginxUnsupported,
			Note: "The headers of the named ConfigMap are not sent to the auth service (only the client's own headers and the X-Original-* set)."},
		NginxAnnotation{Name: "auth-always-set-cookie", Support: NginxUnsupported,
			Note: "Set-Cookie of a successful auth answer is not passed to the client (only with a sign-in redirect)."},
		NginxAnnotation{Name: "auth-keepalive", Support: NginxDifferent,
			Note: "Accepted: Portico always keeps connections to the auth service alive (up to 64 idle)."},
		NginxAnnotation{Name: "auth-keepalive-requests", Support: NginxDifferent, Default: "1000",
			Note: "Accepted and ignored: connections to the auth service are reused without a request count limit."},
		NginxAnnotation{Name: "auth-keepalive-timeout", Support: NginxDifferent, Default: "60",
			Note: "Accepted and ignored: idle connections to the auth service close after 90 s."},
		NginxAnnotation{Name: "auth-keepalive-share-vars", Support: NginxUnsupported,
			Note: "No nginx variables are shared with the auth request (no common X-Request-ID)."},
	)
	onNginxIngress(120, "auth-url", nginxAuthURL)
}

// nginxHostVar matches the nginx variables naming the request's host.
var nginxHostVar = regexp.MustCompile(`\$(host|http_host|server_name)\b|\$\{(host|http_host|server_name)\}`)

// nginxRequestVars are those the router fills in per request (sign-in).
var nginxRequestVar = regexp.MustCompile(`\$(escaped_request_uri|request_uri|scheme|pass_access_scheme)\b`)

var headerToken = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// nginxAuthURL reads auth-url and its companions.
func nginxAuthURL(n *nginxIngress) {
	if n.canary != nil {
		return
	}
	raw, ok := n.value("auth-url")
	if !ok {
		return
	}
	raw = strings.TrimSpace(raw)
	np := n.pol()
	if nginxHostVar.MatchString(raw) {
		np.hostURLs = true
	}
	probe := nginxHostVar.ReplaceAllString(raw, "host.invalid")
	if u, err := url.Parse(probe); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Contains(probe, "$") {
		n.failClosed("auth-url", "InvalidAnnotation", "auth-url "+quote(raw)+" is not an http(s) URL (of nginx variables only $host is supported)")
		return
	}
	ar := &router.AuthRequest{}
	if m, ok := n.value("auth-method"); ok && m != "" {
		m = strings.ToUpper(strings.TrimSpace(m))
		switch m {
		case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete,
			http.MethodConnect, http.MethodOptions, http.MethodTrace:
			ar.Method = m
		default:
			n.failClosed("auth-method", "InvalidAnnotation", "auth-method "+quote(m)+" is not an HTTP method")
			return
		}
	}
	if v, ok := n.value("auth-request-redirect"); ok {
		if strings.ContainsAny(v, "\r\n\x00") {
			n.failClosed("auth-request-redirect", "InvalidAnnotation", "auth-request-redirect has control characters")
			return
		}
		ar.RequestRedirect = v
	}
	if v, ok := n.value("auth-signin"); ok && strings.TrimSpace(v) != "" {
		v = strings.TrimSpace(v)
		probe := nginxRequestVar.ReplaceAllString(nginxHostVar.ReplaceAllString(v, "host.invalid"), "x")
		if u, err := url.Parse(probe); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Contains(probe, "$") {
			n.problem("auth-signin", SeverityError, "InvalidAnnotation", "auth-signin "+quote(v)+
				" is not an http(s) URL with only $host, $scheme, $request_uri or $escaped_request_uri; 401 answers are not redirected")
		} else {
			if nginxHostVar.MatchString(v) {
				np.hostURLs = true
			}
			ar.SigninURL = v
		}
	}
	if v, ok := n.value("auth-signin-redirect-param"); ok && v != "" {
		if !headerToken.MatchString(v) {
			n.problem("auth-signin-redirect-param", SeverityError, "InvalidAnnotation", quote(v)+" is not a parameter name; rd is used")
		} else {
			ar.SigninParam = v
		}
	}
	ea := &router.ExtAuth{HTTP: &router.HTTPExtAuth{URL: raw, AuthRequest: ar}}
	if v, ok := n.value("auth-response-headers"); ok {
		for _, h := range splitList(v) {
			if !headerToken.MatchString(h) {
				n.failClosed("auth-response-headers", "InvalidAnnotation", quote(h)+" is not a header name")
				return
			}
			ea.HTTP.HeadersToBackend = append(ea.HTTP.HeadersToBackend, h)
		}
	}
	np.p.ExtAuth = ea
}

// withHost returns the auth settings with the host variables replaced by
// a rule's host.
func withHost(ea *router.ExtAuth, host string) *router.ExtAuth {
	out := *ea
	h := *ea.HTTP
	ar := *h.AuthRequest
	h.URL = nginxHostVar.ReplaceAllLiteralString(h.URL, host)
	ar.SigninURL = nginxHostVar.ReplaceAllLiteralString(ar.SigninURL, host)
	h.AuthRequest = &ar
	out.HTTP = &h
	return &out
}
