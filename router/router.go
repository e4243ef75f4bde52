package router

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
	"go.opentelemetry.io/otel/trace"
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
	// Tracing, when set, traces requests with OpenTelemetry.
	Tracing *Tracing
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
	// stacks runs HTTP/2 requests' upstream exchanges (see stackPool).
	stacks *stackPool
}

// stackWorkers bounds the goroutines kept for HTTP/2 requests' upstream
// exchanges (each keeps a grown stack, some tens of KiB).
const stackWorkers = 512

// New returns a Router with upstream connection pools and no Table.
func New(opts Options) *Router {
	if opts.Transport == nil {
		opts.Transport = NewTransports()
	}
	rt := &Router{opts: opts, stacks: newStackPool(stackWorkers)}
	rt.proxy = &httputil.ReverseProxy{
		Rewrite:        rt.rewrite,
		ModifyResponse: rt.modifyResponse,
		Transport:      &endpointTransport{t: opts.Transport, tracing: opts.Tracing},
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
		if rt.opts.Transport != nil {
			rt.opts.Transport.health.bind(t)
		}
	}
	rt.table.Store(t)
	if m := rt.opts.Metrics; m != nil {
		m.swapped(t)
	}
	return t.Generation
}

// Table returns the Table being served, or nil before the first Swap.
func (rt *Router) Table() *Table { return rt.table.Load() }

// proxyState is the typed state of one request, from ServeHTTP through the
// ReverseProxy hooks and the transport to the metrics and the access log.
// It is also the proxied request's context (see stateOf), so carrying it
// costs nothing more.
type proxyState struct {
	context.Context
	// x is the router's view of the request, what filters work on.
	x              Exchange
	route          *CompiledRoute
	backend        *compiledBackend
	backendFilters *WeightedBackend // the chosen backend's own filters
	endpoint       string           // the endpoint last tried
	body           *requestBody     // the client's body, when it has one
	limited        bool             // holds a slot of backend.active
	overflow       bool             // refused: the backend's limit was reached
	policy         policyState      // what the route's policy learnt
	// The fast engine's: the request to send when it is not the client's
	// own, and whether the body streams (so is not replayable).
	outbound *fasthttp.Request
	streamed bool
	// buf holds the fast engine's copies of the request's host and target.
	buf []byte
	// enc is the coding the fast engine negotiated for the route's
	// compression, when it adopts the backend's answer (see adoptShaped).
	enc Encoding
	// sticky and picked are 1 + the endpoint index the request's session
	// names and the one last tried (0: none); sessionKey is the token the
	// request presented (see SessionPersistence).
	sticky, picked int32
	sessionKey     string
	// originalURI is the path and query before any rewrite, kept for the
	// route's ErrorPages.
	originalURI string
	// span is the request's server span and traceCtx its context, when
	// the request is traced (see Tracing).
	span     trace.Span
	traceCtx context.Context
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
	st := &proxyState{}
	rt.serve(listener, rec, r, st)
	st.policy.done()
	st.endServer(rec.code())
	if m := rt.opts.Metrics; m != nil {
		m.observe(st, rec.code(), time.Since(start))
	}
	if l := rt.opts.AccessLog; l != nil {
		logAccess(l, r, st, rec, start)
	}
}

