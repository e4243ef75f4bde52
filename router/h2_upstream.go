package router

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/valyala/fasthttp"
)

// HTTP/2 requests (and gRPC) are served by net/http's server, but on the
// fast engine those bound for a plain HTTP/1.1 backend skip
// httputil.ReverseProxy and net/http's Transport: they go out on the fast
// engine's own pools (fasthttp), in the handler's goroutine, with the same
// outbound head, retries, balancing and response filters as an HTTP/1.x
// request on that engine. The Transport's two goroutines and channels per
// upstream connection, and the header maps of a second http.Request and an
// http.Response, were half of an HTTP/2 request's cost.

// fastUpstream reports whether r, an HTTP/2 request routed to st.backend,
// goes out on the fast pools: the fast engine is on, the backend speaks
// plain HTTP/1.1, and nothing needs what only net/http's Transport does
// (trailers, which gRPC needs; the route's timeouts).
func (rt *Router) fastUpstream(r *http.Request, st *proxyState) bool {
	b, route := st.backend, st.route
	return rt.opts.Edge.Engine == EngineFast && r.ProtoMajor == 2 &&
		b.Protocol == HTTP1 && b.TLS == nil && route.Timeout == 0 && route.BackendTimeout == 0 &&
		len(r.Header["Te"]) == 0
}

// forwardFast proxies r to st.backend on the fast pools and writes the
// answer to w. The request's filters have run; the backend is chosen.
func (rt *Router) forwardFast(w http.ResponseWriter, r *http.Request, st *proxyState) {
	defer st.release()
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	req.Header.SetMethod(r.Method)
	for k, vs := range r.Header {
		if k == "Content-Length" || k == "Host" {
			continue
		}
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	switch {
	case st.body == nil || r.ContentLength == 0:
	case st.body.data != nil:
		req.SetBodyRaw(st.body.data)
	default:
		// Longer than buffered bodies get (or without a length): streamed,
		// hence not replayable.
		req.SetBodyStream(r.Body, int(r.ContentLength))
		st.streamed = true
	}
	st.x.clientIP = st.x.ClientIP()
	rt.outboundHead(req, st)
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	// The backend's headers as sent: no Content-Type of fasthttp's own.
	resp.Header.SetNoDefaultContentType(true)
	if err := rt.roundTripFast(r.Context(), req, resp, st); err != nil {
		rt.fastProxyError(w, r, st, err)
		return
	}
	if st.route.intercepts(resp.StatusCode()) && st.backend != st.route.errorBackend {
		rt.replaceFast(resp, st)
	}
	defer func() { _ = resp.CloseBodyStream() }()
	st.filterResponse(&resp.Header)
	h := w.Header()
	copyResponseHeader(h, &resp.Header)
	streaming := resp.Header.ContentLength() < 0
	if !streaming {
		h["Content-Length"] = []string{strconv.Itoa(resp.Header.ContentLength())}
	}
	w.WriteHeader(resp.StatusCode())
	if sw, ok := w.(*shapeWriter); r.Method == http.MethodHead || ok && sw.overridden() {
		return
	}
	if !resp.IsBodyStream() {
		_, _ = w.Write(resp.Body())
		return
	}
	body := resp.BodyStream()
	if c, ok := body.(interface{ CloseWithError(error) error }); ok {
		// A client that goes away (stream reset, connection closed) ends a
		// read that waits on a quiet backend: the upstream connection is
		// closed, not returned to the pool.
		stop := context.AfterFunc(r.Context(), func() { _ = c.CloseWithError(context.Canceled) })
		defer stop()
	}
	rt.copyBody(w, body, streaming)
}

// copyResponseHeader adds an upstream answer's header fields, but
// Content-Length, to h. Common names are interned and the values' slices
// share one array: a field costs one allocation (its value), not three.
func copyResponseHeader(h http.Header, up *fasthttp.ResponseHeader) {
	vals := make([]string, 0, up.Len())
	for k, v := range up.All() {
		if string(k) == "Content-Length" {
			continue
		}
		name, ok := commonResponseNames[string(k)]
		if !ok {
			name = string(k)
		}
		if prior, ok := h[name]; ok || len(vals) == cap(vals) {
			h[name] = append(prior, string(v))
			continue
		}
		vals = append(vals, string(v))
		// Capped: appending to one field never writes over the next.
		h[name] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
}

// commonResponseNames interns the names of the response header fields
// most backends send.
var commonResponseNames = func() map[string]string {
	m := map[string]string{}
	for _, n := range []string{"Accept-Ranges", "Access-Control-Allow-Origin", "Age", "Cache-Control",
		"Content-Encoding", "Content-Language", "Content-Type", "Date", "Etag", "Expires", "Last-Modified",
		"Link", "Location", "Server", "Set-Cookie", "Strict-Transport-Security", "Vary",
		"X-Content-Type-Options", "X-Frame-Options", "X-Request-Id"} {
		m[n] = n
	}
	return m
}()

// copyBody streams a response body to the client, flushing after each
// read when the body has no length (a stream: SSE, long polls, chunked
// answers).
func (rt *Router) copyBody(w http.ResponseWriter, body io.Reader, flush bool) {
	bp := rt.proxy.BufferPool.(*bufferPool)
	buf := bp.Get()
	defer bp.Put(buf)
	f, _ := w.(http.Flusher)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			if flush && f != nil {
				f.Flush()
			}
		}
		if err != nil {
			return
		}
	}
}

// fastProxyError answers an HTTP/2 request whose upstream exchange failed
// as proxyError does for net/http's Transport: the client's body status
// (400/408), 504 for a timeout, nothing for a client gone away, else 502.
func (rt *Router) fastProxyError(w http.ResponseWriter, r *http.Request, st *proxyState, err error) {
	code := http.StatusBadGateway
	switch {
	case st.policy.bodyTooLarge:
		code = http.StatusRequestEntityTooLarge
	case st.body != nil && st.body.status() != 0:
		code = st.body.status()
	case errors.Is(err, fasthttp.ErrDialTimeout) || errors.Is(err, fasthttp.ErrTimeout) || isTimeout(err):
		code = http.StatusGatewayTimeout
	case r.Context().Err() != nil:
		code = 499
	}
	rt.answerUpstreamError(w, st, code, err)
}

// filterResponse removes the backend's hop-by-hop headers and applies the
// route's and the backend's response header filters and CORS.
func (st *proxyState) filterResponse(h *fasthttp.ResponseHeader) {
	route := st.route
	cleanResponse(h)
	rh := fastRespHeaders{h}
	route.ResponseHeaders.apply(rh)
	if f := st.backendFilters; f != nil {
		f.ResponseHeaders.apply(rh)
	}
	if route.CORS != nil {
		route.CORS.respond(rh, st.x.Header.Get(hOrigin))
	}
	st.sessionResponse(rh)
	st.policy.respond(rh, h.StatusCode())
}
