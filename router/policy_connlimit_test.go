package router

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestConnLimitCounts: requests in progress per address, released by
// done, exempt networks, and the bound on tracked addresses.
func TestConnLimitCounts(t *testing.T) {
	s, err := compileConnLimit(&ConnLimit{Max: 2, Exempt: "10.9.0.0/16"})
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr("10.0.0.1")
	var held []*policyState
	for i, want := range []int{0, 0, 503} {
		ps := &policyState{client: a}
		if code, _ := s.check(context.Background(), nil, nil, ps); code != want {
			t.Fatalf("request %d: %d, want %d", i, code, want)
		}
		held = append(held, ps)
	}
	held[0].done()
	held[0].done() // twice is harmless
	if code, _ := s.check(context.Background(), nil, nil, &policyState{client: a}); code != 0 {
		t.Errorf("after one finished: %d", code)
	}
	for range 5 {
		if code, _ := s.check(context.Background(), nil, nil, &policyState{client: netip.MustParseAddr("10.9.1.1")}); code != 0 {
			t.Fatal("an exempt address was limited")
		}
	}
	s.mu.Lock()
	for i := range maxConnClients {
		s.active[netip.AddrFrom4([4]byte{172, byte(i >> 16), byte(i >> 8), byte(i)})] = 1
	}
	n := len(s.active)
	s.mu.Unlock()
	if code, _ := s.check(context.Background(), nil, nil, &policyState{client: netip.MustParseAddr("192.0.2.1")}); code != 0 || len(s.active) != n {
		t.Errorf("beyond the bound: %d, %d tracked (want %d)", code, len(s.active), n)
	}
	if _, err := compileConnLimit(&ConnLimit{Max: 1, Exempt: "nonsense"}); err == nil {
		t.Error("a bad exempt list compiled")
	}
	if _, err := compileConnLimit(&ConnLimit{Max: 0}); err == nil {
		t.Error("max 0 compiled")
	}
}

// TestRateLimitStatusAndExempt: ingress-nginx's 503 and limit-whitelist.
func TestRateLimitStatusAndExempt(t *testing.T) {
	s, err := compileRateLimit(&LocalRateLimit{Requests: 1, Per: time.Hour, Key: RateKeyClientIP, Status: 503, Exempt: "127.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	x := &Exchange{Header: http.Header{}}
	client := &policyState{client: netip.MustParseAddr("192.0.2.7")}
	if code, _ := s.check(context.Background(), x, h, client); code != 0 {
		t.Fatalf("first: %d", code)
	}
	if code, _ := s.check(context.Background(), x, h, client); code != 503 || h.Get("Retry-After") != "" {
		t.Errorf("second: %d, Retry-After %q", code, h.Get("Retry-After"))
	}
	for range 3 {
		if code, _ := s.check(context.Background(), x, h, &policyState{client: netip.MustParseAddr("127.0.0.1")}); code != 0 {
			t.Fatal("an exempt client was limited")
		}
	}
	if _, err := compileRateLimit(&LocalRateLimit{Requests: 1, Per: time.Second, Status: 200}); err == nil {
		t.Error("status 200 compiled")
	}
}

// TestAuthRequestSignin: the sign-in location keeps the request's bytes
// inside its parameter.
func TestAuthRequestSignin(t *testing.T) {
	mk := func(u, param string) *authRequestStep {
		st, err := compileAuthRequest(&ExtAuth{HTTP: &HTTPExtAuth{URL: "http://auth.test/", AuthRequest: &AuthRequest{SigninURL: u, SigninParam: param}}})
		if err != nil {
			t.Fatal(err)
		}
		return st.(*authRequestStep)
	}
	for _, c := range []struct{ signin, param, uri, want string }{
		{"https://login.test/start", "", "/p?a=1&b=2", "https://login.test/start?rd=https%3A%2F%2Fh.test%2Fp%3Fa%3D1%26b%3D2"},
		{"https://login.test/start?rd=fixed", "", "/p", "https://login.test/start?rd=fixed"},
		{"https://login.test/s?x=1", "next", "/p", "https://login.test/s?x=1&next=https%3A%2F%2Fh.test%2Fp"},
		{"https://login.test/s?rd=$scheme%3A%2F%2Fh$escaped_request_uri", "", "/a&b=%0d", "https://login.test/s?rd=https%3A%2F%2Fh%2Fa%26b%3D%250d"},
	} {
		if got := mk(c.signin, c.param).signinLocation("https", "h.test", c.uri); got != c.want {
			t.Errorf("%s %s: %s, want %s", c.signin, c.uri, got, c.want)
		}
		if strings.ContainsAny(c.want, "\r\n") {
			t.Fatal("test is wrong")
		}
	}
	for _, bad := range []string{"ftp://x/", "https://login.test/$host", "/relative"} {
		if _, err := compileAuthRequest(&ExtAuth{HTTP: &HTTPExtAuth{URL: "http://auth.test/", AuthRequest: &AuthRequest{SigninURL: bad}}}); err == nil {
			t.Errorf("signin %q compiled", bad)
		}
	}
}
