package router

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
)

// textBackend answers every request with an 8 KiB text body (with a
// Content-Length), allocating nothing per request.
func textBackend(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	body := bigText[:8192]
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\nContent-Type: text/html\r\n\r\n" + body)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReaderSize(c, 8192)
				for {
					for {
						line, err := br.ReadSlice('\n')
						if err != nil {
							return
						}
						if len(line) <= 2 {
							break
						}
					}
					if _, err := c.Write(resp); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// BenchmarkResponseFeatures prices compression, response overrides and
// session persistence on keep-alive requests through a real listener, on
// each HTTP/1 engine: "bare" is the same route without the feature.
// Compression of the 8 KiB body is the encoder's work; "compression-
// skipped" is the decision alone (a body under MinLength).
func BenchmarkResponseFeatures(b *testing.B) {
	text, small := textBackend(b), rawBackend(b)
	mk := func(be string, mod func(*Route)) Config {
		r := Route{Host: "foo.com", HostMatch: HostExact, Path: "/",
			Backends: []WeightedBackend{{Backend: &Backend{Name: "b", Endpoints: []Endpoint{{be}, {be}, {be}}}, Weight: 1}}}
		if mod != nil {
			mod(&r)
		}
		return Config{Routes: []Route{r}}
	}
	const get = "GET /x HTTP/1.1\r\nHost: foo.com\r\nUser-Agent: bench\r\n"
	session := &SessionPersistence{Cookie: &SessionCookie{}}
	tok := func(cfg Config) string {
		return sessionToken(cfg.Routes[0].Backends[0].Backend, 0)
	}
	comp := func(r *Route) { r.Compression = &Compression{} }
	cases := []struct {
		name string
		cfg  Config
		req  string
	}{
		{"bare-8k", mk(text, nil), get + "Accept-Encoding: gzip, br, zstd\r\n\r\n"},
		{"gzip-8k", mk(text, comp), get + "Accept-Encoding: gzip\r\n\r\n"},
		{"br-8k", mk(text, comp), get + "Accept-Encoding: br\r\n\r\n"},
		{"zstd-8k", mk(text, comp), get + "Accept-Encoding: zstd\r\n\r\n"},
		{"bare-3b", mk(small, nil), get + "Accept-Encoding: gzip\r\n\r\n"},
		{"compression-skipped-3b", mk(small, comp), get + "Accept-Encoding: gzip\r\n\r\n"},
		{"compression-not-accepted-3b", mk(small, comp), get + "\r\n"},
		{"override-no-match-3b", mk(small, func(r *Route) {
			r.ResponseOverrides = []ResponseOverride{{Classes: []int{5}, Body: "sorry"}}
		}), get + "\r\n"},
		{"session-new-3b", mk(small, func(r *Route) { r.Session = session }), get + "\r\n"},
	}
	sticky := mk(small, func(r *Route) { r.Session = session })
	cases = append(cases, struct {
		name string
		cfg  Config
		req  string
	}{"session-sticky-3b", sticky, get + "Cookie: portico-session=" + tok(sticky) + "\r\n\r\n"})
	for _, eng := range []Engine{EngineFast, EngineStd} {
		for _, c := range cases {
			b.Run(map[Engine]string{EngineFast: "fast", EngineStd: "std"}[eng]+"/"+c.name, func(b *testing.B) {
				rt := New(Options{Edge: EdgeOptions{Engine: eng}})
				rt.Swap(Compile(c.cfg))
				benchAnyRequests(b, startStrict(b, rt), c.req)
			})
		}
	}
}

// benchAnyRequests is benchRequests for answers with a length or chunked.
func benchAnyRequests(b *testing.B, front, request string) {
	c, err := net.Dial("tcp", front)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReaderSize(c, 64<<10)
	req := []byte(request)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		if err := readAnyResponse(br); err != nil {
			b.Fatal(err)
		}
	}
}

func readAnyResponse(br *bufio.Reader) error {
	status, err := br.ReadSlice('\n')
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(status, []byte("HTTP/1.1 200")) {
		return fmt.Errorf("status %q", status)
	}
	n, chunked := 0, false
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			break
		}
		k, v, _ := bytes.Cut(line, []byte(":"))
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			n, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			chunked = true
		}
	}
	if !chunked {
		_, err = br.Discard(n)
		return err
	}
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		size, err := strconv.ParseInt(strings.TrimSpace(string(line)), 16, 64)
		if err != nil {
			return err
		}
		if _, err := br.Discard(int(size) + 2); err != nil {
			return err
		}
		if size == 0 {
			return nil
		}
	}
}
