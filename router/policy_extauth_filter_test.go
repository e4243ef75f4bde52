package router

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// TestPolicyExtAuthOriginalRequest is the Gateway API ExternalAuth filter's
// HTTP protocol: the check carries the original method, the path under the
// configured prefix, Authorization and the allowed headers only, and only
// a 200 admits.
func TestPolicyExtAuthOriginalRequest(t *testing.T) {
	b := echoBackend(t)
	var mu sync.Mutex
	var got *http.Request
	auth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = r.Clone(r.Context())
		mu.Unlock()
		switch r.Header.Get("Authorization") {
		case "Bearer ok":
			w.Header().Set("X-User", "alice")
		case "Bearer created":
			w.WriteHeader(http.StatusCreated)
		default:
			http.Error(w, "no", http.StatusUnauthorized)
		}
	}))
	t.Cleanup(auth.Close)
	p := &Policy{ExtAuth: &ExtAuth{HTTP: &HTTPExtAuth{URL: auth.URL + "/check", OriginalRequest: true,
		HeadersToSend: []string{"X-Tenant"}, HeadersToBackend: []string{"X-User"}}}}
	_, front := serveTable(t, Config{Routes: []Route{policyRoute("/app", b, p)}}, Options{})
	runPolicyCases(t, front.URL, []policyCase{
		{name: "200 admits, allowed response header copied", method: "DELETE", path: "/app/x?q=1",
			header: []string{"Authorization", "Bearer ok", "X-Tenant", "t1", "Cookie", "s=1", "X-User", "mallory"}, code: 200,
			want: map[string]string{"Got-X-User": "alice"}},
		{name: "201 is not 200: refused", path: "/app", header: []string{"Authorization", "Bearer created"}, code: 201},
		{name: "refusal passed back", path: "/app", code: 401},
	})
	runPolicyCases(t, front.URL, []policyCase{{name: "again", method: "DELETE", path: "/app/x?q=1",
		header: []string{"Authorization", "Bearer ok", "X-Tenant", "t1", "Cookie", "s=1"}, code: 200}})
	mu.Lock()
	defer mu.Unlock()
	if got.Method != "DELETE" || got.URL.RequestURI() != "/check/app/x?q=1" {
		t.Errorf("check was %s %s, want DELETE /check/app/x?q=1", got.Method, got.URL.RequestURI())
	}
	if got.Header.Get("X-Tenant") != "t1" || got.Header.Get("Cookie") != "" || got.Header.Get("Authorization") != "Bearer ok" {
		t.Errorf("check's headers: %v", got.Header)
	}
	if got.Host != front.Listener.Addr().String() {
		t.Errorf("check's Host = %q, want the original", got.Host)
	}
}

// TestPolicyExtAuthGRPCAllHeaders is the filter's GRPC protocol without
// allowedHeaders: every request header goes into the CheckRequest.
func TestPolicyExtAuthGRPCAllHeaders(t *testing.T) {
	b := echoBackend(t)
	as, addr := startAuthz(t)
	p := &Policy{ExtAuth: &ExtAuth{GRPC: &GRPCExtAuth{Address: addr, AllHeaders: true}}}
	_, front := serveTable(t, Config{Routes: []Route{policyRoute("/api", b, p)}}, Options{})
	runPolicyCases(t, front.URL, []policyCase{{name: "all headers", path: "/api",
		header: []string{"Authorization", "Bearer ok", "X-Tenant", "t1", "X-Multi", "a", "X-Multi", "b"}, code: 200,
		want: map[string]string{"Got-X-User": "alice"}}})
	as.mu.Lock()
	defer as.mu.Unlock()
	h := as.last.GetHeaders()
	if h["x-tenant"] != "t1" || h["x-multi"] != "a,b" || h["authorization"] != "Bearer ok" {
		t.Errorf("check's headers: %v", h)
	}
}
