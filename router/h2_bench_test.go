package router

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"strconv"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// BenchmarkHTTP2 proxies GETs from one HTTP/2 connection (h2c with prior
// knowledge, through the framing checker and the frame guard, as Portico's
// listeners serve it) to an HTTP/1.1 backend, with a number of streams in
// flight as h2load keeps them. The client is a bare framer sending one
// pre-encoded request head, so allocs/op are nearly all the proxy's
// (net/http's HTTP/2 server included).
func BenchmarkHTTP2(b *testing.B) {
	for _, eng := range []struct {
		name string
		e    Engine
	}{{"std", EngineStd}, {"fast", EngineFast}} {
		for _, streams := range []int{1, 8} {
			b.Run(eng.name+"/streams="+strconv.Itoa(streams), func(b *testing.B) {
				be := rawBackend(b)
				rt := New(Options{Edge: EdgeOptions{Engine: eng.e}})
				rt.Swap(Compile(Config{Routes: []Route{{Host: "foo.com", HostMatch: HostExact, Path: "/",
					Backends: []WeightedBackend{{Backend: &Backend{Name: "b", Endpoints: []Endpoint{{be}}}, Weight: 1}}}}}))
				benchH2(b, startStrict(b, rt), streams)
			})
		}
	}
}

// benchH2 sends b.N requests on one HTTP/2 connection to front, keeping
// inflight streams open, and fails on any answer but 200.
func benchH2(b *testing.B, front string, inflight int) {
	c, err := net.Dial("tcp", front)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	bw, br := bufio.NewWriterSize(c, 16<<10), bufio.NewReaderSize(c, 16<<10)
	_, _ = io.WriteString(bw, http2.ClientPreface)
	fr := http2.NewFramer(bw, br)
	fr.SetReuseFrames()
	_ = fr.WriteSettings()
	_ = fr.WriteWindowUpdate(0, 1<<30)
	var hb bytes.Buffer
	enc := hpack.NewEncoder(&hb)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", "foo.com"},
		{":path", "/api/v1/x"}, {"user-agent", "bench"}, {"accept", "*/*"}} {
		// Never indexed: the same bytes are a valid head every time.
		_ = enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1], Sensitive: true})
	}
	block := hb.Bytes()
	next, sent, done := uint32(1), 0, 0
	send := func() {
		_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: next, BlockFragment: block, EndStream: true, EndHeaders: true})
		next += 2
		sent++
	}
	b.ReportAllocs()
	b.ResetTimer()
	for sent < min(inflight, b.N) {
		send()
	}
	for done < b.N {
		if br.Buffered() == 0 {
			if err := bw.Flush(); err != nil {
				b.Fatal(err)
			}
		}
		f, err := fr.ReadFrame()
		if err != nil {
			b.Fatal(err)
		}
		end := false
		switch f := f.(type) {
		case *http2.HeadersFrame:
			// 0x88 is :status 200 from HPACK's static table.
			if p := f.HeaderBlockFragment(); len(p) == 0 || p[0] != 0x88 {
				b.Fatalf("stream %d: answer is not 200 (% x)", f.StreamID, p)
			}
			end = f.StreamEnded()
		case *http2.DataFrame:
			end = f.StreamEnded()
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = fr.WriteSettingsAck()
			}
		case *http2.GoAwayFrame, *http2.RSTStreamFrame:
			b.Fatalf("unexpected %v", f)
		}
		if end {
			done++
			if sent < b.N {
				send()
			}
		}
	}
}
