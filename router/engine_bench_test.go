package router

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"strconv"
	"testing"
)

// rawBackend answers every request on a connection with a fixed small
// response, allocating nothing per request, so that an engine benchmark
// counts the proxy's own work.
func rawBackend(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Type: text/plain\r\n\r\nok\n")
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
					// Requests from the proxy have no body here: read up
					// to the blank line.
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

// BenchmarkEngines proxies keep-alive GETs through a real listener
// (framing checker, edge limits) on each HTTP/1.x engine; allocs/op are
// the proxy's per request.
func BenchmarkEngines(b *testing.B) {
	for _, eng := range []struct {
		name string
		e    Engine
	}{{"std", EngineStd}, {"fast", EngineFast}} {
		b.Run(eng.name, func(b *testing.B) {
			be := rawBackend(b)
			rt := New(Options{Edge: EdgeOptions{Engine: eng.e}})
			rt.Swap(Compile(Config{Routes: []Route{{Host: "foo.com", HostMatch: HostExact, Path: "/",
				Backends: []WeightedBackend{{Backend: &Backend{Name: "b", Endpoints: []Endpoint{{be}}}, Weight: 1}}}}}))
			benchRequests(b, startStrict(b, rt), "GET /api/v1/x HTTP/1.1\r\nHost: foo.com\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
		})
	}
}

// benchRequests sends one keep-alive request per iteration to front and
// reads its answer.
func benchRequests(b *testing.B, front, request string) {
	c, err := net.Dial("tcp", front)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	req := []byte(request)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		if err := readResponse(br); err != nil {
			b.Fatal(err)
		}
	}
}

func readResponse(br *bufio.Reader) error {
	status, err := br.ReadSlice('\n')
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(status, []byte("HTTP/1.1 200")) {
		return fmt.Errorf("status %q", status)
	}
	n := 0
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			break
		}
		if k, v, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(k, []byte("Content-Length")) {
			n, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
		}
	}
	_, err = br.Discard(n)
	return err
}
