package router

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// fastClients are the fast engine's upstream pools, one fasthttp.HostClient
// per endpoint address, kept by the Router's Transports and pruned when
// idle.
type fastClients struct {
	m         sync.Map // address -> *fasthttp.HostClient
	pruneOnce sync.Once
}

var upstreamDialer = &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}

func (f *fastClients) get(addr string) *fasthttp.HostClient {
	if v, ok := f.m.Load(addr); ok {
		return v.(*fasthttp.HostClient)
	}
	f.pruneOnce.Do(func() { go f.pruneLoop() })
	hc := &fasthttp.HostClient{
		Addr:                          addr,
		MaxConns:                      4096,
		MaxConnWaitTimeout:            5 * time.Second,
		MaxIdleConnDuration:           90 * time.Second,
		MaxIdemponentCallAttempts:     1,
		NoDefaultUserAgentHeader:      true,
		DisablePathNormalizing:        true,
		DisableHeaderNamesNormalizing: false,
		StreamResponseBody:            true,
		SecureErrorLogMessage:         true,
		ReadBufferSize:                MaxHeaderBytes,
		WriteBufferSize:               64 << 10,
		Dial: func(a string) (net.Conn, error) {
			return upstreamDialer.Dial("tcp", a)
		},
		// Most recently used first: a burst's extra connections go idle
		// and are closed after MaxIdleConnDuration (round-robin reuse
		// would keep them all warm), and the one reused is the least
		// likely to have been closed by the backend meanwhile.
		ConnPoolStrategy: fasthttp.LIFO,
	}
	v, _ := f.m.LoadOrStore(addr, hc)
	return v.(*fasthttp.HostClient)
}

// pruneLoop forgets the pools of endpoints unused for ten minutes (their
// connections are closed after MaxIdleConnDuration already).
func (f *fastClients) pruneLoop() {
	for range time.Tick(time.Minute) {
		f.m.Range(func(k, v any) bool {
			hc := v.(*fasthttp.HostClient)
			if hc.ConnsCount() == 0 && time.Since(hc.LastUseTime()) > 10*time.Minute {
				f.m.Delete(k)
			}
			return true
		})
	}
}

// prepareBody reads bodies of at most BodyBufferBytes whole, each read of
// the client bounded by the body timeout, so they can be replayed on
// retries; longer ones stream. It answers and returns false when the body
// is malformed (400) or stalls (408).
func (e *fastEngine) prepareBody(ctx *fasthttp.RequestCtx, st *proxyState, sc *strictConn) bool {
	req := &ctx.Request
	cl := req.Header.ContentLength()
	switch {
	case st.outbound != nil:
		return true // a policy check read its start already (see fastBodyPeek)
	case cl == 0 || cl == -2:
		return true
	case cl > BodyBufferBytes:
		st.streamed = true // fasthttp read the first part; the rest streams
		return true
	case cl > 0:
		// fasthttp read it whole, within the body timeout (see
		// headerReceived); taking it out of its stream makes it
		// replayable on retries.
		_ = req.Body()
		return true
	}
	// Chunked: read up to the buffer's size ourselves, each read bounded
	// by the body timeout.
	r := st.limitBody(ctx.RequestBodyStream())
	if sc != nil {
		sc.setPerReadTimeout(e.bodyTimeout())
		defer sc.setPerReadTimeout(0)
	}
	buf, err := io.ReadAll(io.LimitReader(r, BodyBufferBytes+1))
	if err != nil {
		code := http.StatusBadRequest
		switch {
		case errors.Is(err, errBodyTooLarge):
			code = http.StatusRequestEntityTooLarge
		case isDeadline(err) || sc != nil && sc.readTimedOut.Load():
			code = http.StatusRequestTimeout
		}
		ctx.SetConnectionClose()
		fastText(ctx, code, http.StatusText(code))
		return false
	}
	if len(buf) <= BodyBufferBytes {
		req.SetBodyRaw(buf)
		req.Header.SetContentLength(len(buf))
		return true
	}
	// Longer than buffered bodies get: the rest streams after what was
	// read, in a request of its own (the server's stream stays in place).
	out := fasthttp.AcquireRequest()
	out.SetBodyStream(io.MultiReader(bytes.NewReader(buf), r), -1)
	st.outbound, st.streamed = out, true
	return true
}

