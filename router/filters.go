package router

import (
	"bytes"
	"cmp"
	"context"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// apply modifies h as ops say.
func (ops *HeaderOps) apply(h Headers) {
	if ops == nil {
		return
	}
	for _, s := range ops.Set {
		h.Set(s.Name, s.Value)
	}
	for _, a := range ops.Add {
		h.Add(a.Name, a.Value)
	}
	for _, r := range ops.Remove {
		h.Del(r)
	}
}

// modifyPath applies a path modifier to the canonical request path. For
// ReplacePrefix, prefix is the route's (element-wise) matched prefix.
func (m *PathModifier) modifyPath(path, prefix string, re *regexp.Regexp) string {
	switch {
	case re != nil:
		return re.ReplaceAllString(path, m.Value)
	case m.StringPrefix != "":
		return m.Value + strings.TrimPrefix(path, m.StringPrefix)
	case !m.ReplacePrefix:
		return m.Value
	}
	rest := strings.TrimPrefix(path, strings.TrimSuffix(prefix, "/"))
	value := strings.TrimSuffix(m.Value, "/")
	switch {
	case rest == "" && value == "":
		return "/"
	case rest == "":
		return value
	case value == "" || strings.HasPrefix(rest, "/"):
		return value + rest
	default:
		return value + "/" + rest
	}
}

// redirectTo is the Location and status of the route's redirect for x.
func (route *CompiledRoute) redirectTo(x *Exchange) (string, int) {
	rd := route.Redirect
	if rd.Location != "" {
		return rd.Location, cmp.Or(rd.StatusCode, http.StatusFound)
	}
	scheme := "http"
	if x.TLS {
		scheme = "https"
	}
	host := stripPort(x.Host)
	port := 0
	switch {
	case rd.Port != 0:
		port = int(rd.Port)
	case rd.Scheme != "":
		// A new scheme gets its well-known port.
	case route.ListenerPort != 0:
		port = int(route.ListenerPort)
	default:
		if _, p, err := net.SplitHostPort(x.Host); err == nil {
			port, _ = strconv.Atoi(p)
		}
	}
	if rd.Scheme != "" {
		scheme = rd.Scheme
	}
	if rd.Hostname != "" {
		host = rd.Hostname
	}
	if port == 80 && scheme == "http" || port == 443 && scheme == "https" {
		port = 0
	}
	if port != 0 {
		host = net.JoinHostPort(strings.Trim(host, "[]"), strconv.Itoa(port))
	}
	path := x.Path
	if rd.Path != nil {
		path = rd.Path.modifyPath(path, route.Path, nil)
	}
	u := url.URL{Scheme: scheme, Host: host, Path: path, RawQuery: x.RawQuery}
	code := rd.StatusCode
	if code == 0 {
		code = http.StatusFound
	}
	return u.String(), code
}

// redirectsToHTTPS reports whether the route's HTTPS redirect answers the
// request: it came over plain HTTP or, with ForwardedProto, a trusted
// proxy says it did.
func (rt *Router) redirectsToHTTPS(route *CompiledRoute, x *Exchange) bool {
	if !route.HTTPSRedirect {
		return false
	}
	if route.ForwardedProto {
		if p := x.Header.Get("X-Forwarded-Proto"); p != "" && rt.trusted(x.ClientIP()) {
			return strings.EqualFold(strings.TrimSpace(p), "http")
		}
	}
	return !x.TLS
}

// httpsLocation is where a plain-HTTP request is redirected: the same
// host, path and query on https, at httpsPort unless it is 443 (or 0).
func httpsLocation(x *Exchange, httpsPort int) string {
	host := stripPort(x.Host)
	if httpsPort != 0 && httpsPort != 443 {
		host = net.JoinHostPort(strings.Trim(host, "[]"), strconv.Itoa(httpsPort))
	}
	u := url.URL{Scheme: "https", Host: host, Path: x.Path, RawPath: x.RawPath, RawQuery: x.RawQuery}
	return u.String()
}

// rewriteRequest changes the forwarded host and path as the route says.
func (route *CompiledRoute) rewriteRequest(x *Exchange) {
	rw := route.Rewrite
	if rw.Hostname != "" {
		x.Host, x.rewritten = rw.Hostname, true
	}
	switch {
	case rw.Path != nil && route.rewriteRe != nil:
		x.Path, x.RawPath, x.rewritten = regexRewrite(x, rw.Path.Value, route.rewriteRe)
	case rw.Path != nil:
		x.Path, x.RawPath, x.rewritten = rw.Path.modifyPath(x.Path, route.Path, route.rewriteRe), "", true
	}
}

// maxMirrorBody bounds the request body buffered to be mirrored; larger
// bodies are mirrored without body.
const maxMirrorBody = 64 << 10

// fires reports whether this request is one of the share the mirror
// copies.
func (m *Mirror) fires() bool {
	return m.Backend != nil && len(m.Backend.Endpoints) > 0 && (m.Fraction >= 1 || rand.Float64() < m.Fraction)
}

// mirror sends copies of r to the route's mirror backends that fire, in
// the background, and never affects the client's request.
func (rt *Router) mirror(r *http.Request, st *proxyState) {
	route := st.route
	var body []byte
	if r.Body != nil && r.Body != http.NoBody && r.ContentLength >= 0 && r.ContentLength <= maxMirrorBody {
		b, err := io.ReadAll(io.LimitReader(r.Body, maxMirrorBody+1))
		r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(b), r.Body))
		if err == nil && len(b) <= maxMirrorBody {
			body = b
		}
	}
	for i := range route.Mirrors {
		m := &route.Mirrors[i]
		if !m.fires() {
			continue
		}
		transport, scheme, err := rt.opts.Transport.roundTripper(m.Backend)
		if err != nil {
			continue
		}
		out := r.Clone(context.WithoutCancel(r.Context()))
		out.RequestURI = ""
		out.URL.Scheme, out.URL.Host = scheme, m.Backend.Endpoints[rand.IntN(len(m.Backend.Endpoints))].Address
		out.Body, out.ContentLength = http.NoBody, 0
		if body != nil {
			out.Body, out.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		}
		// Started here: st is recycled once the request is answered.
		span := st.startAttempt(rt.opts.Tracing, "mirror", out.URL.Host, out.Header, 0)
		go func() {
			ctx, cancel := context.WithTimeout(out.Context(), mirrorTimeout)
			defer cancel()
			resp, err := transport.RoundTrip(out.WithContext(ctx))
			code := 0
			if err == nil {
				code = resp.StatusCode
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			endAttempt(span, code, err)
		}()
	}
}

// mirrorTimeout bounds a mirrored request.
const mirrorTimeout = 30 * time.Second

// inject delays the request as the fault says, then returns the status to
// abort it with: 0 to go on, -1 when the client went away while delayed.
func (f *Fault) inject(ctx context.Context) int {
	if f.Delay > 0 && rand.Float64()*100 < f.DelayPercent {
		if !sleepCtx(ctx, f.Delay) {
			return -1
		}
	}
	if f.AbortStatus != 0 && rand.Float64()*100 < f.AbortPercent {
		return f.AbortStatus
	}
	return 0
}
