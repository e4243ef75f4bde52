package router

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// extAuthStep asks a forward-auth service about every request (the
// protocol of oauth2-proxy's /oauth2/auth, Authelia's and nginx's
// auth_request): a GET of the service's URL carrying the original
// request's chosen headers and X-Forwarded-{Method,Proto,Host,Uri,For}. A
// 2xx answer lets the request on with the chosen answer headers copied to
// it; any other answer goes back to the client (status, body, Location,
// WWW-Authenticate, Set-Cookie). When the service cannot be asked (down,
// timeout, an answer that is not HTTP) the request is refused with 403
// (Envoy's default), unless FailOpen.
type extAuthStep struct {
	url      string
	send     []string // canonical names of the headers sent
	toUpdate []string // canonical names of the headers copied upstream
	timeout  time.Duration
	failOpen bool
	// original: ask with the original method and path (see
	// HTTPExtAuth.OriginalRequest).
	original bool
	client   *http.Client
	// maxBody and partial: see ExtAuth.MaxBody.
	maxBody int64
	partial bool
}

// Forward-auth limits.
const (
	defaultExtAuthTimeout = 10 * time.Second
	maxExtAuthBody        = 64 << 10
)

// extAuthPassBack are the answer headers returned to the client with a
// refusal.
var extAuthPassBack = []string{"Location", "Www-Authenticate", "Set-Cookie", "Cache-Control"}

func compileExtAuth(e *ExtAuth) (policyStep, error) {
	switch {
	case (e.HTTP == nil) == (e.GRPC == nil):
		return nil, errors.New("extAuth: set one of http, grpc")
	case e.MaxBody < 0 || e.MaxBody > MaxAuthBody:
		return nil, fmt.Errorf("extAuth.maxBody: want 0 to %d bytes, not %d", MaxAuthBody, e.MaxBody)
	case e.GRPC != nil:
		return compileGRPCAuth(e)
	case e.HTTP.AuthRequest != nil:
		return compileAuthRequest(e)
	}
	u, err := url.Parse(e.HTTP.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("extAuth.http.url: want an http(s) URL, not %q", e.HTTP.URL)
	}
	if e.Timeout < 0 {
		return nil, errors.New("extAuth.timeout: must not be negative")
	}
	s := &extAuthStep{url: e.HTTP.URL, timeout: e.Timeout, failOpen: e.FailOpen, original: e.HTTP.OriginalRequest,
		maxBody: e.MaxBody, partial: e.PartialBody}
	if s.timeout == 0 {
		s.timeout = defaultExtAuthTimeout
	}
	send := e.HTTP.HeadersToSend
	switch {
	case s.original:
		// The filter always sends Authorization.
		send = append([]string{"Authorization"}, send...)
	case len(send) == 0:
		send = []string{"Authorization", "Cookie"}
	}
	for i, h := range send {
		if h == "" {
			return nil, fmt.Errorf("extAuth.http.headersToSend[%d]: %w", i, errNoHeader)
		}
		s.send = append(s.send, canonicalName(h))
	}
	for i, h := range e.HTTP.HeadersToBackend {
		if h == "" {
			return nil, fmt.Errorf("extAuth.http.headersToBackend[%d]: %w", i, errNoHeader)
		}
		s.toUpdate = append(s.toUpdate, canonicalName(h))
	}
	s.client = &http.Client{
		Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second,
			ResponseHeaderTimeout: s.timeout, MaxResponseHeaderBytes: MaxHeaderBytes},
		// A redirect is an answer for the client (to a login page).
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return s, nil
}

func (s *extAuthStep) check(_ context.Context, x *Exchange, resp Headers, ps *policyState) (int, string) {
	// What the service may set is never taken from the client.
	for _, h := range s.toUpdate {
		x.Header.Del(h)
	}
	var reqBody io.Reader
	partial := ""
	if s.maxBody > 0 {
		data, whole, code, text := ps.authBody(s.maxBody, s.partial)
		if code != 0 {
			return code, text
		}
		reqBody, partial = bytes.NewReader(data), strconv.FormatBool(!whole)
	}
	// Not derived from the request's context: the fast engine's is
	// recycled when the handler returns, and a timer's cancel would read
	// it after that.
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	proto := "http"
	if x.TLS {
		proto = "https"
	}
	uri := (&url.URL{Path: x.Path, RawPath: x.RawPath}).EscapedPath()
	if x.RawQuery != "" {
		uri += "?" + x.RawQuery
	}
	method, target := http.MethodGet, s.url
	if s.original {
		// URL's path is a prefix ending before the original's "/".
		method, target = x.Method, strings.TrimSuffix(s.url, "/")+uri
	}
	req, err := http.NewRequestWithContext(ctx, method, target, reqBody)
	if err != nil {
		return s.failed()
	}
	if partial != "" {
		req.Header.Set("X-Envoy-Auth-Partial-Body", partial)
	}
	if s.original {
		req.Host = x.Host
	}
	for _, h := range s.send {
		for _, v := range x.Header.Values(h) {
			req.Header.Add(h, v)
		}
	}
	req.Header.Set("X-Forwarded-Method", x.Method)
	req.Header.Set("X-Forwarded-Proto", proto)
	req.Header.Set("X-Forwarded-Host", x.Host)
	req.Header.Set("X-Forwarded-Uri", uri)
	req.Header.Set("X-Original-Url", proto+"://"+x.Host+uri)
	if ip := x.ClientIP(); ip.IsValid() {
		req.Header.Set("X-Forwarded-For", ip.String())
	}
	answer, err := s.client.Do(req)
	if err != nil {
		return s.failed()
	}
	defer answer.Body.Close()
	if answer.StatusCode == http.StatusOK || !s.original && answer.StatusCode >= 200 && answer.StatusCode < 300 {
		_, _ = io.Copy(io.Discard, io.LimitReader(answer.Body, maxExtAuthBody))
		for _, h := range s.toUpdate {
			for _, v := range answer.Header.Values(h) {
				x.Header.Add(h, v)
			}
		}
		return 0, ""
	}
	body, err := io.ReadAll(io.LimitReader(answer.Body, maxExtAuthBody))
	if err != nil {
		return s.failed()
	}
	for _, h := range extAuthPassBack {
		for i, v := range answer.Header.Values(h) {
			if i == 0 {
				resp.Set(h, v)
			} else {
				resp.Add(h, v)
			}
		}
	}
	return answer.StatusCode, strings.TrimSuffix(string(body), "\n")
}

// failed is the answer when the service could not be asked.
func (s *extAuthStep) failed() (int, string) {
	if s.failOpen {
		return 0, ""
	}
	return http.StatusForbidden, "authorization service unavailable"
}
