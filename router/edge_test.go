package router

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestStalledAndMalformedBodies: a client that stops sending its body gets
// 408 after the body timeout and holds no backend connection meanwhile; a
// body whose chunking breaks after a valid head never reaches the backend
// (issue #10, items 3 and 5); large bodies still stream.
func TestStalledAndMalformedBodies(t *testing.T) {
	be := newCountingBackend(t)
	addr := strictFront(t, "b", be.ln.Addr().String(), Options{Edge: EdgeOptions{BodyReadTimeout: 300 * time.Millisecond}})

	out, closed := exchange(t, addr, "POST /stall HTTP/1.1\r\nHost: app.example\r\nContent-Length: 10\r\n\r\nabc")
	if !strings.Contains(out, " 408 ") || !closed {
		t.Errorf("stalled body: %q closed %v, want 408 and close", out, closed)
	}
	out, closed = exchange(t, addr, "POST /chunks HTTP/1.1\r\nHost: app.example\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n")
	if !strings.Contains(out, " 400 ") || !closed {
		t.Errorf("bad chunk after a valid head: %q closed %v, want 400 and close", out, closed)
	}
	if got, cut := be.seen(); len(got) != 0 || cut != 0 {
		t.Errorf("backend saw %q (cut %d), want nothing", got, cut)
	}

	// A large body streams through.
	big := strings.Repeat("x", 3*BodyBufferBytes)
	out, _ = exchange(t, addr, "POST /big HTTP/1.1\r\nHost: app.example\r\nConnection: close\r\nContent-Length: "+
		itoa(len(big))+"\r\n\r\n"+big)
	if !strings.Contains(out, " 200 ") {
		t.Errorf("large body: %q", out[:min(len(out), 200)])
	}
	// A large body that stalls midway: 408, and the backend connection is
	// not reused for anything else.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(c, "POST /bigstall HTTP/1.1\r\nHost: app.example\r\nContent-Length: "+itoa(len(big))+"\r\n\r\n"+big[:2*BodyBufferBytes])
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, _ := io.ReadAll(c)
	c.Close()
	if !strings.Contains(string(b), " 408 ") && !strings.Contains(string(b), " 502 ") {
		t.Errorf("large stalled body: %q", b)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestEscapedSlashes: keep (default) routes %2F inside a segment, reject
// answers 400, decode turns it into a separator before routing.
func TestEscapedSlashes(t *testing.T) {
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.URL.EscapedPath())
	}))
	defer echo.Close()
	bk := &Backend{Name: "e", Endpoints: []Endpoint{{addr(echo)}}}
	cfg := Config{Routes: []Route{
		{Host: "app.example", HostMatch: HostExact, Path: "/", Backends: []WeightedBackend{{Backend: bk, Weight: 1}}},
	}}
	for _, tc := range []struct {
		mode       EscapedSlashes
		path, want string
		code       int
	}{
		{EscapedSlashesKeep, "/a%2fb", "/a%2Fb", 200},
		{EscapedSlashesReject, "/a%2fb", "", 400},
		{EscapedSlashesReject, "/a%5Cb", "", 400},
		{EscapedSlashesReject, "/a/b", "/a/b", 200},
		{EscapedSlashesDecode, "/public%2f..%2fadmin", "/admin", 200},
		{EscapedSlashesDecode, "/a%5cb", "/a/b", 200},
	} {
		_, front := serveTable(t, cfg, Options{Edge: EdgeOptions{EscapedSlashes: tc.mode}})
		status, body := rawRequest(t, strings.TrimPrefix(front.URL, "http://"), "GET "+tc.path+" HTTP/1.1\r\nHost: app.example\r\n\r\n")
		if !strings.HasPrefix(status, itoa(tc.code)) || (tc.code == 200 && body != tc.want) {
			t.Errorf("mode %d %s: %s %q, want %d %q", tc.mode, tc.path, status, body, tc.code, tc.want)
		}
	}
	if _, err := ParseEscapedSlashes("nope"); err == nil {
		t.Error("ParseEscapedSlashes accepted nope")
	}
}

// TestSlowAnswerAfterBody: the body timeout ends with the body; a backend
// that answers long after it (here 3 body timeouts) is waited for.
func TestSlowAnswerAfterBody(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		time.Sleep(900 * time.Millisecond)
		_, _ = io.WriteString(w, "late")
	}))
	defer slow.Close()
	front := strictFront(t, "slow", addr(slow), Options{Edge: EdgeOptions{BodyReadTimeout: 300 * time.Millisecond}})
	out, _ := exchange(t, front, "POST / HTTP/1.1\r\nHost: app.example\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello")
	if !strings.Contains(out, " 200 ") || !strings.HasSuffix(out, "late") {
		t.Fatalf("slow answer after the body: %q", out)
	}
}