func (e *fastEngine) bodyTimeout() time.Duration {
	if t := e.rt.opts.Edge.BodyReadTimeout; t > 0 {
		return t
	}
	return DefaultBodyReadTimeout
}

// headerReceived gives a request's body the body timeout (fasthttp's
// default would be the head's); requests without a body keep the deadline
// they have.
func (e *fastEngine) headerReceived(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	if cl := h.ContentLength(); cl > 0 || cl == -1 {
		return fasthttp.RequestConfig{ReadTimeout: e.bodyTimeout()}
	}
	return fasthttp.RequestConfig{}
}

// proxy sends the request to st.backend and puts the answer in ctx.
func (e *fastEngine) proxy(ctx *fasthttp.RequestCtx, st *proxyState, sc *strictConn) {
	req := st.outbound
	if req == nil {
		req = &ctx.Request
	} else {
		// The head as the filters left it; the body stream's length stays.
		defer fasthttp.ReleaseRequest(req)
		cl := req.Header.ContentLength()
		ctx.Request.Header.CopyTo(&req.Header)
		req.Header.SetContentLength(cl)
	}
	e.rt.outboundHead(req, st)
	b, route := st.backend, st.route
	resp := &ctx.Response
	if st.enc = route.shape.negotiateFast(&ctx.Request.Header); st.enc != "" {
		// Compressing: the answer comes in a response of its own, whose
		// body stream adoptShaped can wrap.
		resp = fasthttp.AcquireResponse()
		resp.Header.SetNoDefaultContentType(true)
	}
	var err error
	if b.Protocol == HTTP1 && b.TLS == nil && route.Timeout == 0 && route.BackendTimeout == 0 {
		if st.streamed && sc != nil {
			// Each read of a streamed body is bounded by the body timeout.
			sc.setPerReadTimeout(e.bodyTimeout())
			defer sc.setPerReadTimeout(0)
		}
		err = e.rt.roundTripFast(ctx, req, resp, st)
	} else {
		err = e.roundTripStd(req, st, resp)
	}
	if err != nil {
		if resp != &ctx.Response {
			fasthttp.ReleaseResponse(resp)
		}
		e.proxyError(ctx, st, err)
		return
	}
	if route.intercepts(resp.StatusCode()) && b != route.errorBackend {
		e.rt.replaceFast(resp, st)
	}
	st.filterResponse(&resp.Header)
	if st.x.TLS && route.HSTS != "" {
		resp.Header.Set("Strict-Transport-Security", route.HSTS)
	}
	if resp != &ctx.Response {
		adoptShaped(&ctx.Response, resp, route.shape, st.enc)
	}
}

// outboundHead sets what Portico adds to the forwarded request, after the
// client's hop-by-hop headers are gone: the canonical (or rewritten) path
// and host, HTTP/1.1, and the X-Forwarded-* headers.
func (rt *Router) outboundHead(req *fasthttp.Request, st *proxyState) {
	x := &st.x
	h := &req.Header
	target := x.RawPath
	if target == "" {
		target = x.Path
		if strings.ContainsAny(target, "%?# ") || !isASCII(target) {
			target = (&url.URL{Path: x.Path}).EscapedPath()
		}
	}
	if x.RawQuery != "" {
		target += "?" + x.RawQuery
	}
	// The request line goes out exactly as routed: fasthttp would
	// otherwise rebuild it from its parsed (and normalised) URI, and the
	// Host header from that URI's lower-cased host.
	req.UseHostHeader = true
	h.SetNoDefaultContentType(true)
	req.URI().DisablePathNormalizing = true
	req.SetRequestURI(target)
	if x.rewritten || string(h.Host()) != x.Host {
		h.SetHost(x.Host)
	}
	h.SetProtocol("HTTP/1.1")
	ip := x.clientIP
	var ipBuf [64]byte
	ipText := ip.AppendTo(ipBuf[:0])
	xfh, xfp := x.Host, "http"
	if x.TLS {
		xfp = "https"
	}
	xff := ipText
	trusted := rt.trusted(ip)
	if trusted {
		if prior := h.PeekAll("X-Forwarded-For"); len(prior) > 0 {
			var joined []byte
			for _, p := range prior {
				joined = append(append(joined, p...), ", "...)
			}
			joined = append(joined, ipText...)
			xff = joined
		}
		if v := h.Peek("X-Forwarded-Host"); len(v) > 0 {
			xfh = string(v)
		}
		if v := h.Peek("X-Forwarded-Proto"); len(v) > 0 {
			xfp = string(v)
		}
	}
	if trusted {
		// Set replaces one field line only: every line goes. (From
		// untrusted clients sanitizeFast removed them all already.)
		h.Del("X-Forwarded-For")
		h.Del("X-Forwarded-Host")
		h.Del("X-Forwarded-Proto")
	}
	if ip.IsValid() {
		h.SetCanonical(hXForwardedFor, xff)
		if !trusted || len(h.Peek("X-Real-Ip")) == 0 {
			h.SetCanonical(hXRealIP, ipText)
		}
	}
	h.SetCanonical(hXForwardedHost, []byte(xfh))
	h.SetCanonical(hXForwardedProto, []byte(xfp))
}

