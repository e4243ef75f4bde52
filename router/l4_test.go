package router

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// clientHello captures the bytes a TLS client sends first for sni.
func clientHello(t testing.TB, sni string) []byte {
	t.Helper()
	a, b := net.Pipe()
	go func() {
		_ = tls.Client(a, &tls.Config{ServerName: sni, InsecureSkipVerify: true}).Handshake()
	}()
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(b, hdr); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, binary.BigEndian.Uint16(hdr[3:]))
	if _, err := io.ReadFull(b, body); err != nil {
		t.Fatal(err)
	}
	a.Close()
	b.Close()
	return append(hdr, body...)
}

// peekBytes feeds data to PeekClientHello in chunks of size, with pauses.
func peekBytes(t *testing.T, data []byte, chunk int) (string, []byte, error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return
		}
		for i, n := 0, 0; i < len(data); i, n = i+chunk, n+1 {
			c.Write(data[i:min(i+chunk, len(data))])
			if n%16 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
		c.(*net.TCPConn).CloseWrite()
		io.Copy(io.Discard, c)
		c.Close()
	}()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sni, replay, perr := PeekClientHello(c, 10*time.Second)
	got, _ := io.ReadAll(replay)
	return sni, got, perr
}

func TestPeekClientHello(t *testing.T) {
	hello := clientHello(t, "pass.example.com")
	t.Run("whole and byte by byte", func(t *testing.T) {
		for _, chunk := range []int{len(hello), 1, 7} {
			sni, replay, err := peekBytes(t, hello, chunk)
			if err != nil || sni != "pass.example.com" || !bytes.Equal(replay, hello) {
				t.Fatalf("chunk %d: sni %q err %v replay intact %v", chunk, sni, err, bytes.Equal(replay, hello))
			}
		}
	})
	t.Run("fragmented over two TLS records", func(t *testing.T) {
		body := hello[5:]
		half := len(body) / 2
		var frag []byte
		for _, part := range [][]byte{body[:half], body[half:]} {
			frag = append(frag, 22, hello[1], hello[2], byte(len(part)>>8), byte(len(part)))
			frag = append(frag, part...)
		}
		sni, replay, err := peekBytes(t, frag, len(frag))
		if err != nil || sni != "pass.example.com" || !bytes.Equal(replay, frag) {
			t.Fatalf("sni %q err %v", sni, err)
		}
	})
	t.Run("not TLS", func(t *testing.T) {
		req := []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		_, replay, err := peekBytes(t, req, len(req))
		if err == nil || !bytes.Equal(replay, req) {
			t.Fatalf("err %v replay %q", err, replay)
		}
	})
	t.Run("oversized", func(t *testing.T) {
		big := []byte{22, 3, 1, 0xff, 0xff}
		for i := 0; i < 5; i++ {
			big = append(big, bytes.Repeat([]byte{1}, 0xffff)...)
		}
		if _, _, err := peekBytes(t, big[:80<<10], 16<<10); err == nil {
			t.Fatal("oversized hello accepted")
		}
	})
	t.Run("no SNI", func(t *testing.T) {
		sni, _, err := peekBytes(t, clientHello(t, ""), 1<<20)
		if err != nil || sni != "" {
			t.Fatalf("sni %q err %v", sni, err)
		}
	})
}

// TestPassthroughAndTerminateOnOneListener serves one TLS listener that
// passes pass.example.com through to a backend TLS server and terminates
// every other name itself.
func TestPassthroughAndTerminateOnOneListener(t *testing.T) {
	upstream := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "upstream terminated sni=%s", r.TLS.ServerName)
	}))
	defer upstream.Close()
	local := backendServer(t, "local")
	cfg := Config{
		Routes:      []Route{{Path: "/", Backends: []WeightedBackend{{Backend: &Backend{Name: "local", Endpoints: []Endpoint{{addr(local)}}}, Weight: 1}}}},
		Passthrough: []L4Route{{Host: "pass.example.com", HostMatch: HostExact, Backends: []WeightedBackend{{Backend: &Backend{Name: "up", Endpoints: []Endpoint{{strings.TrimPrefix(upstream.URL, "https://")}}}, Weight: 1}}}},
	}
	rt := New(Options{})
	rt.Swap(Compile(cfg))
	cert := upstream.TLS.Certificates[0]
	tlsConf := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mux := NewTLSMux(ln, rt.Table, L4Options{})
	srv := NewEdgeServer(rt, false)
	go srv.Serve(tls.NewListener(mux, tlsConf))
	defer srv.Close()

	get := func(sni string) string {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{ServerName: sni, InsecureSkipVerify: true}}}
		resp, err := c.Get("https://" + ln.Addr().String() + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if got := get("pass.example.com"); got != "upstream terminated sni=pass.example.com" {
		t.Fatalf("passthrough: %q", got)
	}
	if got := get("other.example.com"); !strings.HasPrefix(got, "local ") {
		t.Fatalf("terminated: %q", got)
	}
	// Plain HTTP on the TLS port gets the HTTPS server's 400, not a hang.
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprint(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	if !strings.Contains(line, "400") {
		t.Fatalf("plain HTTP on TLS port: %q", line)
	}
}

// echoServer echoes each connection until EOF, then half-closes.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
				c.(*net.TCPConn).CloseWrite()
			}()
		}
	}()
	return ln.Addr().String()
}

