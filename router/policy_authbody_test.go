package router

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
)

// bodyChecks records what an auth service was sent: the body and the
// X-Envoy-Auth-Partial-Body value. Bodies starting with "allow" pass.
type bodyChecks struct {
	mu      sync.Mutex
	body    []byte
	partial string
	raw     bool // the gRPC body came in raw_body
}

func (c *bodyChecks) record(body []byte, partial string, raw bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.body, c.partial, c.raw = bytes.Clone(body), partial, raw
	return bytes.HasPrefix(body, []byte("allow"))
}

func (c *bodyChecks) last() ([]byte, string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, p, r := c.body, c.partial, c.raw
	c.body, c.partial, c.raw = nil, "", false
	return b, p, r
}

// bodyAuthz is an ext_authz server deciding on the body.
type bodyAuthz struct {
	authv3.UnimplementedAuthorizationServer
	checks *bodyChecks
}

func (s *bodyAuthz) Check(_ context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	h := req.GetAttributes().GetRequest().GetHttp()
	body, raw := []byte(h.GetBody()), len(h.GetRawBody()) > 0
	if raw {
		body = h.GetRawBody()
	}
	if s.checks.record(body, h.GetHeaders()["x-envoy-auth-partial-body"], raw) {
		return &authv3.CheckResponse{Status: &status.Status{Code: int32(codes.OK)}}, nil
	}
	return &authv3.CheckResponse{Status: &status.Status{Code: int32(codes.PermissionDenied)},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status: &typev3.HttpStatus{Code: typev3.StatusCode_Forbidden}, Body: "body refused"}}}, nil
}

// bodyBackend answers with the length and SHA-256 of the body it got.
func bodyBackend(t *testing.T) *Backend {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		sum := sha256.Sum256(b)
		w.Header().Set("Got-Len", strconv.Itoa(len(b)))
		w.Header().Set("Got-Sum", hex.EncodeToString(sum[:]))
	}))
	t.Cleanup(s.Close)
	return &Backend{Name: "body", Endpoints: []Endpoint{{addr(s)}}}
}