// Canonical names of the headers Portico sets on every forwarded request
// (fasthttp skips normalising them).
var (
	hXForwardedFor   = []byte("X-Forwarded-For")
	hXForwardedHost  = []byte("X-Forwarded-Host")
	hXForwardedProto = []byte("X-Forwarded-Proto")
	hXRealIP         = []byte("X-Real-Ip")
)

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 || s[i] < 0x21 {
			return false
		}
	}
	return true
}

// roundTripFast sends req on fasthttp's pools: the endpoint by the
// backend's Picker, a failed connect tried once more on another endpoint,
// or as the route's retry policy says.
func (rt *Router) roundTripFast(ctx context.Context, req *fasthttp.Request, resp *fasthttp.Response, st *proxyState) error {
	b, retry := st.backend, st.route.Retry
	eps := b.Endpoints
	first := b.next.Add(1)
	attempts := min(2, len(eps))
	if retry != nil {
		attempts = 1 + retry.Attempts
	}
	var err error
	for i := 0; i < attempts; i++ {
		if i > 0 && retry != nil && !sleepCtx(ctx, retry.backoff(i)) {
			return context.Canceled
		}
		ep := st.pickEndpoint(b, first, i)
		st.endpoint = eps[ep].Address
		hc := rt.opts.Transport.fast.get(st.endpoint)
		b.picker.started(ep)
		span := st.startAttempt(rt.opts.Tracing, "upstream", st.endpoint, fastReqHeaders{&req.Header}, i)
		err = hc.Do(req, resp)
		if errors.Is(err, fasthttp.ErrConnectionClosed) && !st.streamed {
			// A pooled connection the backend had closed: once more, as
			// net/http does for requests nothing was sent of.
			err = hc.Do(req, resp)
		}
		code := 0
		if err == nil {
			code = resp.StatusCode()
		}
		endAttempt(span, code, err)
		b.picker.finished(ep, code, err == nil || isDialError(err))
		last := i == attempts-1 || st.streamed
		switch {
		case err == nil && (retry == nil || last || !retry.retriable(code)):
			return nil
		case err == nil:
			_ = resp.CloseBodyStream()
			resp.Reset()
			// Reset forgets it: the answer keeps the backend's headers as
			// sent, with no Content-Type of fasthttp's own.
			resp.Header.SetNoDefaultContentType(true)
			continue
		}
		if retry == nil && !isDialError(err) || last {
			return err
		}
	}
	return err
}

// roundTripStd sends req through net/http's transports, for what the fast
// pools do not do: TLS and HTTP/2 backends, and routes with timeouts.
func (e *fastEngine) roundTripStd(req *fasthttp.Request, st *proxyState, out *fasthttp.Response) error {
	hreq := toHTTPRequest(req, &st.x)
	// Not the fasthttp RequestCtx: it is reset for the next request when
	// the handler returns, while the response body still streams.
	st.Context = context.Background()
	c := context.Context(st)
	cancel := context.CancelFunc(func() {})
	if st.route.Timeout > 0 {
		c, cancel = context.WithTimeout(c, st.route.Timeout)
	}
	hreq = hreq.WithContext(c)
	resp, err := (&endpointTransport{t: e.rt.opts.Transport, tracing: e.rt.opts.Tracing}).RoundTrip(hreq) //nolint:bodyclose // closed by fasthttp once streamed

	if err != nil {
		cancel()
		if errors.Is(c.Err(), context.DeadlineExceeded) {
			return errRouteTimeout
		}
		return err
	}
	out.SetStatusCode(resp.StatusCode)
	for k, vs := range resp.Header {
		for _, v := range vs {
			out.Header.Add(k, v)
		}
	}
	out.SetBodyStream(&cancelOnClose{ReadCloser: resp.Body, cancel: cancel}, int(resp.ContentLength))
	return nil
}

