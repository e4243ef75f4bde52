package router

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// backendServer starts a loopback HTTP server that names itself in every
// response and echoes the request's path and forwarding headers.
func backendServer(t *testing.T, name string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Backend", name)
		fmt.Fprintf(w, "%s %s %s xff=%s xfp=%s xfh=%s proto=%s",
			name, r.Host, r.URL.RequestURI(), r.Header.Get("X-Forwarded-For"),
			r.Header.Get("X-Forwarded-Proto"), r.Header.Get("X-Forwarded-Host"), r.Proto)
	}))
	t.Cleanup(s.Close)
	return s
}

func addr(s *httptest.Server) string { return strings.TrimPrefix(s.URL, "http://") }

func serveTable(t *testing.T, cfg Config, opts Options) (*Router, *httptest.Server) {
	t.Helper()
	opts.Edge.Engine = testEngine
	rt := New(opts)
	rt.Swap(Compile(cfg))
	return rt, serveEdge(t, rt)
}

func get(t *testing.T, url, host string, hdr ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Host = host
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestZeroRouterAnswers503(t *testing.T) {
	var rt Router
	w := httptest.NewRecorder()
	rt.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != 503 {
		t.Fatalf("code = %d", w.Code)
	}
}

func TestProxyRoutesAndStatuses(t *testing.T) {
	a, b := backendServer(t, "a"), backendServer(t, "b")
	ba := &Backend{Name: "ns/a:80", Endpoints: []Endpoint{{addr(a)}}}
	bb := &Backend{Name: "ns/b:80", Endpoints: []Endpoint{{addr(b)}}}
	empty := &Backend{Name: "ns/empty:80"}
	cfg := Config{Routes: []Route{
		{Host: "foo.com", HostMatch: HostExact, Path: "/a", Backends: []WeightedBackend{{Backend: ba, Weight: 1}}},
		{Host: "foo.com", HostMatch: HostExact, Path: "/b", PathMatch: PathExact, Backends: []WeightedBackend{{Backend: bb, Weight: 1}}},
		{Host: "foo.com", HostMatch: HostExact, Path: "/empty", Backends: []WeightedBackend{{Backend: empty, Weight: 1}}},
		{Host: "foo.com", HostMatch: HostExact, Path: "/zero", Backends: []WeightedBackend{{Backend: ba, Weight: 0}}},
	}}
	_, front := serveTable(t, cfg, Options{})
	cases := []struct {
		host, path string
		code       int
		prefix     string
	}{
		{"foo.com", "/a/x?q=1", 200, "a foo.com /a/x?q=1"},
		{"FOO.COM:80", "/a", 200, "a FOO.COM:80 /a"},
		{"foo.com", "/b", 200, "b foo.com /b"},
		{"foo.com", "/b/", 404, ""},
		{"foo.com", "/x/../a/y", 200, "a foo.com /a/y"},
		{"foo.com", "//a//y", 200, "a foo.com /a/y"},
		{"foo.com", "/%61/y", 200, "a foo.com /a/y"},
		{"bar.com", "/a", 404, ""},
		{"foo.com", "/empty", 503, ""},
		{"foo.com", "/zero", 503, ""},
	}
	for _, c := range cases {
		code, body := get(t, front.URL+c.path, c.host)
		if code != c.code || !strings.HasPrefix(body, c.prefix) {
			t.Errorf("%s%s: %d %q; want %d %q", c.host, c.path, code, body, c.code, c.prefix)
		}
	}
}

func TestWeightsAndRoundRobin(t *testing.T) {
	a1, a2, b := backendServer(t, "a1"), backendServer(t, "a2"), backendServer(t, "b")
	ba := &Backend{Name: "a", Endpoints: []Endpoint{{addr(a1)}, {addr(a2)}}}
	bb := &Backend{Name: "b", Endpoints: []Endpoint{{addr(b)}}}
	_, front := serveTable(t, Config{Routes: []Route{
		{Path: "/", Backends: []WeightedBackend{{Backend: ba, Weight: 3}, {Backend: bb, Weight: 1}}},
	}}, Options{})
	counts := map[string]int{}
	for i := 0; i < 400; i++ {
		_, body := get(t, front.URL, "x")
		counts[strings.Fields(body)[0]]++
	}
	if counts["a1"]+counts["a2"] < 250 || counts["b"] < 50 || counts["a1"] < 100 || counts["a2"] < 100 {
		t.Fatalf("distribution %v, want about 150/150/100", counts)
	}
}

func deadAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := l.Addr().String()
	l.Close()
	return a
}