// TestPolicyExtAuthBody sends request bodies to HTTP and gRPC auth
// services (Envoy's with_request_body) on every engine and protocol: the
// service gets the body up to the limit, the backend the whole body; a
// longer body is 413 unless partial, which sends its start.
func TestPolicyExtAuthBody(t *testing.T) {
	checks := &bodyChecks{}
	httpAuth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if !checks.record(b, r.Header.Get("X-Envoy-Auth-Partial-Body"), false) {
			http.Error(w, "body refused", http.StatusForbidden)
		}
	}))
	t.Cleanup(httpAuth.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	authv3.RegisterAuthorizationServer(srv, &bodyAuthz{checks: checks})
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)

	b := bodyBackend(t)
	httpExt := func(max int64, partial bool) *Policy {
		return &Policy{MaxRequestBody: 300 << 10, ExtAuth: &ExtAuth{HTTP: &HTTPExtAuth{URL: httpAuth.URL, OriginalRequest: true},
			MaxBody: max, PartialBody: partial}}
	}
	grpcExt := func(max int64, partial, raw bool) *Policy {
		return &Policy{MaxRequestBody: 300 << 10, ExtAuth: &ExtAuth{GRPC: &GRPCExtAuth{Address: ln.Addr().String(), PackAsBytes: raw},
			MaxBody: max, PartialBody: partial}}
	}
	cfg := Config{Routes: []Route{
		policyRoute("/http", b, httpExt(1024, false)),
		policyRoute("/http-partial", b, httpExt(16, true)),
		policyRoute("/grpc", b, grpcExt(1024, false, false)),
		policyRoute("/grpc-partial", b, grpcExt(16, true, false)),
		policyRoute("/grpc-raw", b, grpcExt(1024, false, true)),
	}}
	small := []byte("allow: a small body")
	big := bytes.Repeat([]byte("allow 0123456789"), 12<<10)                  // 192 KiB, streamed past the buffer
	tooBig := append([]byte("allow"), bytes.Repeat([]byte("x"), 301<<10)...) // past the policy's 300 KiB
	type tc struct {
		path    string
		body    []byte
		chunked bool
		code    int
		sent    []byte // the body the service got
		partial string
	}
	cases := []tc{
		{path: "/http", body: small, code: 200, sent: small, partial: "false"},
		{path: "/http", body: small, chunked: true, code: 200, sent: small, partial: "false"},
		{path: "/http", body: []byte("deny me"), code: 403, sent: []byte("deny me"), partial: "false"},
		{path: "/http", body: big, code: 413},
		{path: "/http", body: big, chunked: true, code: 413},
		{path: "/http", code: 403, sent: nil, partial: "false"},
		{path: "/http-partial", body: small, code: 200, sent: small[:16], partial: "true"},
		{path: "/http-partial", body: big, code: 200, sent: big[:16], partial: "true"},
		{path: "/http-partial", body: big, chunked: true, code: 200, sent: big[:16], partial: "true"},
		{path: "/http-partial", body: tooBig, code: 413},
		{path: "/http-partial", body: tooBig, chunked: true, code: 413},
		{path: "/grpc", body: small, code: 200, sent: small, partial: "false"},
		{path: "/grpc", body: small, chunked: true, code: 200, sent: small, partial: "false"},
		{path: "/grpc", body: []byte("deny"), code: 403, sent: []byte("deny"), partial: "false"},
		{path: "/grpc", body: big, chunked: true, code: 413},
		{path: "/grpc-partial", body: big, code: 200, sent: big[:16], partial: "true"},
		{path: "/grpc-partial", body: big, chunked: true, code: 200, sent: big[:16], partial: "true"},
		{path: "/grpc-raw", body: small, code: 200, sent: small, partial: "false"},
		{path: "/grpc", body: append([]byte("allow \xff\xfe"), small...), code: 200,
			sent: append([]byte("allow \xff\xfe"), small...), partial: "false"},
	}
	for _, v := range frontVariants(t, cfg) {
		for i, c := range cases {
			name := fmt.Sprintf("%s %d %s len=%d chunked=%v", v.name, i, c.path, len(c.body), c.chunked)
			var r io.Reader = bytes.NewReader(c.body)
			if c.chunked {
				r = struct{ io.Reader }{r} // no length: chunked (HTTP/1), no content-length (HTTP/2)
			}
			if c.body == nil {
				r = nil
			}
			req, _ := http.NewRequest(http.MethodPost, v.url+c.path, r)
			resp, err := v.client.Do(req)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			sent, partial, raw := checks.last()
			if resp.StatusCode != c.code {
				t.Errorf("%s: status %d, want %d", name, resp.StatusCode, c.code)
				continue
			}
			if c.code == 200 {
				sum := sha256.Sum256(c.body)
				if resp.Header.Get("Got-Len") != strconv.Itoa(len(c.body)) || resp.Header.Get("Got-Sum") != hex.EncodeToString(sum[:]) {
					t.Errorf("%s: backend got %s bytes, want the whole %d", name, resp.Header.Get("Got-Len"), len(c.body))
				}
			}
			if c.code != 413 && (!bytes.Equal(sent, c.sent) || partial != c.partial) {
				t.Errorf("%s: service got %q (partial %q), want %q (%q)", name, sent, partial, c.sent, c.partial)
			}
			if wantRaw := c.path == "/grpc-raw" || bytes.Contains(c.body, []byte{0xff}); c.code == 200 && raw != wantRaw {
				t.Errorf("%s: raw_body used: %v, want %v", name, raw, wantRaw)
			}
		}
	}
}

// TestStreamedBodyKeepsHeaderFilters: a chunked body longer than the
// buffer goes out in a request of its own on the fast engine; the
// route's header filters, applied after the body was prepared, still
// reach the backend (with and without an auth check that read its start).
func TestStreamedBodyKeepsHeaderFilters(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		w.Header().Set("Got-Len", strconv.FormatInt(n, 10))
		w.Header().Set("Got-X-Added", r.Header.Get("X-Added"))
	}))
	t.Cleanup(s.Close)
	auth := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(auth.Close)
	b := &Backend{Name: "s", Endpoints: []Endpoint{{addr(s)}}}
	ops := &HeaderOps{Set: []Header{{Name: "X-Added", Value: "yes"}}}
	plain := policyRoute("/plain", b, nil)
	plain.RequestHeaders = ops
	checked := policyRoute("/checked", b, &Policy{ExtAuth: &ExtAuth{HTTP: &HTTPExtAuth{URL: auth.URL}, MaxBody: 10, PartialBody: true}})
	checked.RequestHeaders = ops
	for _, v := range frontVariants(t, Config{Routes: []Route{plain, checked}}) {
		for _, path := range []string{"/plain", "/checked"} {
			body := struct{ io.Reader }{bytes.NewReader(make([]byte, 200<<10))}
			resp, err := v.client.Post(v.url+path, "application/octet-stream", body)
			if err != nil {
				t.Fatalf("%s %s: %v", v.name, path, err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.Header.Get("Got-Len") != strconv.Itoa(200<<10) || resp.Header.Get("Got-X-Added") != "yes" {
				t.Errorf("%s %s: %d, backend got %s bytes, X-Added %q", v.name, path, resp.StatusCode,
					resp.Header.Get("Got-Len"), resp.Header.Get("Got-X-Added"))
			}
		}
	}
}
