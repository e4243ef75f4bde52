package router

import (
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestPolicyAuthorization(t *testing.T) {
	b := echoBackend(t)
	is := newIssuer(t, "k1")
	jwtAuth := &JWTAuth{Providers: []JWTProvider{{Name: "main", Issuer: "https://issuer.test", LocalJWKS: is.jwks()}}}
	// The front trusts the loopback proxy: its X-Forwarded-For names the
	// client.
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	cidr := &Policy{ClientIP: &ClientIPDetection{TrustedProxies: trusted}, Authorization: &Authorization{
		Rules: []AuthzRule{
			{Name: "office", Action: AuthzAllow, ClientCIDRs: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}},
			{Name: "banned", Action: AuthzDeny, ClientCIDRs: []netip.Prefix{netip.MustParsePrefix("198.51.100.7/32")}},
			{Name: "reads", Action: AuthzAllow, Methods: []string{"GET", "HEAD"}, Paths: []AuthzPath{{Path: "/cidr/public", Prefix: true}}},
		},
		Default: AuthzDeny,
	}}
	hops := &Policy{ClientIP: &ClientIPDetection{Hops: 2}, Authorization: &Authorization{
		Rules: []AuthzRule{{Action: AuthzAllow, ClientCIDRs: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}}}}}
	claims := &Policy{JWT: jwtAuth, Authorization: &Authorization{
		Rules:   []AuthzRule{{Action: AuthzDeny, Claims: []ClaimMatch{{Name: "role", Values: []string{"guest"}}}}},
		Default: AuthzAllow,
	}}
	_, front := serveTable(t, Config{Routes: []Route{
		policyRoute("/cidr", b, cidr), policyRoute("/hops", b, hops), policyRoute("/claims", b, claims),
	}}, Options{TrustedProxies: trusted})
	xff := func(v string) []string { return []string{"X-Forwarded-For", v} }
	bearer := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
	runPolicyCases(t, front.URL, []policyCase{
		{name: "default deny", path: "/cidr", code: 403},
		{name: "client in allowed CIDR", path: "/cidr", header: xff("203.0.113.9"), code: 200},
		{name: "spoofed left entry ignored", path: "/cidr", header: xff("203.0.113.9, 192.0.2.1"), code: 403},
		{name: "trusted hop skipped", path: "/cidr", header: xff("203.0.113.9, 127.0.0.5"), code: 200},
		{name: "several lines read as one list", path: "/cidr", header: []string{"X-Forwarded-For", "203.0.113.9", "X-Forwarded-For", "127.0.0.9"}, code: 200},
		{name: "garbage entry", path: "/cidr", header: xff("203.0.113.9, junk"), code: 403},
		{name: "banned", path: "/cidr/public/x", header: xff("198.51.100.7"), code: 403},
		{name: "public read by method and path", path: "/cidr/public/x", code: 200},
		{name: "public is element-wise", path: "/cidr/publicity", code: 403},
		{name: "public write denied", method: "POST", path: "/cidr/public/x", code: 403},
		{name: "hops: second from right", path: "/hops", header: xff("192.0.2.1, 203.0.113.4, 10.0.0.1"), code: 200},
		{name: "hops: too few entries", path: "/hops", header: xff("10.0.0.1"), code: 403},
		{name: "claims: guest denied", path: "/claims", header: bearer(is.token(map[string]any{"role": "guest"})), code: 403},
		{name: "claims: admin allowed", path: "/claims", header: bearer(is.token(map[string]any{"role": "admin"})), code: 200},
		{name: "claims: no token is 401 before authorization", path: "/claims", code: 401},
	})
}

