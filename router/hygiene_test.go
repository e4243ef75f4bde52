package router

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// headerEcho answers every request with its headers as JSON.
func headerEcho(t *testing.T) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" {
			// A backend willing to switch to anything: only WebSocket may
			// get through Portico.
			w.Header().Set("Connection", "Upgrade")
			w.Header().Set("Upgrade", r.Header.Get("Upgrade"))
			w.WriteHeader(http.StatusSwitchingProtocols)
			return
		}
		_ = json.NewEncoder(w).Encode(r.Header)
	}))
	t.Cleanup(s.Close)
	return s
}

// rawRequest sends req on a new connection to addr and returns the status
// line and the body of the response.
func rawRequest(t *testing.T, addr, req string) (string, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp.Status, string(b)
}

// TestRouteHeadersSurviveClientConnectionHeader: what a route sets is
// applied after hop-by-hop removal, so a client's Connection header cannot
// strip it (issue #10, item 4); spoofable address headers and
// underscore-named headers from untrusted clients never reach the backend;
// only WebSocket upgrades are passed on (item 7).
func TestRouteHeadersSurviveClientConnectionHeader(t *testing.T) {
	echo := headerEcho(t)
	bk := &Backend{Name: "echo", Endpoints: []Endpoint{{addr(echo)}}}
	cfg := Config{Routes: []Route{{Host: "app.example", HostMatch: HostExact, Path: "/",
		Backends:       []WeightedBackend{{Backend: bk, Weight: 1}},
		RequestHeaders: &HeaderOps{Set: []Header{{Name: "X-Gateway-Tenant", Value: "blue"}}}}}}
	_, front := serveTable(t, cfg, Options{})
	host := strings.TrimPrefix(front.URL, "http://")

	status, body := rawRequest(t, host, "GET / HTTP/1.1\r\nHost: app.example\r\n"+
		"Connection: keep-alive, X-Gateway-Tenant, X-Forwarded-For, Host\r\n"+
		"X-Gateway-Tenant: red\r\n"+
		"X-Real-IP: 6.6.6.6\r\nTrue-Client-IP: 6.6.6.6\r\nX-Client-IP: 6.6.6.6\r\n"+
		"X-Original-URL: /admin\r\nX-Rewrite-URL: /admin\r\nForwarded: for=6.6.6.6\r\n"+
		"X_Forwarded_For: 6.6.6.6\r\nX_Real_IP: 6.6.6.6\r\nX-Forwarded-For: 6.6.6.6\r\n"+
		"Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTe: gzip\r\n\r\n")
	if !strings.HasPrefix(status, "200") {
		t.Fatalf("status %s: %s", status, body)
	}
	var got http.Header
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("backend answer %q: %v", body, err)
	}
	if v := got.Values("X-Gateway-Tenant"); len(v) != 1 || v[0] != "blue" {
		t.Errorf("X-Gateway-Tenant at the backend = %q, want [blue]", v)
	}
	if v := got.Get("X-Forwarded-For"); v != "127.0.0.1" {
		t.Errorf("X-Forwarded-For = %q, want 127.0.0.1", v)
	}
	if v := got.Get("X-Real-Ip"); v != "127.0.0.1" {
		t.Errorf("X-Real-IP = %q, want Portico's 127.0.0.1", v)
	}
	for name := range got {
		if strings.Contains(name, "_") {
			t.Errorf("underscore header %s reached the backend", name)
		}
		for _, v := range got[name] {
			if strings.Contains(v, "6.6.6.6") || v == "/admin" {
				t.Errorf("spoofed %s: %s reached the backend", name, v)
			}
		}
	}
	for _, name := range []string{"Keep-Alive", "Proxy-Connection", "Te", "True-Client-Ip", "X-Client-Ip", "X-Original-Url", "X-Rewrite-Url", "Forwarded"} {
		if v := got.Values(name); len(v) > 0 {
			t.Errorf("%s: %q reached the backend", name, v)
		}
	}

	// Trusted proxies keep their address headers.
	_, trustedFront := serveTable(t, cfg, Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	_, body = rawRequest(t, strings.TrimPrefix(trustedFront.URL, "http://"), "GET / HTTP/1.1\r\nHost: app.example\r\nX-Real-IP: 6.6.6.6\r\n\r\n")
	_ = json.Unmarshal([]byte(body), &got)
	if v := got.Get("X-Real-Ip"); v != "6.6.6.6" {
		t.Errorf("X-Real-IP from a trusted proxy = %q, want kept", v)
	}

	for _, up := range []string{"foo", "h2c", "tls/1.0"} {
		status, _ := rawRequest(t, host, fmt.Sprintf("GET / HTTP/1.1\r\nHost: app.example\r\nConnection: Upgrade\r\nUpgrade: %s\r\n\r\n", up))
		if strings.HasPrefix(status, "101") {
			t.Errorf("Upgrade: %s was tunnelled (%s)", up, status)
		}
	}
	if status, _ := rawRequest(t, host, "GET / HTTP/1.1\r\nHost: app.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"); !strings.HasPrefix(status, "101") {
		t.Errorf("WebSocket upgrade: %s, want 101", status)
	}
}
