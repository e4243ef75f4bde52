package router

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	// The Envoy ext_authz v3 API, from Envoy's own Go protos, so existing
	// servers (OPA-Envoy and others) work unchanged.
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
)

// grpcAuthStep asks an Envoy ext_authz v3 server (Authorization/Check)
// about every request: method, path with query, host, scheme, the chosen
// headers (lower-case names, values joined with commas) and the client's
// address. An OK answer lets the request on with the answer's headers set
// on it (and its headers_to_remove removed); a denial goes back to the
// client with its status (403 when unset), headers and body. When the
// server cannot be asked (down, timeout, an error status from gRPC
// itself) the request gets 403, unless FailOpen.
type grpcAuthStep struct {
	send     []string
	all      bool // every request header, not send
	client   authv3.AuthorizationClient
	failOpen bool
	timeout  time.Duration
	// maxBody, partial and raw: see ExtAuth.MaxBody and
	// GRPCExtAuth.PackAsBytes.
	maxBody int64
	partial bool
	raw     bool
}

// grpcConns shares one client connection per ext_authz address.
var grpcConns sync.Map

func compileGRPCAuth(e *ExtAuth) (policyStep, error) {
	g := e.GRPC
	if _, _, err := net.SplitHostPort(g.Address); err != nil {
		return nil, fmt.Errorf("extAuth.grpc.address: want host:port, not %q", g.Address)
	}
	if e.Timeout < 0 {
		return nil, errors.New("extAuth.timeout: must not be negative")
	}
	s := &grpcAuthStep{failOpen: e.FailOpen, timeout: e.Timeout, all: g.AllHeaders, maxBody: e.MaxBody,
		partial: e.PartialBody, raw: g.PackAsBytes}
	if s.timeout == 0 {
		s.timeout = defaultExtAuthTimeout
	}
	send := g.HeadersToSend
	if len(send) == 0 {
		send = []string{"Authorization", "Cookie"}
	}
	for i, h := range send {
		if h == "" {
			return nil, fmt.Errorf("extAuth.grpc.headersToSend[%d]: %w", i, errNoHeader)
		}
		s.send = append(s.send, canonicalName(h))
	}
	v, ok := grpcConns.Load(g.Address)
	if !ok {
		conn, err := grpc.NewClient(g.Address, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return nil, fmt.Errorf("extAuth.grpc.address: %w", err)
		}
		var loaded bool
		if v, loaded = grpcConns.LoadOrStore(g.Address, conn); loaded {
			_ = conn.Close()
		}
	}
	s.client = authv3.NewAuthorizationClient(v.(*grpc.ClientConn))
	return s, nil
}

func (s *grpcAuthStep) check(_ context.Context, x *Exchange, resp Headers, ps *policyState) (int, string) {
	var reqBody []byte
	whole := true
	if s.maxBody > 0 {
		var code int
		var text string
		if reqBody, whole, code, text = ps.authBody(s.maxBody, s.partial); code != 0 {
			return code, text
		}
	}
	// Not derived from the request's context (see extAuthStep.check).
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	scheme := "http"
	if x.TLS {
		scheme = "https"
	}
	path := x.RawPath
	if path == "" {
		path = x.Path
	}
	if x.RawQuery != "" {
		path += "?" + x.RawQuery
	}
	headers := map[string]string{}
	send := s.send
	if s.all {
		send = nil
		eachHeader(x.Header, func(k, v string) {
			k = strings.ToLower(k)
			if old, ok := headers[k]; ok {
				v = old + "," + v
			}
			headers[k] = v
		})
	}
	for _, h := range send {
		if vs := x.Header.Values(h); len(vs) > 0 {
			headers[strings.ToLower(h)] = strings.Join(vs, ",")
		}
	}
	hr := &authv3.AttributeContext_HttpRequest{Method: x.Method, Path: path, Host: x.Host, Scheme: scheme,
		Headers: headers, Size: -1}
	if n, err := strconv.ParseInt(x.Header.Get("Content-Length"), 10, 64); err == nil && n >= 0 {
		hr.Size = n
	}
	if s.maxBody > 0 {
		// As Envoy: the service learns whether it got all of the body.
		headers["x-envoy-auth-partial-body"] = strconv.FormatBool(!whole)
		if s.raw || !utf8.Valid(reqBody) {
			hr.RawBody = reqBody
		} else {
			hr.Body = string(reqBody)
		}
	}
	req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Request: &authv3.AttributeContext_Request{Http: hr},
	}}
	if ip := x.ClientIP(); ip.IsValid() {
		req.Attributes.Source = &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
			SocketAddress: &corev3.SocketAddress{Address: ip.String()}}}}
	}
	answer, err := s.client.Check(ctx, req)
	if err != nil {
		return s.failed()
	}
	if answer.GetStatus().GetCode() == int32(codes.OK) {
		if ok := answer.GetOkResponse(); ok != nil {
			for _, h := range ok.GetHeadersToRemove() {
				if !isPseudoOrHop(h) {
					x.Header.Del(h)
				}
			}
			for _, o := range ok.GetHeaders() {
				if name, value := o.GetHeader().GetKey(), o.GetHeader().GetValue(); validHeaderName(name) && validHeaderValue(value) {
					// As Envoy: in an OK answer "append" defaults to false,
					// so a header replaces the client's.
					switch {
					case o.GetAppend().GetValue(): //nolint:staticcheck // deprecated in the proto, still sent by existing servers
						x.Header.Add(name, value)
					case o.GetAppendAction() == corev3.HeaderValueOption_ADD_IF_ABSENT:
						if x.Header.Get(name) == "" {
							x.Header.Set(name, value)
						}
					default:
						x.Header.Set(name, value)
					}
				}
			}
		}
		return 0, ""
	}
	code := http.StatusForbidden
	denied := answer.GetDeniedResponse()
	if c := int(denied.GetStatus().GetCode()); c >= 200 && c <= 599 {
		code = c
	}
	for _, o := range denied.GetHeaders() {
		if name, value := o.GetHeader().GetKey(), o.GetHeader().GetValue(); validHeaderName(name) && validHeaderValue(value) {
			resp.Add(name, value)
		}
	}
	body := denied.GetBody()
	if body == "" {
		body = http.StatusText(code)
	}
	return code, strings.TrimSuffix(body, "\n")
}

func (s *grpcAuthStep) failed() (int, string) {
	if s.failOpen {
		return 0, ""
	}
	return http.StatusForbidden, "authorization service unavailable"
}

// validHeaderName reports whether name is an HTTP token (no pseudo
// headers, no separators).
func validHeaderName(name string) bool {
	if name == "" || isPseudoOrHop(name) {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}

// isPseudoOrHop reports headers an auth server may not set or remove.
func isPseudoOrHop(name string) bool {
	if strings.HasPrefix(name, ":") {
		return true
	}
	switch strings.ToLower(name) {
	case "host", "connection", "content-length", "transfer-encoding", "te", "upgrade", "keep-alive", "proxy-connection":
		return true
	}
	return false
}
