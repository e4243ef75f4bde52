package router

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// seenRequest is what an HTTP/1.1 backend received.
type seenRequest struct {
	Method, URI, Host, Proto string
	ContentLength            int64
	Header                   http.Header
	Body                     string
}

// recordingBackend answers by path and records every request it gets.
type recordingBackend struct {
	mu   sync.Mutex
	seen []seenRequest
}

func (b *recordingBackend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h := r.Header.Clone()
	b.mu.Lock()
	b.seen = append(b.seen, seenRequest{r.Method, r.RequestURI, r.Host, r.Proto, r.ContentLength, h, string(body)})
	b.mu.Unlock()
	w.Header().Add("Set-Cookie", "a=1")
	w.Header().Add("Set-Cookie", "b=2")
	w.Header().Set("X-Backend", "rec")
	w.Header().Set("Connection", "X-Private")
	w.Header().Set("X-Private", "hop-by-hop, must not reach the client")
	switch {
	case strings.HasPrefix(r.URL.Path, "/status/"):
		var code int
		_, _ = fmt.Sscan(strings.TrimPrefix(r.URL.Path, "/status/"), &code)
		w.WriteHeader(code)
	case r.URL.Path == "/chunked":
		for i := range 3 {
			fmt.Fprintf(w, "part %d\n", i)
			w.(http.Flusher).Flush()
		}
	case r.URL.Path == "/big":
		_, _ = w.Write(bytes.Repeat([]byte("y"), 200<<10))
	default:
		fmt.Fprintf(w, "%s %s len=%d body=%d", r.Method, r.RequestURI, r.ContentLength, len(body))
	}
}

func (b *recordingBackend) take() []seenRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.seen
	b.seen = nil
	return s
}

// gotResponse is what an HTTP/2 client received.
type gotResponse struct {
	Status int
	Header http.Header
	Body   string
}

