package router

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Options tunes a Router. The zero value is usable.
type Options struct {
	// TrustedProxies are the client networks whose X-Forwarded-* headers
	// are kept (and appended to); from anyone else they are replaced.
	TrustedProxies []netip.Prefix
	// Metrics, when set, records every request.
	Metrics *Metrics
	// AccessLog, when set, receives one record per request.
	AccessLog *slog.Logger
	// ErrorLog receives proxying errors; nil discards them.
	ErrorLog *slog.Logger
	// Transport overrides the pooled upstream transports (tests).
	Transport *Transports
	// HTTPSPort is the client-facing HTTPS port used in redirects; 443 (or
	// 0) leaves the port out of the Location.
	HTTPSPort int
	// Certs, when set, decides per request whether the connection may
	// carry a request for its host (client-certificate policy and SNI),
	// on every listener.
	Certs CertChecker
	// Edge tunes client-facing protections (body timeout, escaped
	// slashes).
	Edge EdgeOptions
	// Intercept, when set, may answer a request before routing (the ACME
	// HTTP-01 responder); it returns true when it did.
	Intercept func(w http.ResponseWriter, r *http.Request) bool
}

// CertChecker is implemented by the data plane's certificate stores.
type CertChecker interface {
	// Admit returns 0 when a request for host may be served on a
	// connection of listener (key; "" for the shared listeners) whose TLS
	// state is cs (nil for cleartext), else the status to answer:
	// 421 Misdirected Request when a connection made for that host could
	// serve it, 403 when no connection of this kind can.
	Admit(listener string, cs *tls.ConnectionState, host string) int
}

// Router serves HTTP requests from the current Table. Its zero value answers
// 503 until the first Table is stored; use New to proxy. Swapping a Table
// never disturbs requests in flight: each request runs on the Table it
// started with, and upstream connection pools belong to the Router, not to
// a Table.
type Router struct {
	table atomic.Pointer[Table]
	gen   atomic.Uint64
	proxy *httputil.ReverseProxy
	opts  Options
}

// New returns a Router with upstream connection pools and no Table.
func New(opts Options) *Router {
	if opts.Transport == nil {
		opts.Transport = NewTransports()
	}
	rt := &Router{opts: opts}
	rt.proxy = &httputil.ReverseProxy{
		Rewrite:        rt.rewrite,
		ModifyResponse: modifyResponse,
		Transport:      &endpointTransport{t: opts.Transport},
		ErrorHandler:   rt.proxyError,
		BufferPool:     newBufferPool(),
	}
	return rt
}

// Swap makes t the Table that new requests are served from, numbering it
// with the next generation, and returns that generation. A Table is
// numbered once, before it is first published, and never written again: a
// Table swapped in a second time keeps its number.
func (rt *Router) Swap(t *Table) uint64 {
	if t.Generation == 0 {
		t.Generation = rt.gen.Add(1)
	}
	rt.table.Store(t)
	if m := rt.opts.Metrics; m != nil {
		m.swapped(t)
	}
	return t.Generation
}

// Table returns the Table being served, or nil before the first Swap.
func (rt *Router) Table() *Table { return rt.table.Load() }

type ctxKey struct{}

// proxyState is what one proxied request carries from ServeHTTP to the
// Rewrite hook and the transport.
type proxyState struct {
	route          *CompiledRoute
	backend        *compiledBackend
	backendFilters *WeightedBackend // the chosen backend's own filters
	endpoint       string           // the endpoint last tried
	body           *requestBody     // the client's body, when it has one
}

// ServeHTTP routes r through the current Table's shared (Ingress)
// listener routes and proxies it.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) { rt.serveOn("", w, r) }

// Listener returns the handler for one Gateway listener's routes.
func (rt *Router) Listener(key string) http.Handler { return listenerHandler{rt, key} }

type listenerHandler struct {
	rt  *Router
	key string
}

func (h listenerHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.rt.serveOn(h.key, w, r) }

