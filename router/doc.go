// Package router owns Portico's data plane for HTTP: the plain-data routing
// Config, its compilation into an immutable lookup Table, the Router that
// swaps Tables atomically and serves requests from them, and the proxying and
// endpoint balancing behind each route.
//
// The package imports no Kubernetes packages. Route lookup takes host, path,
// method and a header accessor rather than an *http.Request, so another HTTP
// engine can sit on the same Table later.
package router