// TestHTTP2UpstreamMatchesReverseProxy: HTTP/2 requests to an HTTP/1.1
// backend go out on the fast pools on the fast engine and through
// httputil.ReverseProxy on the std engine. For every request below, the
// backend must receive the same request and the client the same answer.
func TestHTTP2UpstreamMatchesReverseProxy(t *testing.T) {
	rec := &recordingBackend{}
	be := httptest.NewServer(rec)
	defer be.Close()
	dead := deadAddr(t)
	bk := &Backend{Name: "rec", Endpoints: []Endpoint{{addr(be)}}}
	// One endpoint refuses connections: a failed connect is retried on
	// the other, on both paths.
	twoEps := &Backend{Name: "two", Endpoints: []Endpoint{{dead}, {addr(be)}}}
	cfg := Config{Routes: []Route{
		{Host: "app.example", HostMatch: HostExact, Path: "/", Backends: []WeightedBackend{{Backend: bk, Weight: 1}},
			RequestHeaders:  &HeaderOps{Set: []Header{{"X-Route", "set"}}, Remove: []string{"X-Drop"}},
			ResponseHeaders: &HeaderOps{Add: []Header{{"X-Resp", "added"}}, Remove: []string{"X-Backend"}}},
		{Host: "retry.example", HostMatch: HostExact, Path: "/", Backends: []WeightedBackend{{Backend: twoEps, Weight: 1}}},
		{Host: "down.example", HostMatch: HostExact, Path: "/", Backends: []WeightedBackend{{Backend: &Backend{Name: "down", Endpoints: []Endpoint{{dead}}}, Weight: 1}}},
	}}
	type request struct {
		name, method, host, target string
		body                       []byte
		chunked                    bool
		hdr                        []string
	}
	big := bytes.Repeat([]byte("z"), 100<<10)
	cases := []request{
		{name: "get", method: "GET", host: "app.example", target: "/a/b?q=1&r=%2F"},
		{name: "escaped", method: "GET", host: "app.example", target: "/a%20b/c%2Fd"},
		{name: "headers", method: "GET", host: "app.example", target: "/h",
			hdr: []string{"X-Drop", "gone", "X-Keep", "kept", "X-Forwarded-For", "6.6.6.6", "Cookie", "c=3", "User-Agent", "h2-test"}},
		{name: "small body", method: "POST", host: "app.example", target: "/post", body: []byte("hello")},
		{name: "large body", method: "PUT", host: "app.example", target: "/put", body: big},
		{name: "no length", method: "POST", host: "app.example", target: "/stream", body: []byte("streamed body"), chunked: true},
		{name: "head", method: "HEAD", host: "app.example", target: "/head"},
		{name: "status", method: "GET", host: "app.example", target: "/status/418"},
		{name: "no content", method: "GET", host: "app.example", target: "/status/204"},
		{name: "chunked answer", method: "GET", host: "app.example", target: "/chunked"},
		{name: "big answer", method: "GET", host: "app.example", target: "/big"},
		{name: "retried connect", method: "GET", host: "retry.example", target: "/r"},
		{name: "backend down", method: "GET", host: "down.example", target: "/d"},
	}
	results := map[Engine][]string{}
	for _, eng := range []Engine{EngineFast, EngineStd} {
		rt := New(Options{Edge: EdgeOptions{Engine: eng}})
		rt.Swap(Compile(cfg))
		front := "http://" + startStrict(t, rt)
		c := h2cClient()
		for _, tc := range cases {
			var body io.Reader
			if tc.body != nil {
				body = bytes.NewReader(tc.body)
				if tc.chunked {
					body = io.MultiReader(body) // hides the length
				}
			}
			req, _ := http.NewRequest(tc.method, front+tc.target, body)
			req.Host = tc.host
			for i := 0; i+1 < len(tc.hdr); i += 2 {
				req.Header.Set(tc.hdr[i], tc.hdr[i+1])
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatalf("%v %s: %v", eng, tc.name, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.ProtoMajor != 2 {
				t.Fatalf("%s: client spoke %s", tc.name, resp.Proto)
			}
			resp.Header.Del("Date")
			got := gotResponse{resp.StatusCode, resp.Header, string(b)}
			seen := rec.take()
			for i := range seen {
				seen[i].Header.Del("Accept-Encoding") // the h2 client's own, forwarded alike
			}
			results[eng] = append(results[eng], fmt.Sprintf("%s\n  client: %+v\n  backend: %+v", tc.name, got, seen))
			if tc.name == "headers" && (len(seen) != 1 || seen[0].Header.Get("X-Drop") != "" || seen[0].Header.Get("X-Route") != "set" ||
				seen[0].Header.Get("X-Forwarded-For") != "127.0.0.1") {
				t.Errorf("%v: route filters or forwarding headers not applied: %+v", eng, seen)
			}
			if resp.Header.Get("X-Private") != "" {
				t.Errorf("%v %s: a header the backend's Connection named reached the client", eng, tc.name)
			}
		}
	}
	for i := range results[EngineFast] {
		if f, s := results[EngineFast][i], results[EngineStd][i]; f != s {
			t.Errorf("HTTP/2 on the fast pools differs from ReverseProxy:\nfast: %s\nstd:  %s", f, s)
		}
	}
}

// TestHTTP2UpstreamStreams: an answer without a length reaches an HTTP/2
// client as it is written (SSE), not when it ends.
func TestHTTP2UpstreamStreams(t *testing.T) {
	be := sseBackend(t)
	rt := New(Options{Edge: EdgeOptions{Engine: EngineFast}})
	rt.Swap(Compile(Config{Routes: []Route{{Path: "/", Backends: []WeightedBackend{{Backend: &Backend{Name: "sse", Endpoints: []Endpoint{{addr(be)}}}, Weight: 1}}}}}))
	front := "http://" + startStrict(t, rt)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", front+"/events", nil)
	resp, err := h2cClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "data: one\n" || resp.ProtoMajor != 2 {
		t.Fatalf("first event not flushed before the stream ended: %q %v %s", line, err, resp.Proto)
	}
}

// h2cClient speaks HTTP/2 with prior knowledge over cleartext.
func h2cClient() *http.Client {
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: p}, Timeout: 10 * time.Second}
}

// TestHTTP2UpstreamClientGone: when an HTTP/2 client resets a stream whose
// backend is quiet, the upstream connection is closed (the backend sees
// it go), not left waiting for the backend's next bytes.
func TestHTTP2UpstreamClientGone(t *testing.T) {
	gone := make(chan struct{})
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			close(gone)
		case <-time.After(10 * time.Second):
		}
	}))
	defer be.Close()
	rt := New(Options{Edge: EdgeOptions{Engine: EngineFast}})
	rt.Swap(Compile(Config{Routes: []Route{{Path: "/", Backends: []WeightedBackend{{Backend: &Backend{Name: "sse", Endpoints: []Endpoint{{addr(be)}}}, Weight: 1}}}}}))
	front := "http://" + startStrict(t, rt)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", front+"/events", nil)
	resp, err := h2cClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	cancel()
	resp.Body.Close()
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the backend's connection stayed open after the client went away")
	}
}