func (rt *Router) serveOn(listener string, w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w, sendTimeout: rt.opts.Edge.SendTimeout, perWrite: r.ProtoMajor == 2}
	if rec.sendTimeout <= 0 {
		rec.sendTimeout = DefaultSendTimeout
	}
	st := rt.serve(listener, rec, r)
	if st == nil {
		st = &proxyState{}
	}
	if m := rt.opts.Metrics; m != nil {
		m.observe(st, rec.code(), time.Since(start))
	}
	if l := rt.opts.AccessLog; l != nil {
		logAccess(l, r, st, rec, start)
	}
}

func (rt *Router) serve(listener string, w http.ResponseWriter, r *http.Request) *proxyState {
	t := rt.table.Load()
	if t == nil {
		http.Error(w, "no routing configuration loaded yet", http.StatusServiceUnavailable)
		return nil
	}
	raw := r.URL.EscapedPath()
	path, ok := CanonicalPath(raw)
	if !ok {
		http.Error(w, "malformed request path", http.StatusBadRequest)
		return nil
	}
	if path, ok = rt.opts.Edge.EscapedSlashes.apply(path); !ok {
		http.Error(w, "escaped slash in request path", http.StatusBadRequest)
		return nil
	}
	if path != raw {
		setPath(r.URL, path)
	}
	sanitizeRequest(r.Header, rt.trusted(remoteIP(r.RemoteAddr)))
	if r.TLS == nil && rt.opts.Intercept != nil && rt.opts.Intercept(w, r) {
		return nil // ACME HTTP-01 is answered on cleartext only
	}
	admit := 0
	if rt.opts.Certs != nil {
		admit = rt.opts.Certs.Admit(listener, r.TLS, stripPort(r.Host))
	}
	if admit == http.StatusMisdirectedRequest {
		http.Error(w, "this connection's handshake does not cover the requested host; connect with it as the TLS server name", admit)
		return nil
	}
	if admit != 0 && r.TLS != nil {
		http.Error(w, http.StatusText(admit), admit)
		return nil
	}
	if r.TLS != nil && rt.opts.Intercept != nil && rt.opts.Intercept(w, r) {
		return nil
	}
	var req Request
	if t.NeedsRequest() {
		req = &httpRequest{r: r}
	}
	route := t.LookupOn(listener, r.Host, path, req)
	if route == nil {
		http.Error(w, "no route for this host and path", http.StatusNotFound)
		return nil
	}
	if r.TLS == nil && route.HTTPSRedirect {
		rt.redirectHTTPS(w, r)
		return &proxyState{route: route}
	}
	if admit != 0 {
		// A host that requires client certificates, asked for over
		// cleartext: only its redirect to HTTPS is served.
		http.Error(w, "this host requires a client certificate; use HTTPS", admit)
		return &proxyState{route: route}
	}
	if r.TLS != nil && route.HSTS != "" {
		w.Header().Set("Strict-Transport-Security", route.HSTS)
	}
	if route.Redirect != nil {
		rt.redirect(w, r, route)
		return &proxyState{route: route}
	}
	if route.CORS != nil && route.CORS.preflight(w, r) {
		return &proxyState{route: route}
	}
	if route.Fault != nil && route.Fault.inject(w, r) {
		return &proxyState{route: route}
	}
	st := &proxyState{route: route}
	if st.body, ok = rt.prepareBody(w, r); !ok {
		return st
	}
	route.RequestHeaders.apply(r.Header)
	if route.Rewrite != nil {
		route.rewriteRequest(r)
	}
	if len(route.Mirrors) > 0 && rt.proxy != nil {
		rt.mirror(r, route)
	}
	st.backend, st.backendFilters = route.pickWithFilters()
	if st.backend == nil {
		http.Error(w, "route has no usable backend", http.StatusServiceUnavailable)
		return st
	}
	if f := st.backendFilters; f != nil {
		f.RequestHeaders.apply(r.Header)
	}
	if st.backend.Status != 0 {
		http.Error(w, st.backend.Reason, st.backend.Status)
		return st
	}
	if len(st.backend.Endpoints) == 0 || rt.proxy == nil {
		http.Error(w, "no ready endpoint for backend "+st.backend.Name, http.StatusServiceUnavailable)
		return st
	}
	if bal := st.backend.Balancing; bal != nil && bal.MaxRequests > 0 {
		if st.backend.active.Add(1) > bal.MaxRequests {
			st.backend.active.Add(-1)
			w.Header().Set("X-Portico-Overflow", "max requests")
			http.Error(w, "backend "+st.backend.Name+" is at its request limit", http.StatusServiceUnavailable)
			return st
		}
		defer st.backend.active.Add(-1)
	}
	ctx := context.WithValue(r.Context(), ctxKey{}, st)
	if route.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, route.Timeout)
		defer cancel()
	}
	rt.proxy.ServeHTTP(w, r.WithContext(ctx))
	return st
}

