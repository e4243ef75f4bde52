package router

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	proxyproto "github.com/pires/go-proxyproto"
)

func startProxyProtoServer(t *testing.T, trusted string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pp := &ProxyProtocol{Trusted: []netip.Prefix{netip.MustParsePrefix(trusted)}, Timeout: 300 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.RemoteAddr) })
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = ServeListener(ctx, NewProxyProtocolListener(ln, pp), nil, h, Drain{Grace: time.Second})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

func proxyProtoRequest(t *testing.T, addr string, header []byte) (string, error) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write(append(header, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"...)); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "", err
	}
	b, _ := io.ReadAll(resp.Body)
	return string(b), nil
}

func v2Header(t *testing.T, cmd proxyproto.ProtocolVersionAndCommand) []byte {
	h := &proxyproto.Header{Version: 2, Command: cmd, TransportProtocol: proxyproto.TCPv4,
		SourceAddr:      &net.TCPAddr{IP: net.ParseIP("203.0.113.9"), Port: 4242},
		DestinationAddr: &net.TCPAddr{IP: net.ParseIP("10.0.0.1"), Port: 80}}
	var b bytes.Buffer
	if _, err := h.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestProxyProtocolListener(t *testing.T) {
	addr := startProxyProtoServer(t, "127.0.0.0/8")
	got, err := proxyProtoRequest(t, addr, []byte("PROXY TCP4 198.51.100.7 10.0.0.1 5555 80\r\n"))
	if err != nil || got != "198.51.100.7:5555" {
		t.Fatalf("v1: %q %v", got, err)
	}
	got, err = proxyProtoRequest(t, addr, v2Header(t, proxyproto.PROXY))
	if err != nil || got != "203.0.113.9:4242" {
		t.Fatalf("v2: %q %v", got, err)
	}
	got, err = proxyProtoRequest(t, addr, v2Header(t, proxyproto.LOCAL))
	if err != nil || !strings.HasPrefix(got, "127.0.0.1:") {
		t.Fatalf("v2 LOCAL keeps the peer: %q %v", got, err)
	}
	for name, h := range map[string][]byte{
		"none":      nil,
		"malformed": []byte("PROXY TCP4 nonsense\r\n"),
		"oversized": []byte("PROXY TCP4 " + strings.Repeat("1", 200) + "\r\n"),
	} {
		if got, err := proxyProtoRequest(t, addr, h); err == nil {
			t.Errorf("%s: answered %q", name, got)
		}
	}
	// Slow: nothing sent; closed within the deadline.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || time.Since(start) > 2*time.Second {
		t.Errorf("silent client: %v after %v", err, time.Since(start))
	}
}

func TestProxyProtocolUntrusted(t *testing.T) {
	addr := startProxyProtoServer(t, "192.0.2.0/24")
	if got, err := proxyProtoRequest(t, addr, []byte("PROXY TCP4 198.51.100.7 10.0.0.1 5555 80\r\n")); err == nil {
		t.Fatalf("untrusted peer answered %q", got)
	}
}

func FuzzParseProxyHeader(f *testing.F) {
	f.Add([]byte("PROXY TCP4 198.51.100.7 10.0.0.1 5555 80\r\nGET"))
	f.Add([]byte("PROXY UNKNOWN\r\n"))
	f.Add([]byte("\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c\xcb\x00\x71\x09\x0a\x00\x00\x01\x10\x92\x00\x50"))
	f.Fuzz(func(t *testing.T, b []byte) {
		src, rest, err := parseProxyHeader(bytes.NewReader(b))
		if err != nil {
			return
		}
		if len(rest) > len(b) {
			t.Fatalf("rest longer than input")
		}
		_ = src
	})
}
