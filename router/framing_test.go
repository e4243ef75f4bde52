package router

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// countingBackend records every request it receives, per connection.
type countingBackend struct {
	ln    net.Listener
	mu    sync.Mutex
	paths []string // "conn#N METHOD PATH bodylen" per request
	cut   int      // requests whose body ended early
}

func newCountingBackend(t *testing.T) *countingBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &countingBackend{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for conn := 0; ; conn++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go b.serve(c)
		}
	}()
	return b
}

func (b *countingBackend) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		body, err := io.ReadAll(req.Body)
		b.mu.Lock()
		b.paths = append(b.paths, req.Method+" "+req.URL.Path)
		if err != nil {
			b.cut++
		}
		b.mu.Unlock()
		if err != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		_ = body
	}
}

func (b *countingBackend) seen() ([]string, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.paths...), b.cut
}

// startStrict serves rt on a loopback listener the way Portico's listeners
// do (framing checker included) and returns its address.
func startStrict(t testing.TB, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = ServeListener(ctx, ln, nil, h, Drain{Grace: time.Second}); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

// strictFront serves one route for app.example to endpoint the way
// Portico's listeners do, and returns the front's address.
func strictFront(t *testing.T, name, endpoint string, opts Options) string {
	t.Helper()
	bk := &Backend{Name: name, Endpoints: []Endpoint{{endpoint}}}
	opts.Edge.Engine = testEngine
	rt := New(opts)
	rt.Swap(Compile(Config{Routes: []Route{{Host: "app.example", HostMatch: HostExact, Path: "/",
		Backends: []WeightedBackend{{Backend: bk, Weight: 1}}}}}))
	return startStrict(t, rt)
}

// exchange writes raw to addr and returns what came back before the
// connection closed (or 2 s passed), and whether it was closed.
func exchange(t *testing.T, addr, raw string) (string, bool) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = io.WriteString(c, raw)
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	var out bytes.Buffer
	_, err = io.Copy(&out, c)
	closed := err == nil // EOF: the server closed
	return out.String(), closed
}

const smuggled = "GET /SMUGGLED HTTP/1.1\r\nHost: app.example\r\n\r\n"