// setPath stores the canonical escaped path so that the same form is
// forwarded as was routed.
func setPath(u *url.URL, escaped string) {
	p, err := url.PathUnescape(escaped)
	if err != nil {
		p = escaped
	}
	u.Path = p
	u.RawPath = escaped
}

// pick chooses a backend by weight. It returns nil when no backend has
// weight.
func (r *weighted) pick() *compiledBackend {
	b, _ := r.pickWithFilters()
	return b
}

// pickWithFilters is pick, also returning the chosen backend's own header
// operations (nil when it has none).
func (r *weighted) pickWithFilters() (*compiledBackend, *WeightedBackend) {
	i := r.pickIndex()
	if i < 0 {
		return nil, nil
	}
	var f *WeightedBackend
	if r.filters != nil {
		f = r.filters[i]
	}
	return r.backends[i], f
}

func (r *weighted) pickIndex() int {
	switch len(r.backends) {
	case 0:
		return -1
	case 1:
		return 0
	}
	n := rand.Uint32N(r.totalWeight)
	for i, cw := range r.cumWeights {
		if n < cw {
			return i
		}
	}
	return len(r.backends) - 1
}

func (rt *Router) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	st, _ := r.Context().Value(ctxKey{}).(*proxyState)
	code := http.StatusBadGateway
	switch {
	case st.body != nil && st.body.status() != 0:
		// The client's body was malformed or stalled; the upstream
		// connection it was being written to is closed by the transport,
		// never reused.
		w.Header().Set("Connection", "close")
		code = st.body.status()
	case errors.Is(r.Context().Err(), context.DeadlineExceeded) || isTimeout(err):
		code = http.StatusGatewayTimeout // the route's timeout, or the dialer's
	case r.Context().Err() != nil:
		// The client went away; nobody reads what we write.
		code = 499
	}
	if l := rt.opts.ErrorLog; l != nil && code != 499 {
		l.Warn("upstream request failed", "backend", st.backend.Name, "endpoint", st.endpoint, "error", err)
	}
	if code == 499 {
		w.WriteHeader(code)
		return
	}
	http.Error(w, http.StatusText(code), code)
}

// redirectHTTPS answers 308 with the same host, path and query on https.
func (rt *Router) redirectHTTPS(w http.ResponseWriter, r *http.Request) {
	host := stripPort(r.Host)
	if p := rt.opts.HTTPSPort; p != 0 && p != 443 {
		host = net.JoinHostPort(strings.Trim(host, "[]"), strconv.Itoa(p))
	}
	u := url.URL{Scheme: "https", Host: host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	http.Redirect(w, r, u.String(), http.StatusPermanentRedirect)
}

// modifyResponse applies the route's response header modifier.
func modifyResponse(resp *http.Response) error {
	if resp.StatusCode == http.StatusSwitchingProtocols {
		tunnelConn(resp.Request)
	}
	if st, ok := resp.Request.Context().Value(ctxKey{}).(*proxyState); ok && st.route != nil {
		st.route.ResponseHeaders.apply(resp.Header)
		if f := st.backendFilters; f != nil {
			f.ResponseHeaders.apply(resp.Header)
		}
		if st.route.CORS != nil {
			st.route.CORS.respond(resp.Header, resp.Request.Header.Get(hOrigin))
		}
	}
	return nil
}
