package router

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"unsafe"

	"github.com/valyala/fasthttp"
)

// handle serves one HTTP/1.x request on the fast engine: the same edge
// checks, routing and filters as serve, on a fasthttp request.
func (e *fastEngine) handle(ctx *fasthttp.RequestCtx) {
	start := ctx.Time()
	sc := strictOf(ctx.Conn())
	if sc != nil {
		sc.active.Add(1)
		defer sc.active.Add(-1)
	}
	if e.needsStd(ctx) {
		e.handoff(ctx, sc)
		return
	}
	closeAfter := ctx.Request.Header.ConnectionClose()
	st := statePool.Get().(*proxyState)
	e.serve(ctx, st, sc)
	if st.route != nil && st.route.shape != nil {
		finishShapeFast(ctx, st)
	}
	st.policy.done()
	if closeAfter {
		ctx.SetConnectionClose()
	}
	e.observe(ctx, st, start)
	if st.Context == nil {
		// Nothing outlives the handler with st as its context (the
		// net/http transports' bodies do): it can serve another request,
		// keeping its buffer.
		buf := st.buf[:0]
		*st = proxyState{}
		st.buf = buf
		statePool.Put(st)
	}
}

// statePool recycles the fast engine's request states.
var statePool = sync.Pool{New: func() any { return new(proxyState) }}

// needsStd reports whether the request needs what only net/http does: an
// upgrade (WebSocket), or the ACME HTTP-01 responder. Only requests
// without a body are handed over.
func (e *fastEngine) needsStd(ctx *fasthttp.RequestCtx) bool {
	h := &ctx.Request.Header
	if cl := h.ContentLength(); cl > 0 || cl == -1 {
		return false // a body: served here (an Upgrade is dropped then)
	}
	if len(h.Peek("Upgrade")) > 0 {
		return true
	}
	return e.rt.opts.Intercept != nil && strings.HasPrefix(string(h.RequestURI()), "/.well-known/acme-challenge/")
}

// handoff gives the connection, from this request on, to net/http.
func (e *fastEngine) handoff(ctx *fasthttp.RequestCtx, sc *strictConn) {
	h := &ctx.Request.Header
	head := make([]byte, 0, len(h.RawHeaders())+len(h.RequestURI())+32)
	head = append(head, h.Method()...)
	head = append(head, ' ')
	head = append(head, h.RequestURI()...)
	head = append(head, ' ')
	head = append(head, h.Protocol()...)
	head = append(head, "\r\n"...)
	head = append(head, h.RawHeaders()...)
	if !strings.HasSuffix(string(head), "\r\n\r\n") {
		head = append(head, "\r\n"...)
	}
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(func(c net.Conn) {
		e.std.put(&prefixConn{Conn: c, prefix: head, strict: sc})
	})
}

func (e *fastEngine) serve(ctx *fasthttp.RequestCtx, st *proxyState, sc *strictConn) {
	rt := e.rt
	t := rt.table.Load()
	if t == nil {
		fastText(ctx, http.StatusServiceUnavailable, "no routing configuration loaded yet")
		return
	}
	req := &ctx.Request
	host, rawPath, rawQuery := st.requestTarget(req)
	path, ok := CanonicalPath(rawPath)
	if !ok {
		fastText(ctx, http.StatusBadRequest, "malformed request path")
		return
	}
	if path, ok = rt.opts.Edge.EscapedSlashes.apply(path); !ok {
		fastText(ctx, http.StatusBadRequest, "escaped slash in request path")
		return
	}
	clientIP := tcpAddrIP(ctx.RemoteAddr())
	sanitizeFast(&req.Header, rt.trusted(clientIP))
	var tlsState *tls.ConnectionState
	if sc != nil {
		tlsState = sc.tlsState
	}
	admit := 0
	if rt.opts.Certs != nil {
		admit = rt.opts.Certs.Admit(e.listener, tlsState, stripPort(host))
	}
	if admit == http.StatusMisdirectedRequest {
		fastText(ctx, admit, "this connection's handshake does not cover the requested host; connect with it as the TLS server name")
		return
	}
	if admit != 0 && tlsState != nil {
		fastText(ctx, admit, http.StatusText(admit))
		return
	}
	x := &st.x
	*x = Exchange{Method: methodString(req.Header.Method()), TLS: tlsState != nil, Host: host, Path: path,
		RawQuery: rawQuery, Header: fastReqHeaders{&req.Header}, clientIP: clientIP}
	if strings.IndexByte(path, '%') >= 0 {
		if p, err := url.PathUnescape(path); err == nil {
			x.Path, x.RawPath = p, path
		}
	}
	if tr := rt.opts.Tracing; tr != nil {
		tr.startServer(st, string(req.Header.Protocol()))
	}
	var mreq Request
	if t.NeedsRequest() {
		mreq = matchView{x}
	}
	route := t.LookupOn(e.listener, host, path, mreq)
	if route == nil {
		fastText(ctx, http.StatusNotFound, "no route for this host and path")
		return
	}
	st.route = route
	if rt.redirectsToHTTPS(route, x) {
		ctx.Response.Header.Set("Location", httpsLocation(x, rt.opts.HTTPSPort))
		fastText(ctx, http.StatusPermanentRedirect, "")
		return
	}
	if admit != 0 {
		fastText(ctx, admit, "this host requires a client certificate; use HTTPS")
		return
	}
	e.filterAndProxy(ctx, st, sc)
}

