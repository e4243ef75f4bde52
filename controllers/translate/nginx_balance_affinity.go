package translate

import (
	"strconv"
	"strings"
	"time"

	"github.com/portico-dev/portico/router"
)

// ingress-nginx's cookie affinity, on the router's session persistence.

func init() {
	registerNginx(
		NginxAnnotation{Name: "affinity", Support: NginxDifferent,
			Note: "\"cookie\" keeps a client on one endpoint with a session cookie (HttpOnly, as ingress-nginx). The cookie holds an opaque " +
				"token, not ingress-nginx's value, so existing sessions start over once. Other values are reported and ignored. Paths of " +
				"other Ingresses of the host are not affected (ingress-nginx balances them at random)."},
		NginxAnnotation{Name: "affinity-mode", Support: NginxSupported, Default: "balanced",
			Note: "balanced: sessions are hashed onto the current endpoints (scaling up moves a fair share); persistent: a session stays on its endpoint while it exists."},
		NginxAnnotation{Name: "affinity-canary-behavior", Support: NginxUnsupported,
			Note: "Not honoured: canary routes inherit the main Ingress's affinity, and a canary Ingress's own affinity annotations are ignored."},
		NginxAnnotation{Name: "session-cookie-name", Support: NginxSupported, Default: "INGRESSCOOKIE",
			Note: "The name of the session cookie."},
		NginxAnnotation{Name: "session-cookie-path", Support: NginxSupported,
			Note: "The cookie's Path (default: the Ingress path)."},
		NginxAnnotation{Name: "session-cookie-domain", Support: NginxSupported,
			Note: "The cookie's Domain."},
		NginxAnnotation{Name: "session-cookie-max-age", Support: NginxSupported,
			Note: "The cookie's Max-Age, in seconds."},
		NginxAnnotation{Name: "session-cookie-expires", Support: NginxSupported,
			Note: "Expires that many seconds after the answer."},
		NginxAnnotation{Name: "session-cookie-samesite", Support: NginxSupported,
			Note: "None, Lax or Strict."},
		NginxAnnotation{Name: "session-cookie-conditional-samesite-none", Support: NginxUnsupported,
			Note: "SameSite=None is sent to every browser."},
		NginxAnnotation{Name: "session-cookie-secure", Support: NginxDifferent,
			Note: "\"true\" marks the cookie Secure. Unlike ingress-nginx, the cookie is not marked Secure on HTTPS requests by default " +
				"(it is with SameSite=None)."},
		NginxAnnotation{Name: "session-cookie-change-on-failure", Support: NginxSupported, Default: "false",
			Note: "A retried request moves the session to the endpoint that answered; without it retries stay on the session's endpoint."},
	)
	onNginxRoute(410, "affinity", nginxAffinity)
}

// nginxAffinity sets a route's session persistence.
func nginxAffinity(n *nginxIngress, p nginxPath, r *router.Route) {
	at, ok := n.value("affinity")
	if !ok || at == "" {
		return
	}
	if at != "cookie" {
		n.problem("affinity", SeverityWarning, "InvalidAnnotation", quote(at)+" is not cookie, the only affinity type; it is ignored")
		return
	}
	c := &router.SessionCookie{Name: "INGRESSCOOKIE", HTTPOnly: true, Path: p.raw}
	if c.Path == "" || strings.ContainsAny(c.Path, "; \t\",") {
		c.Path = "/"
	}
	if v, ok := n.value("session-cookie-name"); ok && v != "" {
		if !cookieName.MatchString(v) {
			n.problem("session-cookie-name", SeverityWarning, "InvalidAnnotation", quote(v)+" is not a cookie name; INGRESSCOOKIE is used")
		} else {
			c.Name = v
		}
	}
	if v, ok := n.value("session-cookie-path"); ok && v != "" {
		if !strings.HasPrefix(v, "/") || strings.ContainsAny(v, "; \t\r\n\",") {
			n.problem("session-cookie-path", SeverityWarning, "InvalidAnnotation", quote(v)+" is not a cookie path; the Ingress path is used")
		} else {
			c.Path = v
		}
	}
	if v, ok := n.value("session-cookie-domain"); ok && v != "" {
		if !isDNSName(strings.ToLower(strings.TrimPrefix(v, "."))) {
			n.problem("session-cookie-domain", SeverityWarning, "InvalidAnnotation", quote(v)+" is not a domain; no Domain is sent")
		} else {
			c.Domain = v
		}
	}
	c.MaxAge = n.seconds("session-cookie-max-age")
	c.Expires = n.seconds("session-cookie-expires")
	if v, ok := n.value("session-cookie-samesite"); ok && v != "" {
		switch strings.ToLower(v) {
		case "none", "lax", "strict":
			c.SameSite = strings.ToUpper(v[:1]) + strings.ToLower(v[1:])
		default:
			n.problem("session-cookie-samesite", SeverityWarning, "InvalidAnnotation", quote(v)+" is not None, Lax or Strict; it is not sent")
		}
	}
	if v, ok := n.value("session-cookie-secure"); ok {
		c.Secure = n.nginxBool("session-cookie-secure", v, false)
	}
	s := &router.SessionPersistence{Cookie: c, Mode: router.SessionBalanced}
	if v, ok := n.value("affinity-mode"); ok {
		switch v {
		case "balanced", "":
		case "persistent":
			s.Mode = router.SessionPersistent
		default:
			n.problem("affinity-mode", SeverityWarning, "InvalidAnnotation", quote(v)+" is not balanced or persistent; balanced is used")
		}
	}
	if v, ok := n.value("session-cookie-change-on-failure"); ok {
		s.ChangeOnFailure = n.nginxBool("session-cookie-change-on-failure", v, false)
	}
	if err := s.Check(); err != nil {
		n.problem("affinity", SeverityError, "InvalidAnnotation", err.Error()+"; affinity is off")
		return
	}
	r.Session = s
}

// seconds reads a number of seconds (0 when absent or invalid, with a
// warning for the latter).
func (n *nginxIngress) seconds(name string) time.Duration {
	v, ok := n.value(name)
	if !ok || v == "" {
		return 0
	}
	i, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || i < 0 || i > 1<<31 {
		n.problem(name, SeverityWarning, "InvalidAnnotation", quote(v)+" is not a number of seconds; it is ignored")
		return 0
	}
	return time.Duration(i) * time.Second
}
