//go:build edge

package edge

import (
	"fmt"
	"testing"
	"time"

	"github.com/portico-dev/portico/edge/edgetest"
)

// TestProxyProtocol runs Portico with --proxy-protocol-from 127.0.0.1 (the
// load balancer is the loopback peer) and checks, over raw sockets, that
// the PROXY header's source address is the client's address the backend
// sees, that a connection without a header or with a malformed one is
// closed before any request reaches the backend, and that a client's own
// X-Forwarded-For does not survive.
func TestProxyProtocol(t *testing.T) {
	t.Parallel()
	be := edgetest.NewBackend(t, edgetest.WithName("app"))
	p := edgetest.Start(t, map[string]string{"app.yaml": edgetest.Join(
		edgetest.IngressClass(),
		edgetest.Service("app", be.Addr()),
		edgetest.Ingress("pp", "pp.test", edgetest.Path{Path: "/", Service: "app"}),
	)}, "--proxy-protocol-from", "127.0.0.1", "--proxy-protocol-timeout", "1s")

	req := edgetest.Req("GET", "/pp", "pp.test", "X-Forwarded-For: 198.51.100.9", "Connection: close")
	cases := []struct {
		name, prefix, wantXFF string
	}{
		{"v1", "PROXY TCP4 203.0.113.7 192.0.2.1 40000 80\r\n", "203.0.113.7"},
		{"v1-ipv6", "PROXY TCP6 2001:db8::7 2001:db8::1 40000 80\r\n", "2001:db8::7"},
		{"v2", string(proxyV2(t, [4]byte{203, 0, 113, 8})), "203.0.113.8"},
		{"missing", "", ""},
		{"malformed", "PROXY TCP4 203.0.113.7\r\n", ""},
		{"garbage-v2", "\r\n\r\n\x00\r\nQUIT\n\x99\x11\x00\x0c", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mark := be.Mark()
			res, err := edgetest.Exchange(p.HTTPAddr, c.prefix+req, 3*time.Second)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
			reqs := be.Since(mark)
			if c.wantXFF == "" {
				if len(reqs) != 0 || (res.First() != nil && res.First().Status == 200) {
					t.Fatalf("without a valid PROXY header: got %s, backend got %d requests; want the connection closed and nothing forwarded", res, len(reqs))
				}
				return
			}
			if first := res.First(); first == nil || first.Status != 200 || len(reqs) != 1 {
				t.Fatalf("got %s, backend got %d requests; want 200 and one request", res, len(reqs))
			}
			if got := reqs[0].Values("X-Forwarded-For"); len(got) != 1 || got[0] != c.wantXFF {
				t.Fatalf("X-Forwarded-For at the backend: %q; want exactly %q (the PROXY source, not the client's header)", got, c.wantXFF)
			}
		})
	}
	p.CheckAlive(t)
}

// proxyV2 is a PROXY v2 PROXY-command header for TCP over IPv4 from src.
func proxyV2(t *testing.T, src [4]byte) []byte {
	t.Helper()
	h := []byte("\r\n\r\n\x00\r\nQUIT\n")
	h = append(h, 0x21, 0x11, 0, 12)
	h = append(h, src[:]...)
	h = append(h, 192, 0, 2, 1, 0x9c, 0x40, 0, 80)
	if len(h) != 28 {
		t.Fatal(fmt.Sprint("bad v2 header length ", len(h)))
	}
	return h
}
