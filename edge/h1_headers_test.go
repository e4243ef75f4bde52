//go:build edge

package edge

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portico-dev/portico/edge/edgetest"
)

// hopSetup serves host hop.test through an Ingress to backend "ingress" and
// host gw.test through a Gateway on 127.0.0.1 whose HTTPRoute sets
// X-Gateway-Tenant: blue (RequestHeaderModifier) to backend "gateway". Both
// backends accept any upgrade, so a tunnelled upgrade is visible.
type hopSetup struct {
	p      *edgetest.Portico
	gwAddr string
	ing    *edgetest.Backend
	gw     *edgetest.Backend
}

func startHopSetup(t *testing.T) *hopSetup {
	t.Helper()
	s := &hopSetup{
		ing: edgetest.NewBackend(t, edgetest.WithName("ingress"), edgetest.WithUpgrade()),
		gw:  edgetest.NewBackend(t, edgetest.WithName("gateway"), edgetest.WithUpgrade()),
	}
	s.gwAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(edgetest.FreePort(t)))
	s.p = edgetest.Start(t, map[string]string{
		"ingress.yaml": edgetest.Join(
			edgetest.IngressClass(),
			edgetest.Service("ing", s.ing.Addr()),
			edgetest.Ingress("hop", "hop.test", edgetest.Path{Path: "/", Service: "ing"}),
		),
		"gateway.yaml": edgetest.Join(
			edgetest.GatewayClass(),
			edgetest.Gateway("gw", s.gwAddr),
			edgetest.Service("gwsvc", s.gw.Addr()),
			edgetest.HTTPRoute("tenant", "gw", []string{"gw.test"}, `  - filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
        set: [{name: X-Gateway-Tenant, value: blue}]
    backendRefs: [{name: gwsvc, port: 80}]`),
		),
	})
	s.p.WaitListening(t, s.gwAddr, 15*time.Second)
	return s
}

type hopCase struct {
	name    string
	gateway bool
	headers []string
	// websocket: the upgrade must be tunnelled (positive control).
	websocket bool
	// closeAfter: the client asked to close; Portico must close after the
	// response.
	closeAfter bool
}

func hopCases() []hopCase {
	ws := []string{"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"}
	return []hopCase{
		{name: "control/plain"},
		{name: "connection/x-forwarded-for", headers: []string{"Connection: X-Forwarded-For"}},
		{name: "connection/x-forwarded-host", headers: []string{"Connection: X-Forwarded-Host"}},
		{name: "connection/x-forwarded-proto", headers: []string{"Connection: X-Forwarded-Proto"}},
		{name: "connection/all-x-forwarded", headers: []string{"Connection: X-Forwarded-For, X-Forwarded-Host, X-Forwarded-Proto"}},
		{name: "connection/lowercase-xff", headers: []string{"connection: x-forwarded-for"}},
		{name: "connection/two-fields", headers: []string{"Connection: keep-alive", "Connection: X-Forwarded-For"}},
		{name: "connection/host", headers: []string{"Connection: Host"}},
		{name: "connection/close-authorization", headers: []string{"Connection: close, Authorization", "Authorization: Bearer client-token"}, closeAfter: true},
		{name: "connection/cookie", headers: []string{"Connection: Cookie", "Cookie: session=client"}},
		{name: "connection/custom", headers: []string{"Connection: X-Custom", "X-Custom: 1"}},
		{name: "connection/content-type", headers: []string{"Connection: Content-Type", "Content-Type: text/plain"}},
		{name: "keep-alive-field", headers: []string{"Connection: keep-alive", "Keep-Alive: timeout=5, max=1000"}},
		{name: "proxy-connection", headers: []string{"Proxy-Connection: keep-alive"}},
		{name: "te/gzip", headers: []string{"TE: gzip"}},
		{name: "te/trailers", headers: []string{"TE: trailers"}},
		{name: "upgrade/without-connection", headers: []string{"Upgrade: foo"}},
		{name: "upgrade/foo", headers: []string{"Connection: keep-alive, Upgrade", "Upgrade: foo"}},
		{name: "upgrade/tls", headers: []string{"Connection: Upgrade", "Upgrade: TLS/1.3"}},
		{name: "upgrade/h2c", headers: []string{"Connection: Upgrade, HTTP2-Settings", "Upgrade: h2c", "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA"}},
		{name: "upgrade/websocket-control", headers: append([]string{"Connection: Upgrade", "Upgrade: websocket"}, ws...), websocket: true},
		{name: "gateway/control", gateway: true},
		{name: "gateway/connection-tenant", gateway: true, headers: []string{"Connection: X-Gateway-Tenant"}},
		{name: "gateway/connection-tenant-lowercase", gateway: true, headers: []string{"Connection: x-gateway-tenant"}},
		{name: "gateway/client-tenant", gateway: true, headers: []string{"X-Gateway-Tenant: red"}},
		{name: "gateway/client-tenant-and-connection", gateway: true, headers: []string{"X-Gateway-Tenant: red", "Connection: X-Gateway-Tenant"}},
		{name: "gateway/close-and-tenant", gateway: true, headers: []string{"Connection: close, X-Gateway-Tenant"}, closeAfter: true},
		{name: "gateway/connection-xff", gateway: true, headers: []string{"Connection: X-Forwarded-For"}},
		{name: "gateway/upgrade-foo", gateway: true, headers: []string{"Connection: Upgrade", "Upgrade: foo"}},
		{name: "gateway/websocket-control", gateway: true, headers: append([]string{"Connection: Upgrade", "Upgrade: websocket"}, ws...), websocket: true},
	}
}

