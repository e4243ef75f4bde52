package translate

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/portico-dev/portico/router"
)

// Backend annotations of ingress-nginx: the protocol spoken to the
// backend, the Host and X-Forwarded-Prefix sent to it, timeouts and
// retries, and TLS passthrough.

func init() {
	registerNginx(
		NginxAnnotation{Name: "backend-protocol", Support: NginxDifferent, Default: "HTTP",
			Note: "HTTP (HTTP/1.1), GRPC (cleartext HTTP/2), HTTPS and GRPCS (TLS as the proxy-ssl-* annotations say: by default the backend certificate is not verified and no SNI is sent, as ingress-nginx). " +
				"AUTO_HTTP speaks HTTP/1.1 (ingress-nginx uses the client's scheme, so HTTPS for HTTPS clients); FCGI is not supported (the route answers 502)."},
		NginxAnnotation{Name: "upstream-vhost", Support: NginxSupported,
			Note: "the Host header sent to the backend."},
		NginxAnnotation{Name: "x-forwarded-prefix", Support: NginxSupported,
			Note: "sets the X-Forwarded-Prefix request header to the value."},
		NginxAnnotation{Name: "proxy-connect-timeout", Support: NginxDifferent, Default: "5",
			Note: "seconds (ConfigMap proxy-connect-timeout); Portico bounds the connection with its own dial timeout, so the value is validated and otherwise not used."},
		NginxAnnotation{Name: "proxy-read-timeout", Support: NginxDifferent, Default: "60",
			Note: "seconds (ConfigMap proxy-read-timeout). nginx bounds the time between two reads of the response; Portico bounds each attempt as a whole " +
				"with read + send timeout, so a response streaming longer is cut off; unset (here and in the ConfigMap), Portico sets no per-attempt limit."},
		NginxAnnotation{Name: "proxy-send-timeout", Support: NginxDifferent, Default: "60",
			Note: "seconds (ConfigMap proxy-send-timeout); added to proxy-read-timeout for Portico's per-attempt timeout (see proxy-read-timeout)."},
		NginxAnnotation{Name: "proxy-next-upstream", Support: NginxDifferent, Default: "error timeout",
			Note: "error and timeout retry on another endpoint (Portico always retries connection failures), http_500/502/503/504/403/404/429 add those statuses; " +
				"off disables retries; invalid_header and non_idempotent are accepted (Portico retries only requests whose body was not sent yet). Unset (here and in the ConfigMap), Portico's default applies: a failed connection is tried once more on another endpoint."},
		NginxAnnotation{Name: "proxy-next-upstream-tries", Support: NginxSupported, Default: "3",
			Note: "attempts in all, the first included (ConfigMap proxy-next-upstream-tries); 0 means the default."},
		NginxAnnotation{Name: "proxy-next-upstream-timeout", Support: NginxSupported, Default: "0",
			Note: "seconds bounding the request with its retries (0: no limit)."},
		NginxAnnotation{Name: "ssl-passthrough", Support: NginxDifferent, Default: "false",
			Note: "TLS connections for the rule hosts are routed by SNI to the first path's backend without being decrypted, and the Ingress's other annotations are ignored, " +
				"as in ingress-nginx. Portico needs no --enable-ssl-passthrough flag: the annotation alone turns it on."},
	)
	onNginxRoute(30, "backend", nginxBackendRoute)
}

// passthrough reports whether ssl-passthrough is on for the Ingress.
func (n *nginxIngress) passthrough() bool {
	return n.routingBool("ssl-passthrough", false, "true", "false")
}

// nginxBackendRoute applies the backend annotations to one route.
func (n *nginxIngress) backendProtocol(r *router.Route) {
	v, ok := n.value("backend-protocol")
	if !ok {
		return
	}
	proto := strings.ToUpper(strings.TrimSpace(v))
	for i := range r.Backends {
		b := r.Backends[i].Backend
		if b == nil || b.Status != 0 {
			continue
		}
		var nb *router.Backend
		switch proto {
		case "HTTP", "AUTO_HTTP":
			continue
		case "GRPC":
			nb = n.t.backends.withProtocol(b, router.H2C)
		case "HTTPS", "GRPCS":
			c := *b
			if proto == "GRPCS" {
				c.Protocol = router.H2C
			}
			c.Name = b.Name + "#" + strings.ToLower(proto)
			c.TLS = &router.UpstreamTLS{ServerName: nginxServiceHost(n, r.Source, b), InsecureSkipVerify: true, CASource: "none (not verified)"}
			nb = &c
		case "FCGI":
			nb = &router.Backend{Name: b.Name, Status: 502, Reason: "FastCGI backends are not supported"}
		default:
			n.problem("backend-protocol", SeverityError, reasonInvalidAnnotation, fmt.Sprintf(
				"%q: want HTTP, HTTPS, GRPC, GRPCS, AUTO_HTTP or FCGI; HTTP is used, as ingress-nginx does", v))
			return
		}
		if proto == "FCGI" {
			n.problem("backend-protocol", SeverityError, "UnsupportedAnnotation", "FCGI backends are not supported; requests get 502")
		}
		r.Backends[i].Backend = nb
	}
}

