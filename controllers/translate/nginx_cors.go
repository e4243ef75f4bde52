package translate

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/portico-dev/portico/router"
)

// ingress-nginx's CORS annotations, on router.CORS with its defaults.

func init() {
	registerNginx(
		NginxAnnotation{Name: "enable-cors", Support: NginxDifferent, Default: "false",
			Note: "Preflights (OPTIONS with Origin and Access-Control-Request-Method) are answered 204 with the CORS headers; other " +
				"responses to an allowed Origin get Access-Control-Allow-Origin and friends, refusals of the route's checks (401, 403, limits) " +
				"included. Differences: an OPTIONS without those " +
				"headers goes to the backend, and responses to requests without an allowed Origin get no CORS headers."},
		NginxAnnotation{Name: "cors-allow-origin", Support: NginxDifferent, Default: "*",
			Note: "A comma-separated list of scheme://host[:port], with *. for one subdomain label (as ingress-nginx), or *. With * and credentials " +
				"Portico echoes the request's Origin (browsers refuse * with credentials), without credentials it sends *. Invalid " +
				"entries are skipped, as ingress-nginx does."},
		NginxAnnotation{Name: "cors-allow-methods", Support: NginxSupported, Default: "GET, PUT, POST, DELETE, PATCH, OPTIONS",
			Note: "An invalid list falls back to the default."},
		NginxAnnotation{Name: "cors-allow-headers", Support: NginxSupported,
			Default: "DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization",
			Note:    "An invalid list falls back to the default."},
		NginxAnnotation{Name: "cors-expose-headers", Support: NginxSupported,
			Note: "Access-Control-Expose-Headers; an invalid list is dropped."},
		NginxAnnotation{Name: "cors-allow-credentials", Support: NginxSupported, Default: "true",
			Note: "Access-Control-Allow-Credentials: true when on."},
		NginxAnnotation{Name: "cors-max-age", Support: NginxSupported, Default: "1728000",
			Note: "Access-Control-Max-Age of preflight answers, in seconds."},
	)
	onNginxRoute(300, "cors", nginxCORS)
}

var (
	corsOriginRE  = regexp.MustCompile(`^[a-z]+://(\*\.)?[A-Za-z0-9\-.]*(:\d+)?$`)
	corsMethodsRE = regexp.MustCompile(`^([A-Za-z]+,?\s?)+$`)
	corsHeadersRE = regexp.MustCompile(`^(([A-Za-z0-9\-_]+|\*),?\s?)+$`)
)

const (
	nginxCORSMethods = "GET, PUT, POST, DELETE, PATCH, OPTIONS"
	nginxCORSHeaders = "DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization"
)

// nginxCORS sets a route's CORS policy.
func nginxCORS(n *nginxIngress, _ nginxPath, r *router.Route) {
	if v, _ := n.value("enable-cors"); !n.nginxBool("enable-cors", v, false) {
		return
	}
	c := &router.CORS{PreflightStatus: 204, MaxAge: 1728000, AllowCredentials: true, WildcardOneLabel: true}
	if v, ok := n.value("cors-allow-origin"); ok {
		for _, o := range splitList(v) {
			if o == "*" {
				c.AllowOrigins = []string{"*"}
				break
			}
			if !corsOriginRE.MatchString(o) {
				n.problem("cors-allow-origin", SeverityWarning, "InvalidAnnotation", quote(o)+" is not an origin; it is skipped")
				continue
			}
			c.AllowOrigins = append(c.AllowOrigins, o)
		}
	} else {
		c.AllowOrigins = []string{"*"}
	}
	c.AllowMethods = nginxCORSList(n, "cors-allow-methods", corsMethodsRE, nginxCORSMethods)
	c.AllowHeaders = nginxCORSList(n, "cors-allow-headers", corsHeadersRE, nginxCORSHeaders)
	c.ExposeHeaders = nginxCORSList(n, "cors-expose-headers", corsHeadersRE, "")
	if v, ok := n.value("cors-allow-credentials"); ok {
		c.AllowCredentials = n.nginxBool("cors-allow-credentials", v, true)
	}
	if v, ok := n.value("cors-max-age"); ok {
		if age, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && age >= 0 && age <= 1<<31-1 {
			c.MaxAge = int32(age)
		} else {
			n.problem("cors-max-age", SeverityWarning, "InvalidAnnotation", quote(v)+" is not a number of seconds; 1728000 is used")
		}
	}
	r.CORS = c
}

// nginxCORSList reads a CORS list annotation, falling back to def.
func nginxCORSList(n *nginxIngress, name string, re *regexp.Regexp, def string) []string {
	v, ok := n.value(name)
	if ok && !re.MatchString(v) {
		n.problem(name, SeverityWarning, "InvalidAnnotation", quote(v)+" is not a valid list; the default is used")
		ok = false
	}
	if !ok {
		v = def
	}
	return splitList(v)
}

// nginxBool parses an ingress-nginx boolean ("true"/"false", as
// strconv.ParseBool), def when invalid (with a warning).
func (n *nginxIngress) nginxBool(name, v string, def bool) bool {
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		n.problem(name, SeverityWarning, "InvalidAnnotation", quote(v)+" is not true or false; "+strconv.FormatBool(def)+" is used")
		return def
	}
	return b
}