// serve answers r on listener: the edge checks, routing, the route's
// filters on the request's Exchange, then proxying.
func (rt *Router) serve(listener string, w http.ResponseWriter, r *http.Request, st *proxyState) {
	t := rt.table.Load()
	if t == nil {
		http.Error(w, "no routing configuration loaded yet", http.StatusServiceUnavailable)
		return
	}
	raw := r.URL.EscapedPath()
	path, ok := CanonicalPath(raw)
	if !ok {
		http.Error(w, "malformed request path", http.StatusBadRequest)
		return
	}
	if path, ok = rt.opts.Edge.EscapedSlashes.apply(path); !ok {
		http.Error(w, "escaped slash in request path", http.StatusBadRequest)
		return
	}
	if path != raw {
		setPath(r.URL, path)
	}
	sanitizeRequest(r.Header, rt.trusted(remoteIP(r.RemoteAddr)))
	if r.TLS == nil && rt.opts.Intercept != nil && rt.opts.Intercept(w, r) {
		return // ACME HTTP-01 is answered on cleartext only
	}
	admit := 0
	if rt.opts.Certs != nil {
		admit = rt.opts.Certs.Admit(listener, r.TLS, stripPort(r.Host))
	}
	if admit == http.StatusMisdirectedRequest {
		http.Error(w, "this connection's handshake does not cover the requested host; connect with it as the TLS server name", admit)
		return
	}
	if admit != 0 && r.TLS != nil {
		http.Error(w, http.StatusText(admit), admit)
		return
	}
	if r.TLS != nil && rt.opts.Intercept != nil && rt.opts.Intercept(w, r) {
		return
	}
	x := &st.x
	x.fromStd(r)
	if tr := rt.opts.Tracing; tr != nil {
		tr.startServer(st, r.Proto)
	}
	var req Request
	if t.NeedsRequest() {
		req = matchView{x}
	}
	route := t.LookupOn(listener, x.Host, path, req)
	if route == nil {
		http.Error(w, "no route for this host and path", http.StatusNotFound)
		return
	}
	st.route = route
	if route.shape != nil {
		sw := route.shape.shapeStd(w, r)
		defer sw.finish()
		w = sw
	}
	if rt.redirectsToHTTPS(route, x) {
		http.Redirect(w, r, httpsLocation(x, rt.opts.HTTPSPort), http.StatusPermanentRedirect)
		return
	}
	if admit != 0 {
		// A host that requires client certificates, asked for over
		// cleartext: only its redirect to HTTPS is served.
		http.Error(w, "this host requires a client certificate; use HTTPS", admit)
		return
	}
	if rt.filter(w, r, st) {
		rt.forward(w, r, st)
	}
}

// filter runs the route's request filters on the Exchange and reports
// whether the request goes on to a backend (false: it was answered).
func (rt *Router) filter(w http.ResponseWriter, r *http.Request, st *proxyState) bool {
	if st.route.wantsAuthBody() {
		st.policy.peek = &stdBodyPeek{w: w, r: r, timeout: cmp.Or(rt.opts.Edge.BodyReadTimeout, DefaultBodyReadTimeout)}
	}
	if code, text := st.answerEarly(r.Context(), w.Header()); code != 0 {
		if st.policy.peeked && !st.policy.peekWhole {
			w.Header().Set("Connection", "close") // the body is not read through
		}
		if code > 0 {
			writeAnswer(w, code, text)
		}
		return false
	}
	if r.ContentLength < 0 {
		r.Body = st.limitStdBody(r.Body)
	}
	var ok bool
	if st.body, ok = rt.prepareBody(w, r); !ok {
		return false
	}
	st.applyRequestFilters()
	st.x.applyTo(r)
	if len(st.route.Mirrors) > 0 && rt.proxy != nil {
		rt.mirror(r, st)
	}
	if code, text := st.chooseBackend(rt.proxy != nil); code != 0 {
		if st.overflow {
			w.Header().Set("X-Portico-Overflow", "max requests")
		}
		writeAnswer(w, code, text)
		return false
	}
	return true
}

// writeAnswer answers with a status and its text: a Location-only redirect
// or preflight (text "") gets no body.
func writeAnswer(w http.ResponseWriter, code int, text string) {
	if text == "" {
		w.WriteHeader(code)
		return
	}
	http.Error(w, text, code)
}

// answerEarly runs the filters that may answer a request before its body
// is read, setting the answer's headers in resp: HSTS, the route's
// redirect, a CORS preflight, the route's policy, fault injection. It
// returns the status to answer (0: go on; -1: nothing to answer, the
// client went away) and the text of the answer's body ("" for none).
func (st *proxyState) answerEarly(ctx context.Context, resp Headers) (int, string) {
	route, x := st.route, &st.x
	if x.TLS && route.HSTS != "" {
		resp.Set("Strict-Transport-Security", route.HSTS)
	}
	if route.Redirect != nil {
		loc, code := route.redirectTo(x)
		resp.Set("Location", loc)
		return code, ""
	}
	if route.CORS != nil && route.CORS.preflight(x, resp) {
		return cmp.Or(route.CORS.PreflightStatus, http.StatusOK), ""
	}
	if route.Policy != nil {
		if code, text := route.policyAnswer(ctx, x, resp, &st.policy); code != 0 {
			if route.CORS != nil {
				// A browser can only read a refusal it is allowed to.
				route.CORS.respond(resp, x.Header.Get(hOrigin))
			}
			return code, text
		}
	}
	if route.Fault != nil {
		switch code := route.Fault.inject(ctx); code {
		case 0:
		case -1:
			return -1, ""
		default:
			return code, "fault injected"
		}
	}
	return 0, ""
}

