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
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// bigText is a compressible body longer than the default MinLength.
var bigText = strings.Repeat("Portico compresses what is worth it. ", 300)

// compressBackend answers each path of the compression tests.
func compressBackend(t *testing.T) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/plain; charset=utf-8")
		switch r.URL.Path {
		case "/small":
			_, _ = io.WriteString(w, "short")
			return
		case "/png":
			h.Set("Content-Type", "image/png")
		case "/encoded":
			h.Set("Content-Encoding", "gzip")
		case "/notransform":
			h.Set("Cache-Control", "public, no-transform")
		case "/etag":
			h.Set("Etag", `"v1"`)
			h.Set("Vary", "Origin")
		case "/204":
			w.WriteHeader(204)
			return
		case "/chunked":
			h.Set("Content-Type", "text/html")
			for i := 0; i < len(bigText); i += 1000 {
				_, _ = io.WriteString(w, bigText[i:min(i+1000, len(bigText))])
				w.(http.Flusher).Flush()
			}
			return
		case "/chunked-small":
			_, _ = io.WriteString(w, "tiny")
			w.(http.Flusher).Flush()
			return
		case "/json":
			h.Set("Content-Type", "application/problem+json")
		}
		h.Set("Content-Length", fmt.Sprint(len(bigText)))
		_, _ = io.WriteString(w, bigText)
	}))
	t.Cleanup(s.Close)
	return s
}

// frontVariants serves cfg on every path a response can take: both
// HTTP/1 engines, each also for HTTP/2 (h2c); on the fast engine a route
// with a timeout goes out through net/http's transports.
type frontVariant struct {
	name   string
	url    string
	client *http.Client
	proto  int
}

func frontVariants(t *testing.T, cfg Config) []frontVariant {
	t.Helper()
	h1 := &http.Client{Transport: &http.Transport{DisableCompression: true}, Timeout: 10 * time.Second,
		CheckRedirect: noRedirects.CheckRedirect}
	h2 := h2cClient()
	h2.Transport.(*http.Transport).DisableCompression = true
	t.Cleanup(h1.CloseIdleConnections)
	t.Cleanup(h2.CloseIdleConnections)
	var out []frontVariant
	for _, eng := range []Engine{EngineFast, EngineStd} {
		rt := New(Options{Edge: EdgeOptions{Engine: eng}})
		rt.Swap(Compile(cfg))
		front := serveEdge(t, rt)
		name := map[Engine]string{EngineFast: "fast", EngineStd: "std"}[eng]
		out = append(out, frontVariant{name + "/h1", front.URL, h1, 1}, frontVariant{name + "/h2", front.URL, h2, 2})
	}
	return out
}

// decode undoes a Content-Encoding.
func decode(t *testing.T, enc string, b []byte) []byte {
	t.Helper()
	var r io.Reader
	switch enc {
	case "":
		return b
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		r = zr
	case "br":
		r = brotli.NewReader(bytes.NewReader(b))
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("zstd: %v", err)
		}
		defer zr.Close()
		r = zr
	default:
		t.Fatalf("unknown coding %q", enc)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s: %v", enc, err)
	}
	return out
}