func startTCP(t *testing.T, cfg Config, opts L4Options) (string, func()) {
	t.Helper()
	rt := New(Options{})
	rt.Swap(Compile(cfg))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := contextWithCancel()
	done := make(chan struct{})
	go func() { ServeTCP(ctx, ln, "tcp", rt.Table, opts, 5*time.Second); close(done) }()
	return ln.Addr().String(), func() { cancel(); <-done }
}

func TestTCPHalfCloseAndIdle(t *testing.T) {
	echo := echoServer(t)
	cfg := Config{TCP: []L4Route{{Listener: "tcp", Backends: []WeightedBackend{{Backend: &Backend{Name: "echo", Endpoints: []Endpoint{{deadAddr(t)}, {echo}}}, Weight: 1}}}}}
	front, stop := startTCP(t, cfg, L4Options{IdleTimeout: 300 * time.Millisecond})
	defer stop()

	// Half-close: the client finishes sending, and still reads the reply.
	c, err := net.Dial("tcp", front)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(c, "hello over tcp")
	c.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(c)
	c.Close()
	if err != nil || string(got) != "hello over tcp" {
		t.Fatalf("echo: %q %v", got, err)
	}

	// Idle: a silent connection is closed after the idle timeout.
	c, err = net.Dial("tcp", front)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, err = c.Read(make([]byte, 1))
	var ne net.Error
	switch {
	case err == nil:
		t.Fatal("idle connection got data")
	case errors.As(err, &ne) && ne.Timeout():
		t.Fatal("idle connection was not closed by the proxy")
	}
}

func TestTCPConnectionLimit(t *testing.T) {
	echo := echoServer(t)
	cfg := Config{TCP: []L4Route{{Listener: "tcp", Backends: []WeightedBackend{{Backend: &Backend{Name: "echo", Endpoints: []Endpoint{{echo}}}, Weight: 1}}}}}
	front, stop := startTCP(t, cfg, L4Options{MaxConns: 2})
	defer stop()
	var held []net.Conn
	for i := 0; i < 2; i++ {
		c, err := net.Dial("tcp", front)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprint(c, "x")
		c.Read(make([]byte, 1))
		held = append(held, c)
	}
	c, err := net.Dial("tcp", front)
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprint(c, "x")
	if n, _ := c.Read(make([]byte, 1)); n != 0 {
		t.Fatal("third connection served over the limit of 2")
	}
	c.Close()
	for _, h := range held {
		h.Close()
	}
}

// openSockets counts this process's socket descriptors. (Other descriptors
// come and go: io.Copy in the echo server pools splice pipes until GC.)
func openSockets() int {
	ents, _ := os.ReadDir("/proc/self/fd")
	n := 0
	for _, e := range ents {
		if l, _ := os.Readlink("/proc/self/fd/" + e.Name()); strings.HasPrefix(l, "socket:") {
			n++
		}
	}
	return n
}

// TestNoLeakAfter10kConnections pushes 10,000 connections through the TCP
// proxy (50 at a time) and checks goroutines and sockets return to
// where they were.
func TestNoLeakAfter10kConnections(t *testing.T) {
	echo := echoServer(t)
	cfg := Config{TCP: []L4Route{{Listener: "tcp", Backends: []WeightedBackend{{Backend: &Backend{Name: "echo", Endpoints: []Endpoint{{echo}}}, Weight: 1}}}}}
	front, stop := startTCP(t, cfg, L4Options{})
	baseG, baseFD := runtime.NumGoroutine(), openSockets()
	const total, parallel = 10000, 50
	deadline := time.Now().Add(2 * time.Minute)
	var wg sync.WaitGroup
	errs := make(chan error, total)
	sem := make(chan struct{}, parallel)
	for i := 0; i < total && time.Now().Before(deadline); i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := net.DialTimeout("tcp", front, 5*time.Second)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			c.Write([]byte("ping"))
			c.(*net.TCPConn).CloseWrite()
			if b, err := io.ReadAll(c); err != nil || string(b) != "ping" {
				errs <- fmt.Errorf("echo %q: %w", b, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if failed == 0 {
			t.Errorf("first failure: %v", err)
		}
		failed++
	}
	if failed > 0 {
		t.Fatalf("%d of %d connections failed", failed, total)
	}
	var g, fd int
	for i := 0; i < 100; i++ {
		g, fd = runtime.NumGoroutine(), openSockets()
		if g <= baseG+5 && fd <= baseFD+5 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	if g > baseG+5 || fd > baseFD+5 {
		t.Fatalf("after %d connections: goroutines %d (was %d), sockets %d (was %d)", total, g, baseG, fd, baseFD)
	}
}

func contextWithCancel() (context.Context, context.CancelFunc) {
	return context.WithCancel(context.Background())
}