func TestPolicyBodyLimit(t *testing.T) {
	b := echoBackend(t)
	_, front := serveTable(t, Config{Routes: []Route{policyRoute("/up", b, &Policy{MaxRequestBody: 10}),
		policyRoute("/big", b, &Policy{MaxRequestBody: 2 * BodyBufferBytes})}}, Options{})
	runPolicyCases(t, front.URL, []policyCase{
		{name: "small", method: "POST", path: "/up", body: "0123456789", code: 200},
		{name: "large", method: "POST", path: "/up", body: "0123456789a", code: 413},
		{name: "no body", path: "/up", code: 200},
	})
	// Chunked bodies are counted as they are read: small and large
	// (larger than what the engines buffer, so streamed).
	for _, c := range []struct {
		path string
		n    int
		code int
	}{{"/up", 10, 200}, {"/up", 11, 413}, {"/up", BodyBufferBytes + 10, 413},
		{"/big", 2 * BodyBufferBytes, 200}, {"/big", 3 * BodyBufferBytes, 413}} {
		req, _ := http.NewRequest("POST", front.URL+c.path, io.MultiReader(strings.NewReader(strings.Repeat("x", c.n))))
		resp, err := http.DefaultClient.Do(req)
		if err != nil && c.n > BodyBufferBytes && c.code == 413 {
			// Refused while the client was still sending: the
			// connection may be reset before the 413 is read.
			continue
		}
		if err != nil {
			t.Fatalf("chunked %d: %v", c.n, err)
		}
		resp.Body.Close()
		if req.ContentLength != 0 || resp.StatusCode != c.code {
			t.Errorf("chunked %d bytes to %s: %d, want %d", c.n, c.path, resp.StatusCode, c.code)
		}
	}
}

func TestPolicyRateLimit(t *testing.T) {
	b := echoBackend(t)
	route := &Policy{RateLimit: &LocalRateLimit{Requests: 2, Per: time.Hour}}
	byHeader := &Policy{RateLimit: &LocalRateLimit{Requests: 1, Per: time.Minute, Burst: 2, Key: RateKeyHeader, KeyName: "X-Tenant"}}
	byIP := &Policy{RateLimit: &LocalRateLimit{Requests: 1, Per: time.Hour, Key: RateKeyClientIP}}
	shadow := &Policy{RateLimit: &LocalRateLimit{Requests: 1, Per: time.Hour, Shadow: true}}
	_, front := serveTable(t, Config{Routes: []Route{
		policyRoute("/route", b, route), policyRoute("/tenant", b, byHeader), policyRoute("/ip", b, byIP), policyRoute("/shadow", b, shadow),
	}}, Options{})
	limited := map[string]string{"Retry-After": "1800", "RateLimit-Limit": "2", "RateLimit-Remaining": "0",
		"RateLimit-Reset": "1800", "RateLimit-Policy": "2;w=3600"}
	tenant := func(v string) []string { return []string{"X-Tenant", v} }
	runPolicyCases(t, front.URL, []policyCase{
		{name: "route 1", path: "/route", code: 200, want: map[string]string{"Retry-After": ""}},
		{name: "route 2", path: "/route", code: 200},
		{name: "route 3 limited", path: "/route", code: 429},
		{name: "tenant a 1", path: "/tenant", header: tenant("a"), code: 200},
		{name: "tenant a 2 (burst)", path: "/tenant", header: tenant("a"), code: 200},
		{name: "tenant a 3", path: "/tenant", header: tenant("a"), code: 429,
			want: map[string]string{"RateLimit-Policy": "1;w=60;burst=2", "Retry-After": "60"}},
		{name: "tenant b has its own bucket", path: "/tenant", header: tenant("b"), code: 200},
		{name: "ip 1", path: "/ip", code: 200},
		{name: "ip 2", path: "/ip", code: 429},
		{name: "shadow 1", path: "/shadow", code: 200},
		{name: "shadow 2 passes", path: "/shadow", code: 200},
	})
	// Retry-After is the wait for one token: 2 per hour, one taken 2x.
	runPolicyCases(t, front.URL, []policyCase{{name: "route headers", path: "/route", code: 429, want: map[string]string{
		"RateLimit-Limit": limited["RateLimit-Limit"], "RateLimit-Remaining": "0", "RateLimit-Policy": limited["RateLimit-Policy"]}}})
	c, _ := shadow.chain()
	if n := c.steps[0].(*rateStep).shadowed.Load(); n != 1 {
		t.Errorf("shadowed = %d, want 1", n)
	}
}

