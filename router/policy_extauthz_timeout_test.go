package router

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
)

// stallingAuthz never answers a check before its caller gives up.
type stallingAuthz struct {
	authv3.UnimplementedAuthorizationServer
}

func (stallingAuthz) Check(ctx context.Context, _ *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestPolicyExtAuthGRPCTimeout: an ext_authz server that does not answer
// within the timeout refuses the request (403) promptly, or lets it
// through with failOpen; with a body to send, the same; a server that
// does not speak gRPC refuses too.
func TestPolicyExtAuthGRPCTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	authv3.RegisterAuthorizationServer(srv, stallingAuthz{})
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	b := echoBackend(t)
	p := func(addr string, failOpen bool, body int64) *Policy {
		return &Policy{ExtAuth: &ExtAuth{GRPC: &GRPCExtAuth{Address: addr}, Timeout: 200 * time.Millisecond,
			FailOpen: failOpen, MaxBody: body}}
	}
	stall, garbage := ln.Addr().String(), strings.TrimPrefix(garbageServer(t), "http://")
	_, front := serveTable(t, Config{Routes: []Route{
		policyRoute("/closed", b, p(stall, false, 0)), policyRoute("/open", b, p(stall, true, 0)),
		policyRoute("/body", b, p(stall, false, 64)), policyRoute("/garbage", b, p(garbage, false, 0)),
	}}, Options{})
	start := time.Now()
	runPolicyCases(t, front.URL, []policyCase{
		{name: "timeout: refused", path: "/closed", code: 403},
		{name: "timeout, failOpen: admitted", path: "/open", code: 200},
		{name: "timeout with a body: refused", method: "POST", path: "/body", body: "payload", code: 403},
		{name: "not gRPC: refused", path: "/garbage", code: 403},
	})
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("four checks of 200 ms took %v", d)
	}
}