func TestCompression(t *testing.T) {
	be := compressBackend(t)
	bk := &Backend{Name: "c", Endpoints: []Endpoint{{addr(be)}}}
	comp := &Compression{}
	cfg := Config{Routes: []Route{
		{Path: "/", Backends: []WeightedBackend{{Backend: bk, Weight: 1}}, Compression: comp},
		// A timeout sends the fast engine's request through net/http's
		// transports (roundTripStd).
		{Path: "/slow", Backends: []WeightedBackend{{Backend: bk, Weight: 1}}, Compression: comp, Timeout: time.Minute,
			Rewrite: &Rewrite{Path: &PathModifier{ReplacePrefix: true, Value: "/"}}},
	}}
	cases := []struct {
		name, method, path, accept, rangeHdr string
		enc                                  string // Content-Encoding wanted
		vary                                 bool   // Vary: Accept-Encoding wanted
		body                                 string // "" = bigText
	}{
		{name: "gzip", path: "/big", accept: "gzip", enc: "gzip", vary: true},
		{name: "x-gzip alias", path: "/big", accept: "x-gzip", enc: "gzip", vary: true},
		{name: "brotli by q", path: "/big", accept: "gzip;q=0.5, br;q=1", enc: "br", vary: true},
		{name: "zstd", path: "/big", accept: "zstd", enc: "zstd", vary: true},
		{name: "star takes the first offered", path: "/big", accept: "*", enc: "zstd", vary: true},
		{name: "star with exclusions", path: "/big", accept: "zstd;q=0, br;q=0, *;q=0.1", enc: "gzip", vary: true},
		{name: "tie goes to preference", path: "/big", accept: "gzip, br, zstd", enc: "zstd", vary: true},
		{name: "identity only", path: "/big", accept: "identity", vary: true},
		{name: "refused", path: "/big", accept: "gzip;q=0", vary: true},
		{name: "no Accept-Encoding", path: "/big", vary: true},
		{name: "small body", path: "/small", accept: "gzip", body: "short"},
		{name: "already compressed type", path: "/png", accept: "gzip"},
		{name: "Content-Encoding present", path: "/encoded", accept: "gzip"},
		{name: "no-transform", path: "/notransform", accept: "gzip"},
		{name: "range", path: "/big", accept: "gzip", rangeHdr: "bytes=0-9"},
		{name: "HEAD", method: "HEAD", path: "/big", accept: "gzip", body: "-"},
		{name: "204", path: "/204", accept: "gzip", body: "-"},
		{name: "streamed without length", path: "/chunked", accept: "br", enc: "br", vary: true},
		{name: "structured syntax suffix", path: "/json", accept: "gzip", enc: "gzip", vary: true},
		{name: "through net/http transports", path: "/slow/big", accept: "gzip", enc: "gzip", vary: true},
	}
	for _, v := range frontVariants(t, cfg) {
		for _, c := range cases {
			method := c.method
			if method == "" {
				method = "GET"
			}
			req, _ := http.NewRequest(method, v.url+c.path, nil)
			if c.accept != "" {
				req.Header.Set("Accept-Encoding", c.accept)
			}
			if c.rangeHdr != "" {
				req.Header.Set("Range", c.rangeHdr)
			}
			resp, err := v.client.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", v.name, c.name, err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.ProtoMajor != v.proto {
				t.Fatalf("%s %s: served over HTTP/%d", v.name, c.name, resp.ProtoMajor)
			}
			enc := resp.Header.Get("Content-Encoding")
			if c.path == "/encoded" {
				enc = "" // the backend's own (fake) gzip
			}
			if enc != c.enc {
				t.Errorf("%s %s: Content-Encoding %q, want %q", v.name, c.name, enc, c.enc)
				continue
			}
			if got := containsToken(strings.Join(resp.Header.Values("Vary"), ","), "Accept-Encoding"); got != c.vary {
				t.Errorf("%s %s: Vary %q", v.name, c.name, resp.Header.Values("Vary"))
			}
			if cl := resp.Header.Get("Content-Length"); c.enc != "" && cl != "" && cl != fmt.Sprint(len(raw)) {
				// net/http computes the compressed length of a body
				// written whole; the backend's must never pass.
				t.Errorf("%s %s: compressed with Content-Length %s", v.name, c.name, cl)
			}
			want := c.body
			switch want {
			case "":
				want = bigText
			case "-":
				want = ""
			}
			if c.rangeHdr != "" {
				continue // the test backend ignores Range
			}
			if got := string(decode(t, enc, raw)); got != want {
				t.Errorf("%s %s: body of %d bytes, want %d", v.name, c.name, len(got), len(want))
			}
		}
	}
}

// TestCompressionHeaders: a strong ETag becomes weak, Vary is added to
// the backend's own, short bodies of unknown length go out as they are.
func TestCompressionHeaders(t *testing.T) {
	be := compressBackend(t)
	bk := &Backend{Name: "c", Endpoints: []Endpoint{{addr(be)}}}
	cfg := Config{Routes: []Route{{Path: "/", Backends: []WeightedBackend{{Backend: bk, Weight: 1}}, Compression: &Compression{}}}}
	for _, v := range frontVariants(t, cfg) {
		req, _ := http.NewRequest("GET", v.url+"/etag", nil)
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err := v.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if et := resp.Header.Get("Etag"); et != `W/"v1"` {
			t.Errorf("%s: ETag %q", v.name, et)
		}
		if vary := strings.Join(resp.Header.Values("Vary"), ", "); vary != "Origin, Accept-Encoding" {
			t.Errorf("%s: Vary %q", v.name, vary)
		}
		req, _ = http.NewRequest("GET", v.url+"/chunked-small", nil)
		req.Header.Set("Accept-Encoding", "gzip")
		resp, err = v.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		// The fast engine compresses a body without a length as it
		// streams; net/http's paths hold MinLength bytes first.
		if got := string(decode(t, resp.Header.Get("Content-Encoding"), b)); got != "tiny" {
			t.Errorf("%s: short streamed body %q", v.name, got)
		}
	}
}

// TestCompressedStreamIsFlushed: an SSE stream is compressed and every
// event still arrives at once.
func TestCompressedStreamIsFlushed(t *testing.T) {
	s := sseBackend(t)
	bk := &Backend{Name: "sse", Endpoints: []Endpoint{{addr(s)}}}
	cfg := Config{Routes: []Route{{Path: "/", Backends: []WeightedBackend{{Backend: bk, Weight: 1}}, Compression: &Compression{}}}}
	for _, v := range frontVariants(t, cfg) {
		for _, enc := range []string{"gzip", "br", "zstd"} {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			req, _ := http.NewRequestWithContext(ctx, "GET", v.url+"/events", nil)
			req.Header.Set("Accept-Encoding", enc)
			resp, err := v.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.Header.Get("Content-Encoding"); got != enc {
				t.Errorf("%s %s: Content-Encoding %q", v.name, enc, got)
			}
			var r io.Reader
			switch enc {
			case "gzip":
				r, err = gzip.NewReader(resp.Body)
			case "br":
				r = brotli.NewReader(resp.Body)
			case "zstd":
				var zr *zstd.Decoder
				zr, err = zstd.NewReader(resp.Body)
				r = zr
			}
			if err != nil {
				t.Fatalf("%s %s: %v", v.name, enc, err)
			}
			line, err := bufio.NewReader(r).ReadString('\n')
			if err != nil || line != "data: one\n" {
				t.Errorf("%s %s: first event not flushed: %q %v", v.name, enc, line, err)
			}
			cancel()
			resp.Body.Close()
		}
	}
}
