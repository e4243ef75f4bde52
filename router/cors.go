package router

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Headers of the CORS protocol.
const (
	hOrigin           = "Origin"
	hReqMethod        = "Access-Control-Request-Method"
	hReqHeaders       = "Access-Control-Request-Headers"
	hAllowOrigin      = "Access-Control-Allow-Origin"
	hAllowCreds       = "Access-Control-Allow-Credentials"
	hAllowMethods     = "Access-Control-Allow-Methods"
	hAllowHeaders     = "Access-Control-Allow-Headers"
	hExposeHeaders    = "Access-Control-Expose-Headers"
	hMaxAge           = "Access-Control-Max-Age"
	defaultCORSMaxAge = 5
)

// preflight recognises a CORS preflight request (OPTIONS with Origin and
// Access-Control-Request-Method), which the router answers itself: it sets
// the answer's headers in h and reports true; the caller then answers 200.
func (c *CORS) preflight(x *Exchange, h Headers) bool {
	origin := x.Header.Get(hOrigin)
	if x.Method != http.MethodOptions || origin == "" || x.Header.Get(hReqMethod) == "" {
		return false
	}
	if c.allows(origin) {
		c.originHeaders(h, origin)
		c.exposeHeaders(h)
		if len(c.AllowMethods) > 0 {
			h.Set(hAllowMethods, c.wildOrList(c.AllowMethods, x.Header.Get(hReqMethod)))
		}
		if len(c.AllowHeaders) > 0 {
			if v := c.wildOrList(c.AllowHeaders, x.Header.Get(hReqHeaders)); v != "" {
				h.Set(hAllowHeaders, v)
			}
		}
		maxAge := c.MaxAge
		if maxAge == 0 {
			maxAge = defaultCORSMaxAge
		}
		h.Set(hMaxAge, strconv.Itoa(int(maxAge)))
	}
	h.Add("Vary", hOrigin)
	return true
}

// respond adds the CORS headers of an actual (non-preflight) response.
func (c *CORS) respond(h Headers, origin string) {
	if origin == "" || !c.allows(origin) {
		return
	}
	c.originHeaders(h, origin)
	c.exposeHeaders(h)
	h.Add("Vary", hOrigin)
}

// exposeHeaders lists the exposed response headers (also on preflights,
// as the Gateway API expects); "*" is not sent with credentials, where it
// would mean a header named "*".
func (c *CORS) exposeHeaders(h Headers) {
	if len(c.ExposeHeaders) > 0 && (!c.AllowCredentials || !slices.Contains(c.ExposeHeaders, "*")) {
		h.Set(hExposeHeaders, strings.Join(c.ExposeHeaders, ", "))
	}
}

func (c *CORS) originHeaders(h Headers, origin string) {
	if slices.Contains(c.AllowOrigins, "*") && !c.AllowCredentials {
		h.Set(hAllowOrigin, "*")
	} else {
		h.Set(hAllowOrigin, origin)
	}
	if c.AllowCredentials {
		h.Set(hAllowCreds, "true")
	}
}

// wildOrList renders an allow list: "*" stays "*" without credentials and
// becomes the requested value with them (empty when nothing was asked).
func (c *CORS) wildOrList(list []string, requested string) string {
	if slices.Contains(list, "*") {
		if c.AllowCredentials {
			return requested
		}
		return "*"
	}
	return strings.Join(list, ", ")
}

// allows reports whether an Origin header value matches an allowed origin.
func (c *CORS) allows(origin string) bool {
	scheme, host, port, ok := splitOrigin(origin)
	if !ok {
		return false
	}
	for _, allowed := range c.AllowOrigins {
		if allowed == "*" {
			return true
		}
		as, ah, ap, ok := splitOrigin(allowed)
		if !ok || as != scheme || ap != port {
			continue
		}
		if ah == host || strings.HasPrefix(ah, "*") && strings.HasSuffix(host, ah[1:]) && len(host) > len(ah)-1 &&
			(!c.WildcardOneLabel || !strings.Contains(host[:len(host)-len(ah)+1], ".")) {
			return true
		}
	}
	return false
}

// splitOrigin parses scheme://host[:port], defaulting the port by scheme.
func splitOrigin(o string) (scheme, host, port string, ok bool) {
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// A host pattern with '*' is not a valid URL host; parse by hand.
		s, rest, found := strings.Cut(o, "://")
		if !found || (s != "http" && s != "https") || rest == "" {
			return "", "", "", false
		}
		u = &url.URL{Scheme: s, Host: rest}
	}
	host, port = u.Host, ""
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		host, port = host[:i], host[i+1:]
	}
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return u.Scheme, strings.ToLower(host), port, true
}
