package router

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// forwardAuth is a forward-auth service in the style of oauth2-proxy: a
// session cookie admits (naming the user), a bad bearer token is refused
// with a challenge, anything else is sent to the login page. It records
// the last check it was asked.
type forwardAuth struct {
	mu   sync.Mutex
	last http.Header
	*httptest.Server
}

func newForwardAuth(t *testing.T) *forwardAuth {
	fa := &forwardAuth{}
	fa.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fa.mu.Lock()
		fa.last = r.Header.Clone()
		fa.mu.Unlock()
		if r.Method != http.MethodGet {
			http.Error(w, "want GET", http.StatusMethodNotAllowed)
			return
		}
		if c, err := r.Cookie("session"); err == nil && c.Value == "good" {
			w.Header().Set("X-Auth-User", "alice")
			w.Header().Add("X-Auth-Groups", "dev")
			w.Header().Set("X-Secret", "not for the backend")
			return
		}
		if r.Header.Get("Authorization") == "Bearer bad" {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			http.Error(w, "bad token", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Set-Cookie", "csrf=1; Path=/")
		http.Redirect(w, r, "https://login.example/?rd="+r.Header.Get("X-Original-Url"), http.StatusFound)
	}))
	t.Cleanup(fa.Close)
	return fa
}

func (fa *forwardAuth) lastCheck() http.Header {
	fa.mu.Lock()
	defer fa.mu.Unlock()
	return fa.last
}

// garbageServer answers every connection with bytes that are not HTTP.
func garbageServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, "SSH-2.0-nope\r\n\r\n")
			c.Close()
		}
	}()
	return "http://" + ln.Addr().String()
}

// hangingServer accepts checks and never answers until the test ends.
func hangingServer(t *testing.T) string {
	stop := make(chan struct{})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stop:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(stop); s.Close() })
	return s.URL
}

func TestPolicyExtAuth(t *testing.T) {
	b := echoBackend(t)
	fa := newForwardAuth(t)
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	ext := func(url string, failOpen bool, timeout time.Duration) *Policy {
		return &Policy{ExtAuth: &ExtAuth{HTTP: &HTTPExtAuth{URL: url, HeadersToBackend: []string{"X-Auth-User", "X-Auth-Groups"}},
			FailOpen: failOpen, Timeout: timeout}}
	}
	_, front := serveTable(t, Config{Routes: []Route{
		policyRoute("/app", b, ext(fa.URL+"/oauth2/auth", false, 0)),
		policyRoute("/down", b, ext(down.URL, false, 0)),
		policyRoute("/down-open", b, ext(down.URL, true, 0)),
		policyRoute("/garbage", b, ext(garbageServer(t), false, 0)),
		policyRoute("/garbage-open", b, ext(garbageServer(t), true, 0)),
		policyRoute("/slow", b, ext(hangingServer(t), false, 50*time.Millisecond)),
		policyRoute("/slow-open", b, ext(hangingServer(t), true, 50*time.Millisecond)),
	}}, Options{})
	runPolicyCases(t, front.URL, []policyCase{
		{name: "session admits, identity headers copied", path: "/app/x?q=1",
			header: []string{"Cookie", "session=good", "X-Auth-User", "mallory"}, code: 200,
			want: map[string]string{"Got-X-Auth-User": "alice", "Got-X-Auth-Groups": "dev", "Got-X-Secret": ""}},
		{name: "bad token refused with the service's answer", path: "/app", header: []string{"Authorization", "Bearer bad"}, code: 401,
			want: map[string]string{"WWW-Authenticate": `Bearer error="invalid_token"`}},
		{name: "no session: the login redirect", method: "POST", path: "/app/cart?id=7", code: 302,
			want: map[string]string{"Location": "https://login.example/?rd=http://" + front.Listener.Addr().String() + "/app/cart?id=7",
				"Set-Cookie": "csrf=1; Path=/"}},
		{name: "spoofed identity without session", path: "/app", header: []string{"X-Auth-User", "alice"}, code: 302},
		{name: "service down: refused", path: "/down", code: 403},
		{name: "service down, failOpen", path: "/down-open", code: 200},
		{name: "not HTTP: refused", path: "/garbage", code: 403},
		{name: "not HTTP, failOpen", path: "/garbage-open", code: 200},
		{name: "timeout: refused", path: "/slow", code: 403},
		{name: "timeout, failOpen", path: "/slow-open", code: 200},
	})
	// The check the service got for the redirected request.
	runPolicyCases(t, front.URL, []policyCase{{name: "post", method: "POST", path: "/app/cart?id=7", code: 302}})
	h := fa.lastCheck()
	for k, v := range map[string]string{"X-Forwarded-Method": "POST", "X-Forwarded-Uri": "/app/cart?id=7",
		"X-Forwarded-Proto": "http", "X-Forwarded-Host": front.Listener.Addr().String(), "X-Forwarded-For": "127.0.0.1"} {
		if got := h.Get(k); got != v {
			t.Errorf("check's %s = %q, want %q", k, got, v)
		}
	}
}
