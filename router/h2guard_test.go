package router

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// frames writes HTTP/2 frames as a client would, after the preface.
func frames(t *testing.T, write func(*http2.Framer)) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteString(http2.ClientPreface)
	write(http2.NewFramer(&b, nil))
	return b.Bytes()
}

// TestH2Guard: the frame guard fails connections that flood CONTINUATION
// frames, reset streams faster than its budget, or send endless empty DATA
// frames, and passes ordinary traffic, however the bytes are split.
func TestH2Guard(t *testing.T) {
	ordinary := frames(t, func(f *http2.Framer) {
		_ = f.WriteSettings()
		for id := uint32(1); id < 400; id += 2 {
			_ = f.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: []byte{0x82}, EndHeaders: false})
			_ = f.WriteContinuation(id, true, []byte{0x84})
			_ = f.WriteData(id, true, []byte("body"))
		}
		for id := uint32(1); id < 2*maxResetsPerSecond; id += 2 {
			_ = f.WriteRSTStream(id, http2.ErrCodeCancel) // 200 resets: at the budget
		}
	})
	for _, tc := range []struct {
		name string
		in   []byte
		fail bool
	}{
		{"ordinary", ordinary, false},
		{"CONTINUATION flood", frames(t, func(f *http2.Framer) {
			_ = f.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: []byte{0x82}})
			for range maxContinuations + 1 {
				_ = f.WriteContinuation(1, false, nil)
			}
		}), true},
		{"rapid reset", frames(t, func(f *http2.Framer) {
			for id := uint32(1); id < 2*maxResetsPerSecond+10; id += 2 {
				_ = f.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: []byte{0x82}, EndHeaders: true})
				_ = f.WriteRSTStream(id, http2.ErrCodeCancel)
			}
			for id := uint32(1001); id < 1021; id += 2 {
				_ = f.WriteRSTStream(id, http2.ErrCodeCancel)
			}
		}), true},
		{"empty DATA flood", frames(t, func(f *http2.Framer) {
			for range maxEmptyFramesPerSecond + 1 {
				_ = f.WriteData(1, false, nil)
			}
		}), true},
	} {
		for _, step := range []int{1, 7, 4096} {
			fr := newFramer(h2Allowed)
			var err error
			for i := 0; i < len(tc.in) && err == nil; i += step {
				err = fr.feed(tc.in[i:min(i+step, len(tc.in))])
			}
			if (err != nil) != tc.fail {
				t.Errorf("%s (in pieces of %d): err %v, want failure %v", tc.name, step, err, tc.fail)
			}
		}
	}
	if err := newFramer(h2Refused).feed([]byte(http2.ClientPreface)); err == nil {
		t.Error("HTTP/2 preface accepted on a connection that negotiated HTTP/1.1")
	}
	if err := newFramer(h2Required).feed([]byte("GET / HTTP/1.1\r\n")); err == nil {
		t.Error("HTTP/1.1 accepted on a connection that negotiated h2")
	}
}

// TestSendTimeout: a client that stops reading a large response is
// disconnected after the send timeout, and the backend's response is
// abandoned, instead of both being held forever.
func TestSendTimeout(t *testing.T) {
	abandoned := make(chan struct{})
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		for range 1024 { // 64 MiB
			if _, err := w.Write(chunk); err != nil {
				close(abandoned)
				return
			}
		}
	}))
	defer big.Close()
	front := strictFront(t, "big", addr(big), Options{Edge: EdgeOptions{SendTimeout: 500 * time.Millisecond}})
	c, err := net.Dial("tcp", front)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.(*net.TCPConn).SetReadBuffer(4096)
	_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: app.example\r\n\r\n")
	// Read nothing: the proxy's writes stall.
	select {
	case <-abandoned:
	case <-time.After(15 * time.Second):
		t.Fatal("the stalled response was still being relayed after 15s (send timeout 500ms)")
	}
}

// TestSendTimeoutSparesIdleStreams: a streaming response whose backend is
// quiet for longer than the send timeout (SSE, gRPC streams) is not cut,
// over HTTP/2 (where a stream's write deadline is a timer) as over
// HTTP/1.1; only a write that cannot complete is.
func TestSendTimeoutSparesIdleStreams(t *testing.T) {
	sse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "a")
		w.(http.Flusher).Flush()
		time.Sleep(1500 * time.Millisecond)
		_, _ = io.WriteString(w, "b")
	}))
	defer sse.Close()
	front := strictFront(t, "sse", addr(sse), Options{Edge: EdgeOptions{SendTimeout: 500 * time.Millisecond}})
	h2c := &http.Transport{Protocols: new(http.Protocols)}
	h2c.Protocols.SetUnencryptedHTTP2(true)
	for name, tr := range map[string]*http.Transport{"h1": {}, "h2c": h2c} {
		req, _ := http.NewRequest("GET", "http://"+front+"/events", nil)
		req.Host = "app.example"
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(b) != "ab" || (name == "h2c") != (resp.ProtoMajor == 2) {
			t.Errorf("%s: %s %q %v, want the whole stream", name, resp.Proto, b, err)
		}
	}
}

// TestStrictConnMarksHTTP2: a connection whose client sent the HTTP/2
// preface is marked as such (its writes then yield first, see
// strictConn.Write); an HTTP/1.1 one is not.
func TestStrictConnMarksHTTP2(t *testing.T) {
	for _, tc := range []struct {
		in string
		h2 bool
	}{{http2.ClientPreface, true}, {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", false}} {
		a, b := net.Pipe()
		sc := newStrictConn(a, nil, h2Allowed, nil)
		go func() { _, _ = io.WriteString(b, tc.in) }()
		if _, err := io.ReadFull(sc, make([]byte, len(tc.in))); err != nil {
			t.Fatal(err)
		}
		if sc.h2.Load() != tc.h2 {
			t.Errorf("%q: marked HTTP/2 %v, want %v", tc.in[:3], sc.h2.Load(), tc.h2)
		}
		_ = a.Close()
		_ = b.Close()
	}
}