// TestFramingRejected: ambiguous or malformed HTTP/1.x framing is answered
// 400 (never proxied) and the connection closed (issue #10, item 3).
func TestFramingRejected(t *testing.T) {
	be := newCountingBackend(t)
	addr := strictFront(t, "b", be.ln.Addr().String(), Options{})
	body := "0\r\n\r\n" + smuggled
	for _, tc := range []struct{ name, req string }{
		{"CL+TE", "POST / HTTP/1.1\r\nHost: app.example\r\nContent-Length: 45\r\nTransfer-Encoding: chunked\r\n\r\n" + body},
		{"TE+CL", "POST / HTTP/1.1\r\nHost: app.example\r\nTransfer-Encoding: chunked\r\nContent-Length: 45\r\n\r\n" + body},
		{"CL+TE Chunked", "POST / HTTP/1.1\r\nHost: app.example\r\nContent-Length: 45\r\nTransfer-Encoding: Chunked\r\n\r\n" + body},
		{"CL+TE spaces", "POST / HTTP/1.1\r\nHost: app.example\r\nContent-Length: 45\r\nTransfer-Encoding:  chunked \r\n\r\n" + body},
		{"CL+TE tab", "POST / HTTP/1.1\r\nHost: app.example\r\nContent-Length: 45\r\nTransfer-Encoding:\tchunked\r\n\r\n" + body},
		{"obs-fold TE", "POST / HTTP/1.1\r\nHost: app.example\r\nContent-Length: 45\r\nTransfer-Encoding:\r\n chunked\r\n\r\n" + body},
		{"Connection: Transfer-Encoding", "POST / HTTP/1.1\r\nHost: app.example\r\nConnection: Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n\r\n" + body},
		{"Connection: Content-Length", "POST / HTTP/1.1\r\nHost: app.example\r\nConnection: close, Content-Length\r\nContent-Length: 5\r\n\r\n0\r\n\r\n"},
		{"HTTP/1.0 TE+CL", "POST / HTTP/1.0\r\nHost: app.example\r\nContent-Length: 45\r\nTransfer-Encoding: chunked\r\n\r\n" + body},
		{"HTTP/1.0 TE", "POST / HTTP/1.0\r\nHost: app.example\r\nTransfer-Encoding: chunked\r\n\r\n" + body},
		{"TE identity,chunked", "POST / HTTP/1.1\r\nHost: app.example\r\nTransfer-Encoding: identity, chunked\r\n\r\n" + body},
		{"two TE fields", "POST / HTTP/1.1\r\nHost: app.example\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n" + body},
		{"two CL fields", "POST / HTTP/1.1\r\nHost: app.example\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"},
		{"CL +5", "POST / HTTP/1.1\r\nHost: app.example\r\nContent-Length: +5\r\n\r\nhello"},
		{"space before colon", "POST / HTTP/1.1\r\nHost: app.example\r\nTransfer-Encoding : chunked\r\nContent-Length: 45\r\n\r\n" + body},
		{"bare LF", "GET / HTTP/1.1\nHost: app.example\n\n"},
		{"bare CR in value", "GET / HTTP/1.1\r\nHost: app.example\r\nX: a\rb\r\n\r\n"},
		{"NUL in value", "GET / HTTP/1.1\r\nHost: app.example\r\nX: a\x00b\r\n\r\n"},
		{"chunk size overflow", "POST / HTTP/1.1\r\nHost: app.example\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff1\r\nx\r\n0\r\n\r\n"},
		{"chunk 0x", "POST / HTTP/1.1\r\nHost: app.example\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n"},
		{"chunk data too long", "POST / HTTP/1.1\r\nHost: app.example\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n" + smuggled},
		{"HTTP/0.9", "GET /\r\n\r\n"},
		{"HTTP/2.0 on h1", "GET / HTTP/2.0\r\nHost: app.example\r\n\r\n"},
		{"second request smuggles", "GET / HTTP/1.1\r\nHost: app.example\r\n\r\nPOST / HTTP/1.1\r\nHost: app.example\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := be.seen()
			out, closed := exchange(t, addr, tc.req)
			after, cut := be.seen()
			if !strings.Contains(out, " 400 ") || !closed {
				t.Errorf("answer %q (closed %v), want 400 and close", out, closed)
			}
			for _, p := range after[len(before):] {
				if strings.Contains(p, "SMUGGLED") || tc.name != "second request smuggles" {
					t.Errorf("backend received %q", p)
				}
			}
			if cut > 0 {
				t.Errorf("backend received %d cut bodies", cut)
			}
		})
	}
}

// TestFramingAccepted: well-formed requests, kept alive and pipelined,
// pass the checker unchanged.
func TestFramingAccepted(t *testing.T) {
	be := newCountingBackend(t)
	addr := strictFront(t, "b", be.ln.Addr().String(), Options{})
	req := "POST /a HTTP/1.1\r\nHost: app.example\r\nContent-Length: 5\r\n\r\nhello" +
		"POST /b HTTP/1.1\r\nHost: app.example\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n" +
		"GET /c HTTP/1.1\r\nHost: app.example\r\nConnection: close\r\n\r\n"
	out, _ := exchange(t, addr, req)
	if n := strings.Count(out, "HTTP/1.1 200"); n != 3 {
		t.Fatalf("want 3 answers, got %q", out)
	}
	got, cut := be.seen()
	if strings.Join(got, ",") != "POST /a,POST /b,GET /c" || cut != 0 {
		t.Fatalf("backend saw %q (cut %d)", got, cut)
	}
}