// TestH1HopByHop checks RFC 9110 §7.6.1 at the edge: fields the client names
// in Connection, and the hop-by-hop fields themselves (Connection,
// Keep-Alive, Proxy-Connection, TE, Transfer-Encoding, Upgrade), do not
// reach the backend; but every field Portico sets itself (X-Forwarded-*,
// Host, a route's RequestHeaderModifier) is applied after that removal, so
// the client cannot strip it (issue 10 #4). Only websocket upgrades are
// tunnelled (issue 10 #7).
func TestH1HopByHop(t *testing.T) {
	t.Parallel()
	s := startHopSetup(t)
	for _, c := range hopCases() {
		t.Run(c.name, func(t *testing.T) {
			s.p.CheckAlive(t)
			host, addr, be := "hop.test", s.p.HTTPAddr, s.ing
			if c.gateway {
				host, addr, be = "gw.test", s.gwAddr, s.gw
			}
			path := "/hop/" + strings.ReplaceAll(c.name, "/", "-")
			raw := edgetest.Req("GET", path, host, c.headers...)
			mark := be.Mark()
			conn := edgetest.Dial(t, addr)
			res := conn.Exchange(raw, 400*time.Millisecond)
			var problems []string
			first := res.First()
			if c.websocket {
				if first == nil || first.Status != 101 || first.Header.Get("X-Backend") != be.Name() {
					problems = append(problems, fmt.Sprintf("websocket upgrade not tunnelled to the backend: got %s", first))
				} else if err := conn.Send("ping"); err != nil {
					problems = append(problems, "writing into the websocket tunnel: "+err.Error())
				} else if b, err := conn.ReadFull(4, 5*time.Second); string(b) != "ping" {
					problems = append(problems, fmt.Sprintf("websocket tunnel echo: got %q, %v; want \"ping\"", b, err))
				}
			} else {
				switch {
				case first == nil:
					problems = append(problems, "no response")
				case first.Status == 101:
					problems = append(problems, fmt.Sprintf("Portico answered 101 to a non-websocket upgrade (%s): only websocket may be tunnelled", first))
				case first.Status != 200:
					problems = append(problems, fmt.Sprintf("status %d; want 200", first.Status))
				}
				if c.closeAfter && !res.Closed {
					problems = append(problems, "the client sent Connection: close but Portico left the connection open")
				}
			}
			time.Sleep(20 * time.Millisecond)
			reqs := be.Since(mark)
			if len(reqs) != 1 {
				problems = append(problems, fmt.Sprintf("the backend received %d requests; want 1", len(reqs)))
			} else {
				problems = append(problems, hopProblems(c, host, reqs[0])...)
			}
			if len(problems) > 0 {
				t.Errorf("sent %s to %s\n  got: %s\n  backend received:%s\n  problems:\n    - %s",
					quote(raw), addr, res, listRequests(reqs), strings.Join(problems, "\n    - "))
			}
		})
	}
	s.p.CheckAlive(t)
}