func TestConnectFailureRetriedOnAnotherEndpoint(t *testing.T) {
	good := backendServer(t, "good")
	bk := &Backend{Name: "b", Endpoints: []Endpoint{{deadAddr(t)}, {addr(good)}}}
	_, front := serveTable(t, Config{Routes: []Route{{Path: "/", Backends: []WeightedBackend{{Backend: bk, Weight: 1}}}}}, Options{})
	for i := 0; i < 10; i++ {
		resp, err := http.Post(front.URL+"/upload", "text/plain", strings.NewReader("payload"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "good") {
			t.Fatalf("attempt %d: %d %q", i, resp.StatusCode, body)
		}
	}
	// With only a dead endpoint, the client gets 502.
	dead := &Backend{Name: "d", Endpoints: []Endpoint{{deadAddr(t)}}}
	_, front2 := serveTable(t, Config{Routes: []Route{{Path: "/", Backends: []WeightedBackend{{Backend: dead, Weight: 1}}}}}, Options{})
	if code, _ := get(t, front2.URL, "x"); code != 502 {
		t.Fatalf("dead endpoint: %d, want 502", code)
	}
}

func TestForwardedHeaders(t *testing.T) {
	a := backendServer(t, "a")
	bk := &Backend{Name: "a", Endpoints: []Endpoint{{addr(a)}}}
	cfg := Config{Routes: []Route{{Path: "/", Backends: []WeightedBackend{{Backend: bk, Weight: 1}}}}}
	_, untrusted := serveTable(t, cfg, Options{})
	_, body := get(t, untrusted.URL, "app.example", "X-Forwarded-For", "6.6.6.6", "X-Forwarded-Proto", "https",
		"Connection", "X-Forwarded-For")
	if !strings.Contains(body, "xff=127.0.0.1 xfp=http xfh=app.example") {
		t.Fatalf("untrusted client: %q", body)
	}
	_, trusted := serveTable(t, cfg, Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	_, body = get(t, trusted.URL, "app.example", "X-Forwarded-For", "6.6.6.6", "X-Forwarded-Proto", "https")
	if !strings.Contains(body, "xff=6.6.6.6, 127.0.0.1 xfp=https") {
		t.Fatalf("trusted proxy: %q", body)
	}
}

func TestHeaderLimit431(t *testing.T) {
	a := backendServer(t, "a")
	bk := &Backend{Name: "a", Endpoints: []Endpoint{{addr(a)}}}
	_, front := serveTable(t, Config{Routes: []Route{{Path: "/", Backends: []WeightedBackend{{Backend: bk, Weight: 1}}}}}, Options{})
	if code, _ := get(t, front.URL, "x", "X-Big", strings.Repeat("a", 60<<10)); code != 200 {
		t.Fatalf("60 KiB header: %d", code)
	}
	if code, _ := get(t, front.URL, "x", "X-Big", strings.Repeat("a", 80<<10)); code != 431 {
		t.Fatalf("80 KiB header: %d, want 431", code)
	}
}

func TestWebSocketUpgrade(t *testing.T) {
	ws := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" {
			http.Error(w, "want upgrade", 400)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		fmt.Fprint(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		line, _ := brw.ReadString('\n')
		fmt.Fprint(brw, "echo:"+line)
		brw.Flush()
	}))
	defer ws.Close()
	bk := &Backend{Name: "ws", Endpoints: []Endpoint{{addr(ws)}}}
	_, front := serveTable(t, Config{Routes: []Route{{Path: "/", Backends: []WeightedBackend{{Backend: bk, Weight: 1}}}}}, Options{})
	conn, err := net.Dial("tcp", strings.TrimPrefix(front.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	fmt.Fprint(conn, "hello\n")
	line, err := br.ReadString('\n')
	if err != nil || line != "echo:hello\n" {
		t.Fatalf("echo: %q %v", line, err)
	}
}

func TestH2CBackend(t *testing.T) {
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.Proto)
	}))
	s.Config.Protocols = new(http.Protocols)
	s.Config.Protocols.SetUnencryptedHTTP2(true)
	s.Start()
	defer s.Close()
	bk := &Backend{Name: "grpc", Protocol: H2C, Endpoints: []Endpoint{{addr(s)}}}
	_, front := serveTable(t, Config{Routes: []Route{{Path: "/", Backends: []WeightedBackend{{Backend: bk, Weight: 1}}}}}, Options{})
	if code, body := get(t, front.URL, "x"); code != 200 || body != "HTTP/2.0" {
		t.Fatalf("h2c backend: %d %q", code, body)
	}
	// A client speaking h2c with prior knowledge to the front works too.
	c := &http.Client{Transport: &http.Transport{Protocols: func() *http.Protocols {
		p := new(http.Protocols)
		p.SetUnencryptedHTTP2(true)
		return p
	}()}}
	resp, err := c.Get(front.URL)
	if err != nil || resp.Proto != "HTTP/2.0" {
		t.Fatalf("h2c client: %v %v", resp, err)
	}
	resp.Body.Close()
}

// sseBackend answers one event at once and a second only when the test
// ends: a proxy that buffers shows no first event.
func sseBackend(t *testing.T) *httptest.Server {
	release := make(chan struct{})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		<-release
		fmt.Fprint(w, "data: two\n\n")
	}))
	t.Cleanup(s.Close)
	t.Cleanup(func() { close(release) }) // runs first: the handler returns before Close waits for it
	return s
}

