package router

import (
	"bytes"
	"io"
	"net/http/httptest"
	"strconv"
	"testing"
	"testing/iotest"

	"github.com/valyala/fasthttp"
)

// FuzzCompression is differential: whatever the body, the coding and how
// the body is cut into writes and flushes, each of the three ways Portico
// compresses (net/http's writer, the fast engine's stream and its
// in-memory body) gives back exactly the body once decoded.
func FuzzCompression(f *testing.F) {
	f.Add([]byte(bigText), uint8(0), uint8(7), true)
	f.Add([]byte("x"), uint8(1), uint8(1), false)
	f.Add([]byte{}, uint8(2), uint8(0), true)
	f.Add(bytes.Repeat([]byte{0, 1, 2, 3, 255}, 5000), uint8(2), uint8(200), false)
	f.Fuzz(func(t *testing.T, body []byte, encIdx, chunk uint8, flush bool) {
		if len(body) > 256<<10 {
			return
		}
		enc := []Encoding{EncodingGzip, EncodingBrotli, EncodingZstd}[int(encIdx)%3]
		s, err := compileShape(&Route{Compression: &Compression{MinLength: 1, Encodings: []Encoding{enc}}})
		if err != nil {
			t.Fatal(err)
		}
		step := int(chunk)*37 + 1
		pieces := func(yield func([]byte) bool) {
			for i := 0; i < len(body); i += step {
				if !yield(body[i:min(i+step, len(body))]) {
					return
				}
			}
		}

		// net/http's paths.
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Accept-Encoding", string(enc))
		sw := s.shapeStd(rec, req)
		sw.Header().Set("Content-Type", "text/plain")
		if !flush {
			sw.Header().Set("Content-Length", strconv.Itoa(len(body)))
		}
		sw.WriteHeader(200)
		for p := range pieces {
			_, _ = sw.Write(p)
			if flush {
				sw.Flush()
			}
		}
		sw.finish()
		check(t, "std", rec.Header().Get("Content-Encoding"), rec.Body.Bytes(), body)

		// The fast engine's stream.
		up := fasthttp.AcquireResponse()
		up.Header.SetContentType("text/plain")
		r := io.Reader(bytes.NewReader(body))
		if step < 64 && len(body) < 2048 {
			r = iotest.OneByteReader(r)
		}
		up.SetBodyStream(r, -1)
		var out fasthttp.Response
		adoptShaped(&out, up, s, enc)
		got, err := io.ReadAll(out.BodyStream())
		if err != nil {
			t.Fatal(err)
		}
		_ = out.CloseBodyStream()
		check(t, "fast stream", string(out.Header.Peek("Content-Encoding")), got, body)

		// The fast engine's in-memory body.
		var ctx fasthttp.RequestCtx
		ctx.Request.Header.Set("Accept-Encoding", string(enc))
		ctx.Response.Header.SetContentType("text/plain")
		ctx.Response.SetBody(body)
		finishShapeFast(&ctx, &proxyState{route: &CompiledRoute{Route: &Route{}, shape: s}})
		check(t, "fast body", string(ctx.Response.Header.Peek("Content-Encoding")), ctx.Response.Body(), body)
	})
}

func check(t *testing.T, path, enc string, got, want []byte) {
	t.Helper()
	if len(want) >= 1 && enc == "" {
		t.Fatalf("%s: not compressed", path)
	}
	if dec := decode(t, enc, got); !bytes.Equal(dec, want) {
		t.Fatalf("%s (%s): decoded %d bytes, want %d", path, enc, len(dec), len(want))
	}
}
