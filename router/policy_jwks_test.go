package router

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// jwksServer serves a key set that the test changes, or fails.
type jwksServer struct {
	mu      sync.Mutex
	body    string
	failing bool
	fetches atomic.Int32
	*httptest.Server
}

func newJWKSServer(t *testing.T, body string) *jwksServer {
	s := &jwksServer{body: body}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.failing {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(s.body))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(body string, failing bool) {
	s.mu.Lock()
	s.body, s.failing = body, failing
	s.mu.Unlock()
}

// eventually polls cond until it holds, failing the test after a generous
// deadline (a safety net, not a timing threshold).
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
	}
}

func TestPolicyRemoteJWKS(t *testing.T) {
	oldRefetch := jwksRefetchInterval
	jwksRefetchInterval = 0 // an unknown kid refetches at once
	t.Cleanup(func() { jwksRefetchInterval = oldRefetch })

	b := echoBackend(t)
	k1, k2 := newIssuer(t, "k1"), newIssuer(t, "k2")
	srv := newJWKSServer(t, k1.jwks())
	p := &Policy{JWT: &JWTAuth{Providers: []JWTProvider{{Name: "remote", RemoteJWKS: &RemoteJWKS{URL: srv.URL, Refresh: time.Hour}}}}}
	_, front := serveTable(t, Config{Routes: []Route{policyRoute("/r", b, p)}}, Options{})
	bearer := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
	runPolicyCases(t, front.URL, []policyCase{
		{name: "first token fetches the keys", path: "/r", header: bearer(k1.token(nil)), code: 200},
		{name: "second uses them", path: "/r", header: bearer(k1.token(map[string]any{"sub": "2"})), code: 200},
	})
	if n := srv.fetches.Load(); n != 1 {
		t.Errorf("%d fetches, want 1", n)
	}
	// Rotation: the set now has k2 too; a k2 token triggers a fetch.
	srv.set(k1.jwks(k2), false)
	runPolicyCases(t, front.URL, []policyCase{{name: "rotated key", path: "/r", header: bearer(k2.token(nil)), code: 200}})

	// An outage keeps the last good keys, and a due refresh that fails
	// backs off.
	srv.set("", true)
	c, _ := p.chain()
	ks := c.steps[0].(*jwtStep).providers[0].keys.(*remoteKeySet)
	ks.mu.Lock()
	ks.next = time.Now().Add(-time.Second) // refresh due
	ks.mu.Unlock()
	before := srv.fetches.Load()
	runPolicyCases(t, front.URL, []policyCase{{name: "outage: last good keys", path: "/r", header: bearer(k2.token(map[string]any{"sub": "3"})), code: 200}})
	eventually(t, "background refresh", func() bool {
		ks.mu.Lock()
		defer ks.mu.Unlock()
		return srv.fetches.Load() > before && ks.inflight == nil
	})
	ks.mu.Lock()
	failed, backoff, next := ks.lastErr, ks.backoff, ks.next
	ks.mu.Unlock()
	if failed == nil || backoff != 2*jwksMinBackoff || time.Until(next) > jwksMinBackoff {
		t.Errorf("after a failed refresh: err %v, backoff %v, next in %v", failed, backoff, time.Until(next))
	}
	runPolicyCases(t, front.URL, []policyCase{{name: "outage: still served", path: "/r", header: bearer(k1.token(map[string]any{"sub": "4"})), code: 200}})
}

// TestPolicyRemoteJWKSDown: with no key ever fetched, tokens are refused
// (never let through).
func TestPolicyRemoteJWKSDown(t *testing.T) {
	b := echoBackend(t)
	k1 := newIssuer(t, "k1")
	srv := newJWKSServer(t, "")
	srv.set("", true)
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	_, front := serveTable(t, Config{Routes: []Route{
		policyRoute("/failing", b, &Policy{JWT: &JWTAuth{Providers: []JWTProvider{{Name: "r", RemoteJWKS: &RemoteJWKS{URL: srv.URL}}}}}),
		policyRoute("/unreachable", b, &Policy{JWT: &JWTAuth{Providers: []JWTProvider{{Name: "r", RemoteJWKS: &RemoteJWKS{URL: dead.URL}}}}}),
	}}, Options{})
	bearer := []string{"Authorization", "Bearer " + k1.token(nil)}
	runPolicyCases(t, front.URL, []policyCase{
		{name: "JWKS answers 503", path: "/failing", header: bearer, code: 401},
		{name: "JWKS unreachable", path: "/unreachable", header: bearer, code: 401},
	})
}
