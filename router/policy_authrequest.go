package router

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// AuthRequest gives an HTTP external auth check the semantics of nginx's
// auth_request as ingress-nginx configures it (auth-url): the subrequest
// carries every header of the original request (not its body) plus
// X-Original-URL, X-Original-Method, X-Sent-From, X-Real-IP,
// X-Forwarded-For and X-Auth-Request-Redirect; a 2xx answer admits the
// request, 401 and 403 are answered to the client (401 with the service's
// WWW-Authenticate, or a redirect to SigninURL), and anything else,
// including a service that cannot be asked, is answered 500.
type AuthRequest struct {
	// Method of the subrequest (default GET); when set, X-Original-URI
	// and X-Scheme are sent too.
	Method string `json:"method,omitempty"`
	// RequestRedirect is the X-Auth-Request-Redirect value (default: the
	// original request URI).
	RequestRedirect string `json:"requestRedirect,omitempty"`
	// SigninURL, when set, answers a 401 with a 302 to it, the original
	// URL in the query parameter SigninParam (default "rd") unless the
	// URL already has one.
	SigninURL   string `json:"signinURL,omitempty"`
	SigninParam string `json:"signinParam,omitempty"`
	// The Set-Cookie headers of a 2xx answer go to the client with the
	// backend's answer when its status is 2xx or 3xx (nginx's add_header
	// codes), or whatever it is with AlwaysSetCookie.
	AlwaysSetCookie bool `json:"alwaysSetCookie,omitempty"`
}

// authRequestStep is a compiled HTTP ExtAuth with AuthRequest.
type authRequestStep struct {
	*extAuthStep
	cfg    AuthRequest
	signin *url.URL
	param  string
	// expand is set when the sign-in URL holds per-request variables.
	expand bool
}

// signinVars are the nginx variables a sign-in URL may hold, filled in
// per request (here replaced by a placeholder, to check the URL).
var signinVars = strings.NewReplacer("$escaped_request_uri", "x", "$request_uri", "x", "$pass_access_scheme", "http",
	"$scheme", "http")

// authRequestSkip are the request headers not passed to the service.
var authRequestSkip = map[string]bool{"Connection": true, "Keep-Alive": true, "Te": true, "Trailer": true,
	"Transfer-Encoding": true, "Upgrade": true, "Proxy-Connection": true, "Proxy-Authorization": true,
	"Content-Length": true, "X-Forwarded-Proto": true, "Host": true}

func compileAuthRequest(e *ExtAuth) (policyStep, error) {
	a := *e.HTTP.AuthRequest
	inner := *e
	inner.MaxBody = 0 // nginx's auth_request sends no body
	inner.HTTP = &HTTPExtAuth{URL: e.HTTP.URL, HeadersToSend: []string{"Authorization"}, HeadersToBackend: e.HTTP.HeadersToBackend}
	base, err := compileExtAuth(&inner)
	if err != nil {
		return nil, err
	}
	s := &authRequestStep{extAuthStep: base.(*extAuthStep), cfg: a, param: a.SigninParam}
	if a.Method != "" && !validMethod(a.Method) {
		return nil, fmt.Errorf("extAuth.http.authRequest.method: %q is not a method", a.Method)
	}
	if s.param == "" {
		s.param = "rd"
	}
	if a.SigninURL != "" {
		u, err := url.Parse(signinVars.Replace(a.SigninURL))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Contains(u.String(), "$") {
			return nil, fmt.Errorf("extAuth.http.authRequest.signinURL: want an http(s) URL, not %q", a.SigninURL)
		}
		s.signin = u
		s.expand = strings.Contains(a.SigninURL, "$")
	}
	if strings.ContainsAny(a.RequestRedirect, "\r\n\x00") {
		return nil, errors.New("extAuth.http.authRequest.requestRedirect: control characters")
	}
	return s, nil
}