func hopProblems(c hopCase, host string, r edgetest.Request) []string {
	var problems []string
	// What Portico sets must be there, with Portico's value.
	set := map[string]string{
		"host":              host,
		"x-forwarded-for":   "127.0.0.1",
		"x-forwarded-host":  host,
		"x-forwarded-proto": "http",
	}
	if c.gateway {
		set["x-gateway-tenant"] = "blue"
	}
	for name, want := range set {
		if got := r.Values(name); len(got) != 1 || got[0] != want {
			problems = append(problems, fmt.Sprintf("%s: backend got %q; Portico must set exactly %q whatever the client's Connection says", name, got, want))
		}
	}
	// Hop-by-hop fields must not be forwarded (RFC 9110 §7.6.1), except
	// the Connection/Upgrade pair of a tunnelled websocket, and TE: trailers.
	if !c.websocket {
		for _, name := range []string{"Connection", "Upgrade"} {
			if r.Has(name) {
				problems = append(problems, fmt.Sprintf("hop-by-hop field %s: %q reached the backend", name, r.Values(name)))
			}
		}
		if r.Upgraded {
			problems = append(problems, fmt.Sprintf("the backend switched protocols (101, Upgrade %q) through Portico: only websocket may be tunnelled", r.Get("Upgrade")))
		}
	} else if !strings.EqualFold(r.Get("Upgrade"), "websocket") {
		problems = append(problems, fmt.Sprintf("websocket upgrade forwarded with Upgrade %q", r.Get("Upgrade")))
	}
	for _, name := range []string{"Keep-Alive", "Proxy-Connection", "Transfer-Encoding"} {
		if r.Has(name) {
			problems = append(problems, fmt.Sprintf("hop-by-hop field %s: %q reached the backend", name, r.Values(name)))
		}
	}
	if te := r.Values("TE"); len(te) > 0 && (len(te) != 1 || !strings.EqualFold(te[0], "trailers")) {
		problems = append(problems, fmt.Sprintf("hop-by-hop field TE: %q reached the backend (only \"trailers\" may be passed on)", te))
	}
	// Fields the client named in Connection are removed, unless Portico
	// sets them itself (checked above).
	for _, h := range c.headers {
		name, value, _ := strings.Cut(h, ":")
		if !strings.EqualFold(strings.TrimSpace(name), "Connection") {
			continue
		}
		for _, tok := range strings.Split(value, ",") {
			tok = strings.ToLower(strings.TrimSpace(tok))
			if _, portico := set[tok]; portico || tok == "close" || tok == "keep-alive" || tok == "upgrade" || tok == "" {
				continue
			}
			if r.Has(tok) {
				problems = append(problems, fmt.Sprintf("the client named %s in Connection but it reached the backend (%q)", tok, r.Values(tok)))
			}
		}
	}
	return problems
}

// Spoofing markers: no value the client sends in a forwarding header may
// reach the backend.
var spoofMarkers = []string{"203.0.113.", "evil.example", "spoofed"}

type spoofCase struct {
	name    string
	headers []string
}

func spoofCases() []spoofCase {
	cases := []spoofCase{
		{"x-forwarded-for", []string{"X-Forwarded-For: 203.0.113.1"}},
		{"x-forwarded-for-list", []string{"X-Forwarded-For: 203.0.113.1, 203.0.113.2"}},
		{"x-forwarded-for-twice", []string{"X-Forwarded-For: 203.0.113.1", "X-Forwarded-For: 203.0.113.2"}},
		{"x-forwarded-for-lowercase", []string{"x-forwarded-for: 203.0.113.1"}},
		{"x-forwarded-for-no-space", []string{"X-Forwarded-For:203.0.113.1"}},
		{"x-forwarded-host", []string{"X-Forwarded-Host: evil.example"}},
		{"x-forwarded-proto", []string{"X-Forwarded-Proto: https"}},
		{"forwarded", []string{"Forwarded: for=203.0.113.1;host=evil.example;proto=https"}},
		{"forwarded-lowercase", []string{"forwarded: for=\"[2001:db8::1]\";by=spoofed"}},
		{"x-real-ip", []string{"X-Real-IP: 203.0.113.1"}},
		{"x-real-ip-lowercase", []string{"x-real-ip: 203.0.113.1"}},
		{"true-client-ip", []string{"True-Client-IP: 203.0.113.1"}},
		{"x-client-ip", []string{"X-Client-IP: 203.0.113.1"}},
		{"x-original-url", []string{"X-Original-URL: /admin-spoofed"}},
		{"x-rewrite-url", []string{"X-Rewrite-URL: /admin-spoofed"}},
		{"x-original-forwarded-for", []string{"X-Original-Forwarded-For: 203.0.113.1"}},
		{"x-forwarded-port", []string{"X-Forwarded-Port: 4443"}},
		{"x-forwarded-prefix", []string{"X-Forwarded-Prefix: /spoofed"}},
		{"x-forwarded-server", []string{"X-Forwarded-Server: evil.example"}},
		{"underscore/x_forwarded_for", []string{"X_Forwarded_For: 203.0.113.1"}},
		{"underscore/x_real_ip", []string{"X_Real_IP: 203.0.113.1"}},
		{"underscore/x_forwarded_host", []string{"X_Forwarded_Host: evil.example"}},
		{"underscore/x_forwarded_proto", []string{"X_Forwarded_Proto: spoofed"}},
		{"underscore/mixed-x-forwarded_for", []string{"X-Forwarded_For: 203.0.113.1"}},
		{"underscore/lowercase-x_real_ip", []string{"x_real_ip: 203.0.113.1"}},
		{"underscore/true_client_ip", []string{"True_Client_IP: 203.0.113.1"}},
	}
	var all []string
	for _, c := range cases {
		all = append(all, c.headers...)
	}
	return append(cases, spoofCase{"all-at-once", all})
}