// nginxServiceHost is the DNS name of the Service a route's backend is
// (the Ingress path's service), for SNI.
func nginxServiceHost(n *nginxIngress, src router.Source, b *router.Backend) string {
	if src.Rule >= 0 && src.Rule < len(n.ing.Spec.Rules) {
		if h := n.ing.Spec.Rules[src.Rule].HTTP; h != nil && src.Path >= 0 && src.Path < len(h.Paths) {
			if s := h.Paths[src.Path].Backend.Service; s != nil {
				return s.Name + "." + n.ing.Namespace + ".svc"
			}
		}
	}
	name, _, _ := strings.Cut(b.Name, ":")
	if ns, svc, ok := strings.Cut(name, "/"); ok {
		return svc + "." + ns + ".svc"
	}
	return name
}

func nginxBackendRoute(n *nginxIngress, _ nginxPath, r *router.Route) {
	n.backendProtocol(r)
	if v, ok := n.value("upstream-vhost"); ok {
		if h := strings.TrimSpace(v); isHeaderValue(h) && h != "" && !strings.ContainsAny(h, "/ ") {
			r.Rewrite = withHostname(r.Rewrite, h)
		} else {
			n.problem("upstream-vhost", SeverityError, reasonInvalidAnnotation, fmt.Sprintf("%q is not a host name; the request's Host is sent", v))
		}
	}
	if v, ok := n.value("x-forwarded-prefix"); ok {
		if isHeaderValue(v) {
			if r.RequestHeaders == nil {
				r.RequestHeaders = &router.HeaderOps{}
			}
			r.RequestHeaders.Set = append(r.RequestHeaders.Set, router.Header{Name: "X-Forwarded-Prefix", Value: v})
		} else {
			n.problem("x-forwarded-prefix", SeverityError, reasonInvalidAnnotation, fmt.Sprintf("%q is not a valid header value; it is not sent", v))
		}
	}
	n.timeouts(r)
}

// isHeaderValue reports whether v can be sent as a header value: visible
// ASCII and spaces only.
func isHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return false
		}
	}
	return true
}

func withHostname(rw *router.Rewrite, h string) *router.Rewrite {
	if rw == nil {
		return &router.Rewrite{Hostname: h}
	}
	c := *rw
	c.Hostname = h
	return &c
}

// timeouts maps the proxy timeouts and proxy-next-upstream onto the
// route's timeouts and retries.
func (n *nginxIngress) timeouts(r *router.Route) {
	n.nginxSeconds("proxy-connect-timeout", "proxy-connect-timeout", 5)
	read := n.nginxSeconds("proxy-read-timeout", "proxy-read-timeout", 60)
	send := n.nginxSeconds("proxy-send-timeout", "proxy-send-timeout", 60)
	if r.BackendTimeout == 0 && n.set("proxy-read-timeout", "proxy-send-timeout") {
		r.BackendTimeout = read + send
	}
	if t := n.nginxSeconds("proxy-next-upstream-timeout", "proxy-next-upstream-timeout", 0); t > 0 && r.Timeout == 0 {
		r.Timeout = t
	}
	if !n.set("proxy-next-upstream", "proxy-next-upstream-tries") {
		return
	}
	tries := n.routingInt("proxy-next-upstream-tries", "proxy-next-upstream-tries", 3)
	if tries <= 0 {
		tries = 3
	}
	conds := "error timeout"
	if v, ok := n.global["proxy-next-upstream"]; ok {
		conds = v
	}
	if v, ok := n.value("proxy-next-upstream"); ok {
		conds = v
	}
	var codes []int
	for _, c := range strings.Fields(conds) {
		switch c {
		case "off":
			r.Retry = &router.Retry{Attempts: 0} // not even the default second connect
			return
		case "error", "timeout", "invalid_header", "non_idempotent":
		default:
			code, err := strconv.Atoi(strings.TrimPrefix(c, "http_"))
			if !strings.HasPrefix(c, "http_") || err != nil {
				n.problem("proxy-next-upstream", SeverityError, reasonInvalidAnnotation, fmt.Sprintf("%q: unknown condition %q; it is ignored", conds, c))
				continue
			}
			codes = append(codes, code)
		}
	}
	if tries > 1 && r.Retry == nil {
		r.Retry = &router.Retry{Attempts: tries - 1, Codes: codes}
	}
}

// set reports whether one of the names is set as an annotation or a
// ConfigMap key.
func (n *nginxIngress) set(names ...string) bool {
	for _, name := range names {
		_, a := n.value(name)
		_, g := n.global[name]
		if a || g {
			return true
		}
	}
	return false
}

// nginxSeconds reads a timeout in seconds (an annotation, else the
// ConfigMap key, else def).
func (n *nginxIngress) nginxSeconds(name, global string, def int) time.Duration {
	s := n.routingInt(name, global, def)
	if s < 0 {
		n.problem(name, SeverityError, reasonInvalidAnnotation, fmt.Sprintf("%d: a timeout cannot be negative; using %d", s, def))
		s = def
	}
	return time.Duration(s) * time.Second
}
