package router

import (
	"net/http"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// hopByHop are the header fields that describe one connection (RFC 9110
// §7.6.1) and never travel past a proxy.
var hopByHop = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// clientAddressHeaders are request headers by which clients, or proxies in
// front of Portico, claim a client address, scheme, host or URL. From a
// client that is not a trusted proxy they are removed, so a backend never
// mistakes them for Portico's word. (X-Forwarded-For, -Host and -Proto are
// replaced by the proxy's own values in rewrite.)
var clientAddressHeaders = []string{
	"Forwarded", "X-Real-Ip", "True-Client-Ip", "X-Client-Ip", "X-Cluster-Client-Ip",
	"X-Original-Url", "X-Rewrite-Url", "X-Original-Forwarded-For", "X-Original-Host",
	"X-Forwarded-Port", "X-Forwarded-Server", "X-Forwarded-Scheme", "X-Forwarded-Ssl",
	"X-Forwarded-Prefix", "X-Forwarded-Uri", "X-Url-Scheme", "X-Host", "Cf-Connecting-Ip",
	"Fastly-Client-Ip", "X-Proxyuser-Ip",
}

// sanitizeRequest removes from a client's request, before any route adds
// its own headers, what must never reach a backend as the client sent it:
// hop-by-hop headers (including those the client's Connection header
// names, so it cannot strip what Portico sets later), headers whose names
// contain an underscore (CGI and WSGI backends read X_Forwarded_For as
// X-Forwarded-For), and, from untrusted clients, address-claiming headers.
// An upgrade survives only to WebSocket (and "Te: trailers", for gRPC);
// any other Upgrade token is dropped and the request is served as a plain
// one.
func sanitizeRequest(h http.Header, trusted bool) {
	ws := httpguts.HeaderValuesContainsToken(h["Connection"], "upgrade") &&
		httpguts.HeaderValuesContainsToken(h["Upgrade"], "websocket")
	trailers := httpguts.HeaderValuesContainsToken(h["Te"], "trailers")
	for _, v := range h["Connection"] {
		for _, name := range strings.Split(v, ",") {
			if name = http.CanonicalHeaderKey(strings.TrimSpace(name)); name != "" {
				delete(h, name)
			}
		}
	}
	for _, name := range hopByHop {
		delete(h, name)
	}
	for name := range h {
		if strings.IndexByte(name, '_') >= 0 {
			delete(h, name)
		}
	}
	if !trusted {
		for _, name := range clientAddressHeaders {
			delete(h, name)
		}
	}
	if ws {
		h["Connection"] = []string{"Upgrade"}
		h["Upgrade"] = []string{"websocket"}
	}
	if trailers {
		h["Te"] = []string{"trailers"}
	}
}