var errRouteTimeout = errors.New("route timeout")

// toHTTPRequest builds the net/http form of an outbound request.
func toHTTPRequest(req *fasthttp.Request, x *Exchange) *http.Request {
	h := make(http.Header, req.Header.Len())
	for k, v := range req.Header.All() {
		h.Add(string(k), string(v))
	}
	h.Del("Host")
	u := &url.URL{Scheme: "http", Host: "backend", Path: x.Path, RawPath: x.RawPath, RawQuery: x.RawQuery}
	hr := &http.Request{Method: x.Method, URL: u, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Host: string(req.Header.Host()), ContentLength: int64(req.Header.ContentLength())}
	switch {
	case req.IsBodyStream() && hr.ContentLength != 0:
		hr.Body = &retryableBody{ReadCloser: io.NopCloser(req.BodyStream())}
		if hr.ContentLength < 0 {
			hr.ContentLength = -1
		}
	case len(req.Body()) > 0:
		data := req.Body()
		hr.Body, hr.ContentLength = io.NopCloser(bytes.NewReader(data)), int64(len(data))
	default:
		hr.Body, hr.ContentLength = http.NoBody, 0
	}
	h.Del("Content-Length")
	h.Del("Transfer-Encoding")
	return hr
}

// proxyError answers a failed proxying: 400/408 for a bad or stalled
// client body, 504 for a timeout, else 502.
func (e *fastEngine) proxyError(ctx *fasthttp.RequestCtx, st *proxyState, err error) {
	ctx.Response.Reset()
	code := http.StatusBadGateway
	sc := strictOf(ctx.Conn())
	switch {
	case st.policy.bodyTooLarge:
		code = http.StatusRequestEntityTooLarge
		ctx.SetConnectionClose()
	case IsFramingError(err) || sc != nil && sc.failed():
		// The client's body broke its framing on the way.
		code = http.StatusBadRequest
		ctx.SetConnectionClose()
	case sc != nil && sc.readTimedOut.Load():
		// The client's body stalled.
		code = http.StatusRequestTimeout
		ctx.SetConnectionClose()
	case errors.Is(err, errRouteTimeout) || errors.Is(err, fasthttp.ErrDialTimeout) || errors.Is(err, fasthttp.ErrTimeout) || isTimeout(err):
		code = http.StatusGatewayTimeout
	}
	if l := e.rt.opts.ErrorLog; l != nil {
		l.Warn("upstream request failed", "backend", st.backend.Name, "endpoint", st.endpoint, "error", err)
	}
	fastText(ctx, code, http.StatusText(code))
}

// mirror sends copies of the request to the route's mirrors, through
// net/http (mirrors are rare and their answers discarded).
func (e *fastEngine) mirror(ctx *fasthttp.RequestCtx, st *proxyState) {
	if e.rt.proxy == nil || ctx.Request.IsBodyStream() && ctx.Request.Header.ContentLength() != 0 && len(ctx.Request.Body()) == 0 {
		return
	}
	hr := toHTTPRequest(&ctx.Request, &st.x)
	// The mirrors outlive the request: nothing of st's buffer goes along.
	hr.Host = strings.Clone(hr.Host)
	hr.URL.Path, hr.URL.RawPath, hr.URL.RawQuery = strings.Clone(st.x.Path), strings.Clone(st.x.RawPath), strings.Clone(st.x.RawQuery)
	e.rt.mirror(hr, st)
}

// observe records the request in metrics and the access log.
func (e *fastEngine) observe(ctx *fasthttp.RequestCtx, st *proxyState, start time.Time) {
	rt := e.rt
	code := ctx.Response.StatusCode()
	st.endServer(code)
	if m := rt.opts.Metrics; m != nil {
		m.observe(st, code, time.Since(start))
	}
	if l := rt.opts.AccessLog; l != nil {
		logAccessFast(l, ctx, st, code, start)
	}
}
