package router

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// ErrorPages is ingress-nginx's custom-http-errors and default-backend: a
// backend answer whose status is one of Codes is replaced by the answer of
// Backend to a request for "/" (method and query kept, no body) that
// carries the ingress-nginx error headers: X-Code, X-Format (the client's
// Accept), X-Original-URI, X-Namespace, X-Ingress-Name, X-Service-Name,
// X-Service-Port and X-Request-ID. The client gets Backend's status,
// headers and body. With WhenUnavailable, a request whose chosen backend
// has no ready endpoint goes to Backend instead, as it is, with the same
// headers and X-Code 503. Portico's own answers (policy refusals, 502/504
// when no backend answers) are not replaced.
type ErrorPages struct {
	// Codes are statuses of 300 to 599.
	Codes []int `json:"codes,omitempty"`
	// Backend answers in place of the route's backends.
	Backend *Backend `json:"backend"`
	// WhenUnavailable sends the requests of a backend with no ready
	// endpoint to Backend.
	WhenUnavailable bool `json:"whenUnavailable,omitempty"`
	// Namespace, Ingress, Service and ServicePort are sent as X-Namespace,
	// X-Ingress-Name, X-Service-Name and X-Service-Port.
	Namespace   string `json:"namespace,omitempty"`
	Ingress     string `json:"ingress,omitempty"`
	Service     string `json:"service,omitempty"`
	ServicePort string `json:"servicePort,omitempty"`
}

// errorPageTimeout bounds one error-page exchange, body included.
const errorPageTimeout = 60 * time.Second

// CheckErrorPages reports what makes a route's ErrorPages unusable.
func CheckErrorPages(e *ErrorPages) error {
	if e.Backend == nil {
		return errors.New("no backend")
	}
	var errs []error
	for i, c := range e.Codes {
		if c < 300 || c > 599 {
			errs = append(errs, fmt.Errorf("codes[%d]: %d is not a status of 300 to 599", i, c))
		}
	}
	for _, v := range []string{e.Namespace, e.Ingress, e.Service, e.ServicePort} {
		if !validHeaderValue(v) {
			errs = append(errs, fmt.Errorf("%q is not a header value", v))
		}
	}
	return errors.Join(errs...)
}

// intercepts reports whether a backend answer of status code is replaced.
func (route *CompiledRoute) intercepts(code int) bool {
	e := route.ErrorPages
	if e == nil || route.errorBackend == nil {
		return false
	}
	for _, c := range e.Codes {
		if c == code {
			return true
		}
	}
	return false
}

// unavailableFallback switches the request to the error backend when the
// chosen one has no ready endpoint (WhenUnavailable) and it has one, and
// adds the error headers; it reports whether it did.
func (st *proxyState) unavailableFallback() bool {
	route := st.route
	e := route.ErrorPages
	if e == nil || !e.WhenUnavailable || route.errorBackend == nil || len(route.errorBackend.Endpoints) == 0 || route.errorBackend.Status != 0 {
		return false
	}
	st.backend, st.backendFilters = route.errorBackend, nil
	st.errorHeaders(st.x.Header, http.StatusServiceUnavailable, st.x.requestURI())
	return true
}

// requestURI is the path and query as routed (before any rewrite).
func (x *Exchange) requestURI() string {
	p := x.RawPath
	if p == "" {
		p = (&url.URL{Path: x.Path}).EscapedPath()
	}
	if x.RawQuery != "" {
		p += "?" + x.RawQuery
	}
	return p
}

// errorHeaders sets the headers ingress-nginx sends its error backend.
func (st *proxyState) errorHeaders(h Headers, code int, originalURI string) {
	e := st.route.ErrorPages
	h.Set("X-Code", strconv.Itoa(code))
	h.Set("X-Format", st.x.Header.Get("Accept"))
	h.Set("X-Original-URI", originalURI)
	h.Set("X-Namespace", e.Namespace)
	h.Set("X-Ingress-Name", e.Ingress)
	h.Set("X-Service-Name", e.Service)
	h.Set("X-Service-Port", e.ServicePort)
	h.Set("X-Request-ID", requestID(st.x.Header.Get("X-Request-ID")))
}