func validMethod(m string) bool {
	for _, c := range m {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return m != ""
}

func (s *authRequestStep) check(_ context.Context, x *Exchange, resp Headers, ps *policyState) (int, string) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	method := s.cfg.Method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(ctx, method, s.url, nil)
	if err != nil {
		return http.StatusInternalServerError, "authorization service unavailable"
	}
	eachHeader(x.Header, func(k, v string) {
		if !authRequestSkip[canonicalName(k)] {
			req.Header.Add(k, v)
		}
	})
	// What the service may set is never taken from the client (the
	// service itself sees the client's headers, as with nginx).
	for _, h := range s.toUpdate {
		x.Header.Del(h)
	}
	scheme := "http"
	if x.TLS {
		scheme = "https"
	}
	uri := (&url.URL{Path: x.Path, RawPath: x.RawPath}).EscapedPath()
	if x.RawQuery != "" {
		uri += "?" + x.RawQuery
	}
	client := ps.client
	if !client.IsValid() {
		client = x.ClientIP()
	}
	req.Header.Set("X-Original-Url", scheme+"://"+x.Host+uri)
	req.Header.Set("X-Original-Method", x.Method)
	req.Header.Set("X-Sent-From", "nginx-ingress-controller")
	if client.IsValid() {
		req.Header.Set("X-Real-Ip", client.String())
		req.Header.Set("X-Forwarded-For", client.String())
	}
	req.Header.Set("X-Auth-Request-Redirect", cmpOr(s.cfg.RequestRedirect, uri))
	if s.cfg.Method != "" {
		req.Header.Set("X-Original-Uri", uri)
		req.Header.Set("X-Scheme", scheme)
	}
	answer, err := s.client.Do(req)
	if err != nil {
		return http.StatusInternalServerError, "authorization service unavailable"
	}
	defer answer.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(answer.Body, maxExtAuthBody))
	switch code := answer.StatusCode; {
	case code >= 200 && code < 300:
		for _, h := range s.toUpdate {
			for _, v := range answer.Header.Values(h) {
				x.Header.Add(h, v)
			}
		}
		if c := answer.Header.Values("Set-Cookie"); len(c) > 0 {
			ps.authCookies, ps.authCookiesAlways = c, s.cfg.AlwaysSetCookie
		}
		return 0, ""
	case code == http.StatusUnauthorized && s.signin != nil:
		for _, v := range answer.Header.Values("Set-Cookie") {
			resp.Add("Set-Cookie", v)
		}
		resp.Set("Location", s.signinLocation(scheme, x.Host, uri))
		return http.StatusFound, ""
	case code == http.StatusUnauthorized:
		if v := answer.Header.Get("Www-Authenticate"); v != "" {
			resp.Set("Www-Authenticate", v)
		}
		return code, "unauthorized"
	case code == http.StatusForbidden:
		return code, "forbidden"
	}
	return http.StatusInternalServerError, "authorization service answered " + answer.Status
}

// signinLocation is the sign-in URL with the original URL added (query
// escaped, so nothing from the request can break out of the parameter).
func (s *authRequestStep) signinLocation(scheme, host, uri string) string {
	original := scheme + "://" + host + uri
	u := *s.signin
	if s.expand {
		// uri is the escaped path and the query as received: its
		// characters are all URL-safe but for what the query holds, which
		// QueryEscape covers in the escaped form.
		raw := strings.NewReplacer("$escaped_request_uri", url.QueryEscape(uri), "$request_uri", uri,
			"$pass_access_scheme", scheme, "$scheme", scheme).Replace(s.cfg.SigninURL)
		p, err := url.Parse(raw)
		if err != nil {
			return s.signin.Scheme + "://" + s.signin.Host + "/"
		}
		u = *p
	}
	q := u.Query()
	if q.Get(s.param) != "" {
		return u.String()
	}
	if u.RawQuery != "" {
		u.RawQuery += "&"
	}
	u.RawQuery += url.QueryEscape(s.param) + "=" + url.QueryEscape(original)
	return u.String()
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// eachHeader calls f with every header line of h.
func eachHeader(h Headers, f func(k, v string)) {
	switch h := h.(type) {
	case http.Header:
		for k, vs := range h {
			for _, v := range vs {
				f(k, v)
			}
		}
	case fastReqHeaders:
		for k, v := range h.h.All() {
			f(string(k), string(v))
		}
	}
}

// respond adds what the policy checks keep for the client's answer: the
// auth service's cookies (see AuthRequest.AlwaysSetCookie).
func (ps *policyState) respond(h Headers, status int) {
	if len(ps.authCookies) == 0 {
		return
	}
	switch status {
	case 200, 201, 204, 206, 301, 302, 303, 304, 307, 308:
	default:
		if !ps.authCookiesAlways {
			return
		}
	}
	for _, c := range ps.authCookies {
		h.Add("Set-Cookie", c)
	}
}