// TestRateBucketRefill drives one bucket with a clock of its own.
func TestRateBucketRefill(t *testing.T) {
	s, err := compileRateLimit(&LocalRateLimit{Requests: 10, Per: time.Second, Burst: 2})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	s.now = func() time.Time { return now }
	x := &Exchange{Header: http.Header{}}
	take := func() int {
		code, _ := s.check(t.Context(), x, http.Header{}, &policyState{})
		return code
	}
	steps := []struct {
		advance time.Duration
		want    int
	}{{0, 0}, {0, 0}, {0, 429}, {50 * time.Millisecond, 429}, {50 * time.Millisecond, 0}, {0, 429},
		{time.Hour, 0}, {0, 0}, {0, 429}}
	for i, st := range steps {
		now = now.Add(st.advance)
		if got := take(); got != st.want {
			t.Errorf("step %d: %d, want %d", i, got, st.want)
		}
	}
	resp := http.Header{}
	if code, _ := s.check(t.Context(), x, resp, &policyState{}); code != 429 || resp.Get("Retry-After") != "1" {
		t.Errorf("retry after %q", resp.Get("Retry-After"))
	}
	if err := (&Policy{RateLimit: &LocalRateLimit{Requests: 1, Per: time.Second, Key: RateKeyHeader}}).Check(); err == nil ||
		!strings.Contains(err.Error(), "rateLimit.local.key") {
		t.Errorf("header key without a name: %v", err)
	}
}

// TestPolicyHTTP2: the same chain guards HTTP/2 (h2c) requests.
func TestPolicyHTTP2(t *testing.T) {
	b := echoBackend(t)
	p := &Policy{MaxRequestBody: 4, BasicAuth: &BasicAuth{Htpasswd: testHtpasswd(t), UserHeader: "X-User"},
		RateLimit: &LocalRateLimit{Requests: 2, Per: time.Hour}}
	_, front := serveTable(t, Config{Routes: []Route{policyRoute("/h2", b, p)}}, Options{})
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	t.Cleanup(tr.CloseIdleConnections)
	auth := []string{"Authorization", basic("bob", "secret")}
	runPolicyCasesWith(t, &http.Client{Transport: tr, CheckRedirect: noRedirects.CheckRedirect}, 2, front.URL, []policyCase{
		{name: "no credentials", path: "/h2", code: 401},
		{name: "credentials", path: "/h2", header: auth, code: 200, want: map[string]string{"Got-X-User": "bob"}},
		{name: "body too large", method: "POST", path: "/h2", header: auth, body: "12345", code: 413},
		{name: "second token (checks before the limit took none)", path: "/h2", header: auth, code: 200},
		{name: "limited", path: "/h2", header: auth, code: 429},
	})
}

// TestRateLimitScopeKeepsCounting: a new Policy of the same scope and
// settings (the next translation of the same object) keeps the buckets;
// other settings start afresh.
func TestRateLimitScopeKeepsCounting(t *testing.T) {
	mk := func(requests uint32) *rateStep {
		s, err := compileRateLimit(&LocalRateLimit{Requests: requests, Per: time.Hour, Scope: t.Name()})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	x := &Exchange{Header: http.Header{}}
	take := func(s *rateStep) int {
		code, _ := s.check(t.Context(), x, http.Header{}, &policyState{})
		return code
	}
	first := mk(1)
	if take(first) != 0 {
		t.Fatal("first request refused")
	}
	if got := take(mk(1)); got != 429 {
		t.Errorf("same scope after a new translation: %d, want 429", got)
	}
	if got := take(mk(2)); got != 0 {
		t.Errorf("changed settings: %d, want a fresh bucket", got)
	}
}

// TestPolicyRateLimitByClaim keys a limit by a verified JWT claim.
func TestPolicyRateLimitByClaim(t *testing.T) {
	b := echoBackend(t)
	is := newIssuer(t, "k1")
	p := &Policy{JWT: &JWTAuth{Providers: []JWTProvider{{Name: "p", LocalJWKS: is.jwks()}}},
		RateLimit: &LocalRateLimit{Requests: 1, Per: time.Hour, Key: RateKeyClaim, KeyName: "tenant"}}
	_, front := serveTable(t, Config{Routes: []Route{policyRoute("/t", b, p)}}, Options{})
	a := []string{"Authorization", "Bearer " + is.token(map[string]any{"tenant": "a"})}
	bb := []string{"Authorization", "Bearer " + is.token(map[string]any{"tenant": "b"})}
	runPolicyCases(t, front.URL, []policyCase{
		{name: "tenant a", path: "/t", header: a, code: 200},
		{name: "tenant a again", path: "/t", header: a, code: 429},
		{name: "tenant b", path: "/t", header: bb, code: 200},
		{name: "no token: 401 before the limit", path: "/t", code: 401},
	})
}
