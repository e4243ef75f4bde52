package router

import (
	"context"
	"net"
	"sync"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
)

// authzServer is an Envoy ext_authz v3 server written for the test, in
// the way OPA-Envoy answers: a bearer token "ok" is allowed (adding the
// user, removing the token), "fail" makes the server itself fail, and
// everything else is denied with 401 and a challenge.
type authzServer struct {
	authv3.UnimplementedAuthorizationServer
	mu   sync.Mutex
	last *authv3.AttributeContext_HttpRequest
	peer string
}

func (s *authzServer) Check(_ context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	h := req.GetAttributes().GetRequest().GetHttp()
	s.mu.Lock()
	s.last = h
	s.peer = req.GetAttributes().GetSource().GetAddress().GetSocketAddress().GetAddress()
	s.mu.Unlock()
	switch h.GetHeaders()["authorization"] {
	case "Bearer ok":
		return &authv3.CheckResponse{Status: &status.Status{Code: int32(codes.OK)},
			HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
				Headers: []*corev3.HeaderValueOption{
					{Header: &corev3.HeaderValue{Key: "x-user", Value: "alice"}},
					{Header: &corev3.HeaderValue{Key: "bad header", Value: "dropped"}},
				},
				HeadersToRemove: []string{"authorization"},
			}}}, nil
	case "Bearer fail":
		return nil, grpcstatus.Error(codes.Internal, "policy engine down")
	}
	return &authv3.CheckResponse{Status: &status.Status{Code: int32(codes.PermissionDenied)},
		HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status:  &typev3.HttpStatus{Code: typev3.StatusCode_Unauthorized},
			Headers: []*corev3.HeaderValueOption{{Header: &corev3.HeaderValue{Key: "www-authenticate", Value: "Bearer"}}},
			Body:    "token required",
		}}}, nil
}

func startAuthz(t *testing.T) (*authzServer, string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	as := &authzServer{}
	authv3.RegisterAuthorizationServer(srv, as)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return as, ln.Addr().String()
}

func TestPolicyExtAuthGRPC(t *testing.T) {
	b := echoBackend(t)
	as, addr := startAuthz(t)
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := dead.Addr().String()
	dead.Close()
	ext := func(addr string, failOpen bool) *Policy {
		return &Policy{ExtAuth: &ExtAuth{GRPC: &GRPCExtAuth{Address: addr}, FailOpen: failOpen}}
	}
	_, front := serveTable(t, Config{Routes: []Route{
		policyRoute("/api", b, ext(addr, false)),
		policyRoute("/api-open", b, ext(addr, true)),
		policyRoute("/down", b, ext(deadAddr, false)),
		policyRoute("/down-open", b, ext(deadAddr, true)),
	}}, Options{})
	bearer := func(v string) []string { return []string{"Authorization", "Bearer " + v} }
	runPolicyCases(t, front.URL, []policyCase{
		{name: "allowed, headers set and removed", path: "/api/x?y=1", header: append(bearer("ok"), "X-User", "mallory"), code: 200,
			want: map[string]string{"Got-X-User": "alice", "Got-Authorization": "", "Got-Bad header": ""}},
		{name: "denied with the server's answer", path: "/api", code: 401, want: map[string]string{"WWW-Authenticate": "Bearer"}},
		{name: "server error: refused", path: "/api", header: bearer("fail"), code: 403},
		{name: "server error, failOpen", path: "/api-open", header: bearer("fail"), code: 200},
		{name: "a denial is not a failure", path: "/api-open", code: 401},
		{name: "server down: refused", path: "/down", code: 403},
		{name: "server down, failOpen", path: "/down-open", code: 200},
	})
	runPolicyCases(t, front.URL, []policyCase{{name: "check", method: "PUT", path: "/api/items?id=3", header: bearer("ok"), code: 200}})
	as.mu.Lock()
	defer as.mu.Unlock()
	if h := as.last; h.GetMethod() != "PUT" || h.GetPath() != "/api/items?id=3" || h.GetScheme() != "http" ||
		h.GetHost() != front.Listener.Addr().String() || as.peer != "127.0.0.1" {
		t.Errorf("check request %v from %q", h, as.peer)
	}
}
