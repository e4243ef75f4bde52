package router

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strings"
)

// rewrite prepares the outbound request: target endpoint is set by the
// transport; here the forwarding headers. httputil.ReverseProxy has already
// removed hop-by-hop headers (including any named by the client's Connection
// header) and the client's X-Forwarded-* before calling it, so headers set
// here cannot be stripped by the client.
func (rt *Router) rewrite(pr *httputil.ProxyRequest) {
	st := stateOf(pr.In.Context())
	pr.Out.URL.Scheme = "http"
	pr.Out.URL.Host = st.backend.Name // replaced by the transport with an endpoint
	pr.Out.Host = pr.In.Host
	if pr.Out.Body != nil && pr.Out.Body != http.NoBody {
		pr.Out.Body = &retryableBody{ReadCloser: pr.Out.Body}
	}

	clientIP := remoteIP(pr.In.RemoteAddr)
	proto := "http"
	if pr.In.TLS != nil {
		proto = "https"
	}
	xff, xfh, xfp := clientIP.String(), pr.In.Host, proto
	if rt.trusted(clientIP) {
		if prior := pr.In.Header.Values("X-Forwarded-For"); len(prior) > 0 {
			xff = strings.Join(prior, ", ") + ", " + xff
		}
		if v := pr.In.Header.Get("X-Forwarded-Host"); v != "" {
			xfh = v
		}
		if v := pr.In.Header.Get("X-Forwarded-Proto"); v != "" {
			xfp = v
		}
	}
	if clientIP.IsValid() {
		pr.Out.Header.Set("X-Forwarded-For", xff)
		if pr.Out.Header.Get("X-Real-Ip") == "" { // kept only from trusted proxies
			pr.Out.Header.Set("X-Real-Ip", clientIP.String())
		}
	}
	pr.Out.Header.Set("X-Forwarded-Host", xfh)
	pr.Out.Header.Set("X-Forwarded-Proto", xfp)
}

func (rt *Router) trusted(ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	for _, p := range rt.opts.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func remoteIP(addr string) netip.Addr {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return ip.Unmap()
}