// TestFramingUpgradeAndTLS: an upgraded connection (101) is a tunnel the
// checker leaves alone; HTTP/1.1 over TLS is checked too and keeps its TLS
// state; HTTP/2 over TLS is served.
func TestFramingUpgradeAndTLS(t *testing.T) {
	ws := httptestHijacker(t)
	front := strictFront(t, "ws", ws, Options{})
	c, err := net.Dial("tcp", front)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: app.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	// Not HTTP: must be tunnelled, not rejected.
	_, _ = io.WriteString(c, "\x81\x05hello bare\nLF\r")
	buf := make([]byte, 16)
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "\x81\x05hello bare\nLF\r" {
		t.Fatalf("tunnel echo: %q %v", buf, err)
	}

	// TLS: HTTP/1.1 is checked and sees its TLS state; HTTP/2 works.
	be := backendServer(t, "tls")
	bk2 := &Backend{Name: "tls", Endpoints: []Endpoint{{addr(be)}}}
	rt2 := New(Options{})
	rt2.Swap(Compile(Config{Routes: []Route{{Host: "app.example", HostMatch: HostExact, Path: "/",
		Backends: []WeightedBackend{{Backend: bk2, Weight: 1}}}}}))
	cert := selfSignedForTest(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		_ = ServeListener(ctx, ln, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}, rt2, Drain{})
		close(done)
	}()
	defer func() { cancel(); <-done }()
	dial := func(proto string) *tls.Conn {
		tc, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{proto}}) //nolint:gosec // test
		if err != nil {
			t.Fatal(err)
		}
		_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
		return tc
	}
	tc := dial("http/1.1")
	_, _ = io.WriteString(tc, "GET / HTTP/1.1\r\nHost: app.example\r\n\r\n")
	resp, err = http.ReadResponse(bufio.NewReader(tc), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), "xfp=https") {
		t.Errorf("HTTP/1.1 over TLS lost its TLS state: %q", b)
	}
	tc.Close()
	tc = dial("http/1.1")
	_, _ = io.WriteString(tc, "POST / HTTP/1.1\r\nHost: app.example\r\nContent-Length: 45\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"+smuggled)
	out, _ := io.ReadAll(tc)
	if !strings.Contains(string(out), " 400 ") {
		t.Errorf("CL+TE over TLS: %q, want 400", out)
	}
	tc.Close()
	h2 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}} //nolint:gosec // test
	req, _ := http.NewRequest("GET", "https://"+ln.Addr().String()+"/", nil)
	req.Host = "app.example"
	resp, err = h2.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != 200 {
		t.Errorf("HTTP/2 over TLS: %s %d", resp.Proto, resp.StatusCode)
	}
}

// httptestHijacker starts a backend that answers upgrades with 101 and
// then echoes raw bytes.
func httptestHijacker(t *testing.T) string {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
		_ = brw.Flush()
		_, _ = io.Copy(c, brw)
	}))
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

func selfSignedForTest(t *testing.T) tls.Certificate {
	t.Helper()
	s := httptest.NewTLSServer(http.NotFoundHandler())
	defer s.Close()
	return s.TLS.Certificates[0]
}

// TestHeadLimits: a request head over 64 KiB, or with more than 100 header
// fields, gets 431 and the connection is closed; one just under passes.
func TestHeadLimits(t *testing.T) {
	be := newCountingBackend(t)
	addr := strictFront(t, "b", be.ln.Addr().String(), Options{})
	head := func(size int) string {
		base := "GET / HTTP/1.1\r\nHost: app.example\r\nConnection: close\r\nX-Pad: \r\n\r\n"
		return strings.Replace(base, "X-Pad: ", "X-Pad: "+strings.Repeat("a", size-len(base)), 1)
	}
	fields := func(n int) string {
		var b strings.Builder
		b.WriteString("GET / HTTP/1.1\r\nHost: app.example\r\nConnection: close\r\n")
		for i := 2; i < n; i++ {
			fmt.Fprintf(&b, "X-F%d: v\r\n", i)
		}
		return b.String() + "\r\n"
	}
	for _, tc := range []struct {
		name, req string
		want      string
	}{
		{"64 KiB head", head(MaxHeaderBytes), " 200 "},
		{"64 KiB + 1 head", head(MaxHeaderBytes + 1), " 431 "},
		{"100 fields", fields(MaxHeaderFields), " 200 "},
		{"101 fields", fields(MaxHeaderFields + 1), " 431 "},
		{"long request line", "GET /" + strings.Repeat("a", MaxHeaderBytes) + " HTTP/1.1\r\nHost: app.example\r\n\r\n", " 431 "},
	} {
		out, closed := exchange(t, addr, tc.req)
		if !strings.Contains(out, tc.want) || !closed {
			t.Errorf("%s: %.80q (closed %v), want%s", tc.name, out, closed, tc.want)
		}
	}
}