func (e *fastEngine) filterAndProxy(ctx *fasthttp.RequestCtx, st *proxyState, sc *strictConn) {
	if st.route.wantsAuthBody() {
		st.policy.peek = &fastBodyPeek{e: e, ctx: ctx, st: st, sc: sc}
	}
	if code, text := st.answerEarly(ctx, fastRespHeaders{&ctx.Response.Header}); code != 0 {
		if st.policy.peeked && !st.policy.peekWhole || !st.policy.peeked && ctx.Request.IsBodyStream() {
			// The body is not read through: close, lingering so that the
			// client's unread bytes do not reset the answer away.
			ctx.SetConnectionClose()
			if sc != nil {
				sc.lingerAtClose()
			}
		}
		if st.outbound != nil {
			fasthttp.ReleaseRequest(st.outbound)
			st.outbound = nil
		}
		if code > 0 {
			fastText(ctx, code, text)
		}
		return
	}
	if !e.prepareBody(ctx, st, sc) {
		return
	}
	st.applyRequestFilters()
	if len(st.route.Mirrors) > 0 {
		e.mirror(ctx, st)
	}
	if code, text := st.chooseBackend(true); code != 0 {
		if st.overflow {
			ctx.Response.Header.Set("X-Portico-Overflow", "max requests")
		}
		fastText(ctx, code, text)
		return
	}
	defer st.release()
	e.proxy(ctx, st, sc)
}

// requestTarget returns the request's host and its raw path and query:
// from the request line in absolute form, else from Host. The strings are
// copies in st's own buffer, which is reused only once st is recycled:
// they must not be kept past the request (mirrors clone theirs).
func (st *proxyState) requestTarget(req *fasthttp.Request) (host, path, query string) {
	var h, target []byte
	if uri := req.Header.RequestURI(); len(uri) > 0 && uri[0] == '/' {
		h, target = req.Header.Host(), uri
	} else {
		u := req.URI()
		h, target = u.Host(), u.RequestURI()
	}
	buf := append(append(st.buf[:0], h...), target...)
	st.buf = buf
	all := unsafe.String(unsafe.SliceData(buf), len(buf))
	host, target2 := all[:len(h)], all[len(h):]
	path, query, _ = strings.Cut(target2, "?")
	return host, path, query
}

// methodString returns the method as a string, without allocating for the
// common ones.
func methodString(m []byte) string {
	switch string(m) {
	case http.MethodGet:
		return http.MethodGet
	case http.MethodPost:
		return http.MethodPost
	case http.MethodHead:
		return http.MethodHead
	case http.MethodPut:
		return http.MethodPut
	case http.MethodDelete:
		return http.MethodDelete
	case http.MethodOptions:
		return http.MethodOptions
	case http.MethodPatch:
		return http.MethodPatch
	}
	return string(m)
}

func tcpAddrIP(a net.Addr) netip.Addr {
	if t, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(t.IP)
		return ip.Unmap()
	}
	return remoteIP(a.String())
}

// fastText answers with a status and, unless text is "", a plain-text
// body (as http.Error).
func fastText(ctx *fasthttp.RequestCtx, code int, text string) {
	ctx.Response.SetStatusCode(code)
	if text == "" {
		return
	}
	ctx.Response.Header.Set("Content-Type", "text/plain; charset=utf-8")
	ctx.Response.Header.Set("X-Content-Type-Options", "nosniff")
	ctx.Response.SetBodyString(text + "\n")
}
