// Package router owns Portico's data plane for HTTP: the plain-data routing
// Config, its validation (Route.Validate) and compilation into an immutable
// lookup Table, the Router that swaps Tables atomically and serves requests
// from them, the request filters, and the proxying and endpoint balancing
// behind each route.
//
// The package imports no Kubernetes packages (hack/check-imports.sh
// enforces it).
//
// # Where precedence lives
//
// Match precedence lives here, in Compile and Lookup: for a request, the
// listener's most specific host table is chosen (exact host, then the
// longest wildcard, then any host), and within it exact paths, then
// regular expressions, then the longest prefix; among routes of one path,
// a method match, then more header matches, then more query matches win
// (the Gateway API's order, which Ingress and Istio routes also follow).
// Configuration order matters only where that leaves a tie: between routes
// with the very same match the first wins, and regular-expression routes
// are tried in configuration order (Istio's first match). Translation owns
// that order: it emits routes of the oldest object first and each object's
// rules in list order. A route that can never match — the same match as
// an earlier one, or under an earlier regex rule that matches everything
// it would — is left out and reported by Table.Dropped, and translation
// turns that into a condition or Event on its object.
//
// # Engines
//
// Route lookup takes host, path and a Request accessor, and the filters
// (header modifiers, rewrites, redirects, CORS, fault injection, mirror
// selection) and balancing (Picker) work on the router's own request view,
// Exchange, with Headers any engine can provide. A request's state is one
// typed struct, proxyState, which is also its context on net/http.
//
// Two HTTP/1.x engines share all of that. The fast engine (fast*.go, the
// default) serves HTTP/1.x on valyala/fasthttp: ServeListener's splitter
// sends HTTP/2 connections (ALPN h2, the h2c preface) to net/http and the
// rest to fasthttp; a request that needs net/http (an upgrade, an ACME
// challenge) hands its connection over with the head replayed
// (prefixConn); plain HTTP/1.1 backends use fasthttp pools
// (fastClients), while TLS and h2c backends and routes with timeouts go
// through net/http's Transports. The std engine (serve, forward and the
// httputil.ReverseProxy hooks) serves everything with net/http. Under both
// sits strictConn, the framing checker, which also bounds reads of
// streamed bodies and (fast engine) each write by the send timeout.
package router
