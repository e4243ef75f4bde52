package router

import (
	"context"
	"net/http"
	"net/netip"
	"strings"

	"github.com/cespare/xxhash/v2"
)

// Headers is the header store the router's filters read and change. Names
// are case-insensitive. net/http's http.Header implements it as is; another
// HTTP engine adapts its own header type.
type Headers interface {
	Get(name string) string
	Values(name string) []string
	Set(name, value string)
	Add(name, value string)
	Del(name string)
}

var _ Headers = http.Header(nil)

// Exchange is the router's own view of one request: everything routing,
// the filters (header modifiers, rewrites, redirects, CORS, fault
// injection, mirror selection) and balancing read or change. The filters
// work on it alone, never on an engine's request type, so that a second
// HTTP engine reuses them unchanged: it fills an Exchange from its request
// and applies the changed Host and Path back (see fromStd and applyTo for
// net/http).
type Exchange struct {
	Method string
	// TLS is true when the request came over TLS.
	TLS bool
	// Host is the request's authority as sent, possibly with a port.
	Host string
	// Path is the decoded request path; RawPath its escaped form when that
	// differs (see url.URL), else "".
	Path, RawPath string
	RawQuery      string
	Header        Headers
	// RemoteAddr is the client's address, host:port.
	RemoteAddr string
	// clientIP, when valid, is RemoteAddr's address, parsed already.
	clientIP netip.Addr
	// rewritten is set when a filter changed Host or Path.
	rewritten bool
}

// fromStd fills x from a net/http request; x.Header is r.Header itself.
func (x *Exchange) fromStd(r *http.Request) {
	*x = Exchange{Method: r.Method, TLS: r.TLS != nil, Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath,
		RawQuery: r.URL.RawQuery, Header: r.Header, RemoteAddr: r.RemoteAddr}
}

// applyTo writes the Host and Path the filters changed back to r.
func (x *Exchange) applyTo(r *http.Request) {
	if x.rewritten {
		r.Host, r.URL.Path, r.URL.RawPath = x.Host, x.Path, x.RawPath
	}
}

// ClientIP is the client's address without port (invalid if unknown).
func (x *Exchange) ClientIP() netip.Addr {
	if x.clientIP.IsValid() {
		return x.clientIP
	}
	return remoteIP(x.RemoteAddr)
}

// matchView lets an Exchange be matched (it implements Request).
type matchView struct{ x *Exchange }

func (m matchView) Method() string { return m.x.Method }

func (m matchView) Header(name string) (string, bool) {
	if v := m.x.Header.Values(name); len(v) > 0 {
		return v[0], true
	}
	return "", false
}

func (m matchView) Query(name string) (string, bool) { return queryValue(m.x.RawQuery, name) }

// stateKey is the context key of a request's proxyState.
type stateKey struct{}

// stateOf returns the state of a request being proxied, carried by its
// context (the hooks of httputil.ReverseProxy receive only the request);
// nil for a request that is not.
func stateOf(ctx context.Context) *proxyState {
	st, _ := ctx.Value(stateKey{}).(*proxyState)
	return st
}

// Value returns the state itself for stateKey, so that the state is the
// request's context and carrying it costs no allocation.
func (st *proxyState) Value(key any) any {
	if _, ok := key.(stateKey); ok {
		return st
	}
	return st.Context.Value(key)
}

// requestHash is the consistent-hash key of x under bal, hashed.
func requestHash(bal *Balancing, x *Exchange) (uint64, bool) {
	switch {
	case bal.HashHeader != "":
		v := x.Header.Get(bal.HashHeader)
		return xxhash.Sum64String(v), v != ""
	case bal.HashCookie != "":
		v, ok := cookieValue(x.Header, bal.HashCookie)
		return xxhash.Sum64String(v), ok
	case bal.HashRequestURI:
		uri := x.Path
		if x.RawPath != "" {
			uri = x.RawPath
		}
		if x.RawQuery != "" {
			uri += "?" + x.RawQuery
		}
		return xxhash.Sum64String(uri), true
	case bal.HashHost:
		return xxhash.Sum64String(x.Host), true
	case bal.HashQuery != "":
		v, ok := queryValue(x.RawQuery, bal.HashQuery)
		return xxhash.Sum64String(v), ok
	case bal.HashSourceIP:
		ip := x.ClientIP()
		if !ip.IsValid() {
			return 0, false
		}
		a := ip.As16()
		return xxhash.Sum64(a[:]), true
	}
	return 0, false
}

// cookieValue finds a cookie's value in the Cookie headers without parsing
// them all.
func cookieValue(h Headers, name string) (string, bool) {
	for _, line := range h.Values("Cookie") {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
			if ok && k == name {
				return strings.Trim(v, `"`), true
			}
		}
	}
	return "", false
}
