package dataplane

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	proxyproto "github.com/pires/go-proxyproto"

	"github.com/portico-dev/portico/router"
	"github.com/portico-dev/portico/serving"
)

// TestGatewayListenerProxyProtocolSwap: a policy's PROXY setting on one
// Gateway port applies to that port's new connections, is swapped by a
// new table without restarting the listener, and leaves the other port
// plain.
func TestGatewayListenerProxyProtocolSwap(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.Header.Get("X-Forwarded-For"))
	}))
	defer backend.Close()
	d, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	const pkey, plain = "Gateway/ns/gw:80", "Gateway/ns/gw:81"
	b := &router.Backend{Name: "ns/app:80", Endpoints: []router.Endpoint{{Address: backend.Listener.Addr().String()}}}
	route := func(key string) router.Route {
		return router.Route{Listener: key, Path: "/", PathMatch: router.PathPrefix, Backends: []router.WeightedBackend{{Backend: b, Weight: 1}},
			Source: router.Source{Kind: "HTTPRoute", Namespace: "ns", Name: key}}
	}
	cfg := router.Config{Routes: []router.Route{route(pkey), route(plain)}}
	pp := &router.ProxyProtocol{Trusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, Timeout: 300 * time.Millisecond}
	d.Apply(&serving.Model{Config: cfg, Listeners: []serving.Listener{{Key: pkey, ProxyProtocol: pp}, {Key: plain}}})

	set := NewListenerSet(d.Router, router.Drain{Grace: time.Second}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); set.Wait() }()
	addrs := map[string]string{}
	for _, k := range []string{pkey, plain} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs[k] = ln.Addr().String()
		ln.Close()
	}
	want := func() map[string]router.Listener {
		return map[string]router.Listener{pkey: d.GatewayListener(pkey, addrs[pkey]), plain: d.GatewayListener(plain, addrs[plain])}
	}
	set.Sync(ctx, want())
	waitServing(t, addrs[plain])

	v2 := &proxyproto.Header{Version: 2, Command: proxyproto.PROXY, TransportProtocol: proxyproto.TCPv4,
		SourceAddr: &net.TCPAddr{IP: net.ParseIP("203.0.113.9"), Port: 4242}, DestinationAddr: &net.TCPAddr{IP: net.ParseIP("10.0.0.1"), Port: 80}}
	var v2b bytes.Buffer
	if _, err := v2.WriteTo(&v2b); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		header []byte
		want   string
	}{
		"v1": {[]byte("PROXY TCP4 198.51.100.7 10.0.0.1 5555 80\r\n"), "198.51.100.7"},
		"v2": {v2b.Bytes(), "203.0.113.9"},
	} {
		if got, err := rawGet(addrs[pkey], c.header); err != nil || got != c.want {
			t.Errorf("%s: X-Forwarded-For %q, %v; want %q", name, got, err, c.want)
		}
	}
	if got, err := rawGet(addrs[pkey], nil); err == nil {
		t.Errorf("no header: answered %q", got)
	}
	if got, err := rawGet(addrs[plain], nil); err != nil || got != "127.0.0.1" {
		t.Errorf("plain port: %q, %v", got, err)
	}

	idle, err := net.Dial("tcp", addrs[pkey])
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	_ = idle.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := idle.Write([]byte("PROXY TCP4 198.51.100.8 10.0.0.1 5555 80\r\n")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // accepted under the first setting

	// Untrusted peer: a new table trusting another network.
	other := &router.ProxyProtocol{Trusted: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}
	d.Apply(&serving.Model{Config: cfg, Listeners: []serving.Listener{{Key: pkey, ProxyProtocol: other}, {Key: plain}}})
	set.Sync(ctx, want())
	if got, err := rawGet(addrs[pkey], []byte("PROXY TCP4 198.51.100.7 10.0.0.1 5555 80\r\n")); err == nil {
		t.Errorf("untrusted peer: answered %q", got)
	}

	// Policy removed: the same listener serves plain connections, and
	// the connection accepted under the policy stays open.
	d.Apply(&serving.Model{Config: cfg, Listeners: []serving.Listener{{Key: pkey}, {Key: plain}}})
	set.Sync(ctx, want())
	if got, err := rawGet(addrs[pkey], nil); err != nil || got != "127.0.0.1" {
		t.Errorf("after removal: %q, %v", got, err)
	}
	if _, err := idle.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(idle), nil)
	if err != nil {
		t.Fatalf("connection accepted before the swaps: %v", err)
	}
	defer resp.Body.Close()
	if body, _ := io.ReadAll(resp.Body); string(body) != "198.51.100.8" {
		t.Errorf("connection accepted before the swaps: X-Forwarded-For %q", body)
	}
}

// rawGet sends header and one request on a new connection and returns the
// answer's body.
func rawGet(addr string, header []byte) (string, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return "", err
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
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(body)), err
}

func waitServing(t *testing.T, addr string) {
	t.Helper()
	for range 100 {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s never served", addr)
}