// requestID is the client's X-Request-ID when it is a plausible one (at
// most 64 letters, digits, '-', '_' and '.'), else a new random one, as
// nginx's $req_id.
func requestID(client string) string {
	if n := len(client); n > 0 && n <= 64 && strings.Trim(client, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == "" {
		return client
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// fetchErrorPage asks the route's error backend for the page of an answer
// of status code. The caller closes the response's body.
func (rt *Router) fetchErrorPage(st *proxyState, code int) (*http.Response, error) {
	eb := st.route.errorBackend
	if eb.Status != 0 {
		// A backend that answers itself (ingress-nginx's built-in default
		// backend: 404).
		text := eb.Reason + "\n"
		return &http.Response{StatusCode: eb.Status, Status: strconv.Itoa(eb.Status) + " " + http.StatusText(eb.Status),
			Header:        http.Header{"Content-Type": {"text/plain; charset=utf-8"}, "X-Content-Type-Options": {"nosniff"}},
			Body:          io.NopCloser(strings.NewReader(text)),
			ContentLength: int64(len(text))}, nil
	}
	if len(eb.Endpoints) == 0 {
		return nil, fmt.Errorf("error backend %s has no ready endpoint", eb.Name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), errorPageTimeout)
	// No route: the route's retries and timeouts are not the error
	// backend's.
	est := &proxyState{Context: ctx, x: st.x, backend: eb}
	h := make(http.Header, 12)
	st.errorHeaders(h, code, st.originalURI)
	ip := st.x.ClientIP()
	if ip.IsValid() {
		h.Set("X-Forwarded-For", ip.String())
		h.Set("X-Real-Ip", ip.String())
	}
	proto := "http"
	if st.x.TLS {
		proto = "https"
	}
	h.Set("X-Forwarded-Proto", proto)
	h.Set("X-Forwarded-Host", st.x.Host)
	// The page is for "/", as ingress-nginx's error location rewrites it.
	req := (&http.Request{Method: st.x.Method, URL: &url.URL{Scheme: "http", Host: eb.Name, Path: "/", RawQuery: st.x.RawQuery},
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: h, Host: st.x.Host, Body: http.NoBody}).WithContext(est)
	resp, err := (&endpointTransport{t: rt.opts.Transport}).RoundTrip(req)
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	for _, k := range hopByHop {
		resp.Header.Del(k)
	}
	return resp, nil
}

// replaceStd puts the error page for an answer of status code in resp
// (net/http's engine); an error backend that fails leaves the status with
// a plain body.
func (rt *Router) replaceStd(resp *http.Response, st *proxyState) {
	code := resp.StatusCode
	_ = resp.Body.Close()
	page, err := rt.fetchErrorPage(st, code) //nolint:bodyclose // handed to resp, closed by the proxy once copied
	if err != nil {
		rt.errorPageFailed(st, err)
		text := http.StatusText(code) + "\n"
		resp.Header = http.Header{"Content-Type": {"text/plain; charset=utf-8"}, "X-Content-Type-Options": {"nosniff"}}
		resp.Body, resp.ContentLength = io.NopCloser(strings.NewReader(text)), int64(len(text))
		resp.Header.Set("Content-Length", strconv.Itoa(len(text)))
		return
	}
	resp.StatusCode, resp.Status = page.StatusCode, page.Status
	resp.Header, resp.Body, resp.ContentLength, resp.Trailer = page.Header, page.Body, page.ContentLength, nil
	if page.ContentLength >= 0 {
		resp.Header.Set("Content-Length", strconv.FormatInt(page.ContentLength, 10))
	}
}

// replaceFast puts the error page for an answer of status code in resp
// (the fast pools' response, whose body is closed here).
func (rt *Router) replaceFast(resp *fasthttp.Response, st *proxyState) {
	code := resp.StatusCode()
	_ = resp.CloseBodyStream()
	resp.Reset()
	resp.Header.SetNoDefaultContentType(true)
	page, err := rt.fetchErrorPage(st, code) //nolint:bodyclose // handed to resp, closed by fasthttp once streamed
	if err != nil {
		rt.errorPageFailed(st, err)
		resp.SetStatusCode(code)
		resp.Header.Set("Content-Type", "text/plain; charset=utf-8")
		resp.Header.Set("X-Content-Type-Options", "nosniff")
		text := http.StatusText(code) + "\n"
		resp.SetBodyString(text)
		resp.Header.SetContentLength(len(text))
		return
	}
	resp.SetStatusCode(page.StatusCode)
	for k, vs := range page.Header {
		for _, v := range vs {
			resp.Header.Add(k, v)
		}
	}
	resp.SetBodyStream(page.Body, int(page.ContentLength))
}

func (rt *Router) errorPageFailed(st *proxyState, err error) {
	if l := rt.opts.ErrorLog; l != nil {
		l.Warn("error page request failed", "backend", st.route.errorBackend.Name, "error", err)
	}
}