// applyRequestFilters modifies the request's headers and, by the route's
// rewrite, its host and path.
func (st *proxyState) applyRequestFilters() {
	if st.route.ErrorPages != nil {
		st.originalURI = st.x.requestURI()
	}
	st.route.RequestHeaders.apply(st.x.Header)
	if st.route.Rewrite != nil {
		st.route.rewriteRequest(&st.x)
	}
}

// chooseBackend picks the backend by weight and applies its own request
// filters. It returns the status to answer instead of proxying (0 to
// proxy) and its text: no backend, an invalid one, no ready endpoint,
// or the backend's request limit reached (then st.backend.active was not
// taken). With the limit not reached, the caller must call st.release.
func (st *proxyState) chooseBackend(canProxy bool) (int, string) {
	if st.route.Session == nil || !st.chooseSessionBackend() {
		st.backend, st.backendFilters = st.route.pickWithFilters()
	}
	b := st.backend
	if b == nil {
		return http.StatusServiceUnavailable, "route has no usable backend"
	}
	if f := st.backendFilters; f != nil {
		f.RequestHeaders.apply(st.x.Header)
	}
	if b.Status != 0 {
		return b.Status, b.Reason
	}
	if len(b.Endpoints) == 0 && canProxy && st.unavailableFallback() {
		b = st.backend
	}
	if len(b.Endpoints) == 0 || !canProxy {
		return http.StatusServiceUnavailable, "no ready endpoint for backend " + b.Name
	}
	if bal := b.Balancing; bal != nil && bal.MaxRequests > 0 {
		if b.active.Add(1) > bal.MaxRequests {
			b.active.Add(-1)
			st.overflow = true
			return http.StatusServiceUnavailable, "backend " + b.Name + " is at its request limit"
		}
		st.limited = true
	}
	return 0, ""
}

// release gives back the backend's request-limit slot, if taken.
func (st *proxyState) release() {
	if st.limited {
		st.limited = false
		st.backend.active.Add(-1)
	}
}

// forward proxies the request to st.backend.
func (rt *Router) forward(w http.ResponseWriter, r *http.Request, st *proxyState) {
	if rt.fastUpstream(r, st) {
		rt.stacks.run(func() { rt.forwardFast(w, r, st) })
		return
	}
	defer st.release()
	st.Context = r.Context()
	ctx := context.Context(st)
	if st.route.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, st.route.Timeout)
		defer cancel()
	}
	rt.proxy.ServeHTTP(w, r.WithContext(ctx))
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
	st := stateOf(r.Context())
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
	rt.answerUpstreamError(w, st, code, err)
}

// answerUpstreamError logs a failed upstream exchange and answers code
// (499, a client gone away, gets no body: nobody reads it).
func (rt *Router) answerUpstreamError(w http.ResponseWriter, st *proxyState, code int, err error) {
	if l := rt.opts.ErrorLog; l != nil && code != 499 {
		l.Warn("upstream request failed", "backend", st.backend.Name, "endpoint", st.endpoint, "error", err)
	}
	if code == 499 {
		w.WriteHeader(code)
		return
	}
	http.Error(w, http.StatusText(code), code)
}

// modifyResponse replaces an answer the route's ErrorPages intercept and
// applies the route's response header modifier.
func (rt *Router) modifyResponse(resp *http.Response) error {
	if resp.StatusCode == http.StatusSwitchingProtocols {
		tunnelConn(resp.Request)
	}
	if st := stateOf(resp.Request.Context()); st != nil && st.route != nil {
		if st.route.intercepts(resp.StatusCode) && st.backend != st.route.errorBackend {
			rt.replaceStd(resp, st)
		}
		st.route.ResponseHeaders.apply(resp.Header)
		if f := st.backendFilters; f != nil {
			f.ResponseHeaders.apply(resp.Header)
		}
		if st.route.CORS != nil {
			st.route.CORS.respond(resp.Header, st.x.Header.Get(hOrigin))
		}
		st.sessionResponse(resp.Header)
		st.policy.respond(resp.Header, resp.StatusCode)
		if st.route.shape.override(resp.StatusCode) != nil {
			// The shapeWriter answers the override's body: the backend's
			// is not copied.
			_ = resp.Body.Close()
			resp.Body, resp.ContentLength = http.NoBody, 0
		}
	}
	return nil
}