// TestH1SpoofedForwarding sends forwarding headers from a client that is
// not a trusted proxy (Portico runs without --trusted-proxies): the backend
// must see Portico's own X-Forwarded-For (127.0.0.1), -Host and -Proto and
// none of the client's values; client-IP and URL-override headers (X-Real-IP,
// True-Client-IP, X-Client-IP, X-Original-URL, X-Rewrite-URL,
// X-Original-Forwarded-For, Forwarded) must not pass with the client's
// value (nor X-Forwarded-Port/-Prefix/-Server, README "Security"); and
// fields with an underscore in the name are dropped entirely, as
// nginx does by default (CGI/WSGI backends read X_Forwarded_For as
// X-Forwarded-For).
func TestH1SpoofedForwarding(t *testing.T) {
	t.Parallel()
	be := edgetest.NewBackend(t, edgetest.WithName("app"))
	p := edgetest.Start(t, map[string]string{"app.yaml": edgetest.Join(
		edgetest.IngressClass(),
		edgetest.Service("app", be.Addr()),
		edgetest.Ingress("fwd", "fwd.test", edgetest.Path{Path: "/", Service: "app"}),
	)})
	for _, c := range spoofCases() {
		t.Run(c.name, func(t *testing.T) {
			p.CheckAlive(t)
			path := "/fwd/" + strings.ReplaceAll(c.name, "/", "-")
			raw := edgetest.Req("GET", path, "fwd.test", append(c.headers, "Connection: close")...)
			mark := be.Mark()
			res, err := edgetest.Exchange(p.HTTPAddr, raw, time.Second)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
			reqs := be.Since(mark)
			var problems []string
			if first := res.First(); first == nil || first.Status != 200 {
				problems = append(problems, fmt.Sprintf("got %s; want 200", first))
			}
			if len(reqs) != 1 {
				problems = append(problems, fmt.Sprintf("the backend received %d requests; want 1", len(reqs)))
			} else {
				problems = append(problems, spoofProblems(reqs[0], path)...)
			}
			if len(problems) > 0 {
				t.Errorf("sent %s\n  got: %s\n  backend received:%s\n  problems:\n    - %s",
					quote(raw), res, listRequests(reqs), strings.Join(problems, "\n    - "))
			}
		})
	}
	p.CheckAlive(t)
}

func spoofProblems(r edgetest.Request, path string) []string {
	var problems []string
	for name, want := range map[string]string{"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Host": "fwd.test", "X-Forwarded-Proto": "http"} {
		if got := r.Values(name); len(got) != 1 || got[0] != want {
			problems = append(problems, fmt.Sprintf("%s: backend got %q; want exactly Portico's %q", name, got, want))
		}
	}
	if r.Path() != path {
		problems = append(problems, fmt.Sprintf("backend got path %q; want %q (URL-override headers must not change it)", r.Path(), path))
	}
	for _, f := range r.Header {
		if strings.Contains(f.Name, "_") {
			problems = append(problems, fmt.Sprintf("field with an underscore in its name reached the backend: %s: %q", f.Name, f.Value))
			continue
		}
		for _, m := range spoofMarkers {
			if strings.Contains(strings.ToLower(f.Value), m) {
				problems = append(problems, fmt.Sprintf("the client's value reached the backend in %s: %q", f.Name, f.Value))
				break
			}
		}
	}
	for _, name := range []string{"X-Real-IP", "True-Client-IP", "X-Client-IP"} {
		if v := r.Values(name); len(v) > 0 && (len(v) != 1 || v[0] != "127.0.0.1") {
			problems = append(problems, fmt.Sprintf("%s: %q reached the backend; it must be absent or Portico's 127.0.0.1", name, v))
		}
	}
	for _, name := range []string{"X-Original-URL", "X-Rewrite-URL", "X-Original-Forwarded-For", "X-Forwarded-Port", "X-Forwarded-Prefix", "X-Forwarded-Server"} {
		if r.Has(name) {
			problems = append(problems, fmt.Sprintf("%s: %q reached the backend from an untrusted client", name, r.Values(name)))
		}
	}
	if v := r.Values("Forwarded"); len(v) > 0 && (len(v) != 1 || !strings.Contains(v[0], "for=127.0.0.1")) {
		problems = append(problems, fmt.Sprintf("Forwarded: %q reached the backend; it must be absent or Portico's own", v))
	}
	return problems
}