func TestStreamingIsFlushed(t *testing.T) {
	s := sseBackend(t)
	bk := &Backend{Name: "sse", Endpoints: []Endpoint{{addr(s)}}}
	_, front := serveTable(t, Config{Routes: []Route{{Path: "/", Backends: []WeightedBackend{{Backend: bk, Weight: 1}}}}}, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", front.URL+"/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "data: one\n" {
		t.Fatalf("first event not flushed before the stream ended: %q %v", line, err)
	}
}

func TestSwapKeepsInFlightRequests(t *testing.T) {
	var inflight atomic.Int32
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inflight.Add(1)
		<-release
		fmt.Fprint(w, "slow")
	}))
	defer slow.Close()
	fast := backendServer(t, "fast")
	old := &Backend{Name: "slow", Endpoints: []Endpoint{{addr(slow)}}}
	rt, front := serveTable(t, Config{Routes: []Route{{Path: "/", Backends: []WeightedBackend{{Backend: old, Weight: 1}}}}}, Options{})
	done := make(chan string, 1)
	go func() { _, b := get(t, front.URL, "x"); done <- b }()
	for i := 0; inflight.Load() == 0 && i < 500; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	nb := &Backend{Name: "fast", Endpoints: []Endpoint{{addr(fast)}}}
	if gen := rt.Swap(Compile(Config{Routes: []Route{{Path: "/", Backends: []WeightedBackend{{Backend: nb, Weight: 1}}}}})); gen != 2 {
		t.Fatalf("generation = %d", gen)
	}
	if _, b := get(t, front.URL, "x"); !strings.HasPrefix(b, "fast") {
		t.Fatalf("new table not used: %q", b)
	}
	close(release)
	if b := <-done; b != "slow" {
		t.Fatalf("in-flight request: %q", b)
	}
}

func TestTLSFrontSpeaksHTTP2(t *testing.T) {
	a := backendServer(t, "a")
	bk := &Backend{Name: "a", Endpoints: []Endpoint{{addr(a)}}}
	rt := New(Options{})
	rt.Swap(Compile(Config{Routes: []Route{{Path: "/", Backends: []WeightedBackend{{Backend: bk, Weight: 1}}}}}))
	front := httptest.NewUnstartedServer(rt)
	front.Config = NewEdgeServer(rt, false)
	front.EnableHTTP2 = true
	front.StartTLS()
	defer front.Close()
	c := front.Client()
	c.Transport.(*http.Transport).TLSClientConfig.NextProtos = []string{"h2"}
	c.Transport.(*http.Transport).ForceAttemptHTTP2 = true
	resp, err := c.Get(front.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Proto != "HTTP/2.0" || !strings.Contains(string(body), "xfp=https") {
		t.Fatalf("proto %s body %q", resp.Proto, body)
	}
}

func BenchmarkProxy(b *testing.B) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer s.Close()
	bk := &Backend{Name: "a", Endpoints: []Endpoint{{addr(s)}}}
	rt := New(Options{})
	rt.Swap(Compile(Config{Routes: []Route{{Host: "foo.com", HostMatch: HostExact, Path: "/", Backends: []WeightedBackend{{Backend: bk, Weight: 1}}}}}))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "http://foo.com/api/v1/x", nil)
		rt.ServeHTTP(w, r)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}

func TestInvalidBackendShareGets500(t *testing.T) {
	a := backendServer(t, "a")
	good := &Backend{Name: "good", Endpoints: []Endpoint{{addr(a)}}}
	bad := &Backend{Name: "bad", Status: 500, Reason: "backendRef not found"}
	_, front := serveTable(t, Config{Routes: []Route{
		{Path: "/split", Backends: []WeightedBackend{{Backend: good, Weight: 1}, {Backend: bad, Weight: 1}}},
		{Path: "/bad", Backends: []WeightedBackend{{Backend: bad, Weight: 1}}},
	}}, Options{})
	codes := map[int]int{}
	for i := 0; i < 200; i++ {
		c, _ := get(t, front.URL+"/split", "x")
		codes[c]++
	}
	if codes[200] < 60 || codes[500] < 60 || codes[200]+codes[500] != 200 {
		t.Fatalf("split between valid and invalid backend: %v", codes)
	}
	if c, body := get(t, front.URL+"/bad", "x"); c != 500 || !strings.Contains(body, "backendRef not found") {
		t.Fatalf("invalid backend: %d %q", c, body)
	}
}

// TestKeepAlivePoolSurvivesSwaps: requests served from successive tables
// reuse one upstream connection, because pools belong to the Router.
func TestKeepAlivePoolSurvivesSwaps(t *testing.T) {
	var conns atomic.Int32
	be := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	be.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	be.Start()
	defer be.Close()
	rt, front := serveTable(t, Config{}, Options{})
	for i := 0; i < 5; i++ {
		// A new Config and Backend each time, as translation makes them.
		bk := &Backend{Name: "b", Endpoints: []Endpoint{{addr(be)}}}
		rt.Swap(Compile(Config{Routes: []Route{{Path: "/", Backends: []WeightedBackend{{Backend: bk, Weight: 1}}}}}))
		if code, body := get(t, front.URL, "x"); code != 200 || body != "ok" {
			t.Fatalf("swap %d: %d %q", i, code, body)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d upstream connections for 5 sequential requests across 5 tables, want 1", n)
	}
}
