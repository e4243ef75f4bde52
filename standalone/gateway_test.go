package standalone

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portico-dev/portico/controllers/translate"
	certs "github.com/portico-dev/portico/tls"
)

func gatewayManifests(port int, blue, green string) string {
	svc := func(name, addr string) string {
		host, p, _ := net.SplitHostPort(addr)
		return fmt.Sprintf(`---
apiVersion: v1
kind: Service
metadata: {name: %[1]s, namespace: demo}
spec: {ports: [{port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: %[1]s-1, namespace: demo, labels: {kubernetes.io/service-name: %[1]s}}
addressType: IPv4
ports: [{port: %[3]s}]
endpoints: [{addresses: ["%[2]s"]}]
`, name, host, p)
	}
	return fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: portico}
spec: {controllerName: portico.dev/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: demo}
spec:
  gatewayClassName: portico
  listeners: [{name: http, port: %d, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: demo}
spec:
  parentRefs: [{name: gw}]
  hostnames: [shop.example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: /api}, headers: [{name: env, value: canary}]}]
    backendRefs: [{name: green, port: 80}]
  - matches: [{path: {type: Exact, value: /orders}, method: POST}]
    backendRefs: [{name: green, port: 80}]
  - matches: [{path: {type: PathPrefix, value: /missing}}]
    backendRefs: [{name: nope, port: 80}]
  - backendRefs: [{name: blue, port: 80}]
`, port) + svc("blue", blue) + svc("green", green)
}

// TestRunServesGateways serves a Gateway from files on its own pool
// address and checks HTTPRoute matching with real requests.
func TestRunServesGateways(t *testing.T) {
	mk := func(name string) string {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, name) }))
		t.Cleanup(s.Close)
		return strings.TrimPrefix(s.URL, "http://")
	}
	blue, green := mk("blue"), mk("green")
	l, err := net.Listen("tcp", "127.0.9.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "gw.yaml"), []byte(gatewayManifests(port, blue, green)), 0o644); err != nil {
		t.Fatal(err)
	}
	bound := make(chan string, 4)
	var out syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, withTestEngine(Options{
			Dir: dir, Translate: translate.Options{GatewayControllerName: "portico.dev/gateway-controller"},
			Interval: 20 * time.Millisecond, GatewayPool: netip.MustParsePrefix("127.0.9.0/24"),
			Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Out: &out,
			OnListening: func(name string, a net.Addr) { bound <- name + "=" + a.String() },
		}))
	}()
	var addr string
	select {
	case b := <-bound:
		key, a, _ := strings.Cut(b, "=")
		if key != fmt.Sprintf("Gateway/demo/gw:%d", port) {
			t.Fatalf("bound %q", b)
		}
		addr = a
	case <-time.After(10 * time.Second):
		t.Fatal("gateway listener not bound")
	}
	if addr != fmt.Sprintf("127.0.9.1:%d", port) {
		t.Fatalf("gateway bound on %s, want the pool's first address", addr)
	}
	do := func(method, path string, hdr ...string) (int, string) {
		req, _ := http.NewRequest(method, "http://"+addr+path, nil)
		req.Host = "shop.example.com"
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	cases := []struct {
		method, path string
		hdr          []string
		code         int
		body         string
	}{
		{"GET", "/api/x", nil, 200, "blue"},
		{"GET", "/api/x", []string{"env", "canary"}, 200, "green"},
		{"POST", "/orders", nil, 200, "green"},
		{"GET", "/orders", nil, 200, "blue"},
		{"GET", "/missing", nil, 500, ""},
	}
	for _, c := range cases {
		if code, body := do(c.method, c.path, c.hdr...); code != c.code || (c.body != "" && body != c.body) {
			t.Errorf("%s %s %v: %d %q, want %d %q", c.method, c.path, c.hdr, code, body, c.code, c.body)
		}
	}
	req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
	req.Host = "other.example.com"
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 404 {
		t.Fatalf("unknown host: %v %v", resp, err)
	}
	// The status lines are written as the listener comes up: wait for
	// both rather than reading the output once the first is there.
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(out.String(), "Gateway/demo/gw: address 127.0.9.1") ||
		!strings.Contains(out.String(), "FAIL HTTPRoute/demo/r parent gw: Accepted=True (Accepted); ResolvedRefs=False (BackendNotFound)"); {
		if time.Now().After(deadline) {
			t.Fatalf("address or route status not printed:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestRunServesGatewayHTTPS terminates TLS on a Gateway's HTTPS listener
// with the certificate its certificateRefs name.
func TestRunServesGatewayHTTPS(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "secure backend") }))
	defer be.Close()
	host, bport, _ := net.SplitHostPort(strings.TrimPrefix(be.URL, "http://"))
	cert, err := certs.SelfSigned("secure.example.com")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	crtPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key})
	l, err := net.Listen("tcp", "127.0.9.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	manifest := fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: portico}
spec: {controllerName: portico.dev/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: tls, namespace: demo}
spec:
  gatewayClassName: portico
  addresses: [{type: IPAddress, value: 127.0.9.1}]
  listeners:
  - {name: https, port: %d, protocol: HTTPS, hostname: secure.example.com, tls: {certificateRefs: [{name: secure-tls}]}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: demo}
spec:
  parentRefs: [{name: tls}]
  rules: [{backendRefs: [{name: app, port: 80}]}]
---
apiVersion: v1
kind: Secret
metadata: {name: secure-tls, namespace: demo}
type: kubernetes.io/tls
data: {tls.crt: %s, tls.key: %s}
---
apiVersion: v1
kind: Service
metadata: {name: app, namespace: demo}
spec: {ports: [{port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: app-1, namespace: demo, labels: {kubernetes.io/service-name: app}}
addressType: IPv4
ports: [{port: %s}]
endpoints: [{addresses: ["%s"]}]
`, port, base64.StdEncoding.EncodeToString(crtPEM), base64.StdEncoding.EncodeToString(keyPEM), bport, host)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "gw.yaml"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	bound := make(chan string, 2)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, withTestEngine(Options{Dir: dir, Translate: translate.Options{GatewayControllerName: "portico.dev/gateway-controller"},
			Interval: 20 * time.Millisecond, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Out: io.Discard,
			OnListening: func(_ string, a net.Addr) { bound <- a.String() }}))
	}()
	var addr string
	select {
	case addr = <-bound:
	case <-time.After(10 * time.Second):
		t.Fatal("HTTPS gateway listener not bound")
	}
	c := &http.Client{Transport: &http.Transport{ForceAttemptHTTP2: true,
		TLSClientConfig: &tls.Config{ServerName: "secure.example.com", InsecureSkipVerify: true}}}
	req, _ := http.NewRequest("GET", "https://"+addr+"/", nil)
	req.Host = "secure.example.com"
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "secure backend" || !resp.TLS.PeerCertificates[0].Equal(cert.Leaf) || resp.ProtoMajor != 2 {
		t.Fatalf("HTTPS gateway: %q proto %s, certificate from the Secret: %v", body, resp.Proto, resp.TLS.PeerCertificates[0].Equal(cert.Leaf))
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestRunServesGatewayL4 serves a TLS passthrough listener (TLSRoute by
// SNI) and a TCP listener (TCPRoute) on a Gateway's pool address.
func TestRunServesGatewayL4(t *testing.T) {
	up := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "terminated by backend for %s", r.TLS.ServerName)
	}))
	defer up.Close()
	echo := echoServer(t)
	free := func() int {
		l, err := net.Listen("tcp", "127.0.9.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	}
	tlsPort, tcpPort, termPort := free(), free(), free()
	cert, err := certs.SelfSigned("stream.example.com")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	crtPEM := base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}))
	keyPEM := base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}))
	upHost, upPort, _ := net.SplitHostPort(strings.TrimPrefix(up.URL, "https://"))
	_, echoPort, _ := net.SplitHostPort(echo.Addr().String())
	manifest := fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: portico}
spec: {controllerName: portico.dev/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: demo}
spec:
  gatewayClassName: portico
  addresses: [{type: IPAddress, value: 127.0.9.1}]
  listeners:
  - {name: tls, port: %d, protocol: TLS, tls: {mode: Passthrough}}
  - {name: tcp, port: %d, protocol: TCP}
  - {name: term, port: %d, protocol: TLS, tls: {mode: Terminate, certificateRefs: [{name: stream-tls}]}}
---
apiVersion: v1
kind: Secret
metadata: {name: stream-tls, namespace: demo}
type: kubernetes.io/tls
data: {tls.crt: %s, tls.key: %s}
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: stream, namespace: demo}
spec:
  parentRefs: [{name: edge, sectionName: term}]
  hostnames: [stream.example.com]
  rules: [{backendRefs: [{name: echo, port: 7}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: pass, namespace: demo}
spec:
  parentRefs: [{name: edge, sectionName: tls}]
  hostnames: [pass.example.com]
  rules: [{backendRefs: [{name: up, port: 443}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: TCPRoute
metadata: {name: echo, namespace: demo}
spec:
  parentRefs: [{name: edge, sectionName: tcp}]
  rules: [{backendRefs: [{name: echo, port: 7}]}]
---
apiVersion: v1
kind: Service
metadata: {name: up, namespace: demo}
spec: {ports: [{port: 443}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: up-1, namespace: demo, labels: {kubernetes.io/service-name: up}}
addressType: IPv4
ports: [{port: %s}]
endpoints: [{addresses: ["%s"]}]
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: demo}
spec: {ports: [{port: 7}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: echo-1, namespace: demo, labels: {kubernetes.io/service-name: echo}}
addressType: IPv4
ports: [{port: %s}]
endpoints: [{addresses: ["127.0.0.1"]}]
`, tlsPort, tcpPort, termPort, crtPEM, keyPEM, upPort, upHost, echoPort)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "gw.yaml"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	bound := make(chan string, 2)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, withTestEngine(Options{Dir: dir, Translate: translate.Options{GatewayControllerName: "portico.dev/gateway-controller"},
			Interval: 20 * time.Millisecond, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Out: io.Discard,
			OnListening: func(_ string, a net.Addr) { bound <- a.String() }}))
	}()
	for range 3 {
		select {
		case <-bound:
		case <-time.After(10 * time.Second):
			t.Fatal("L4 gateway listeners not bound")
		}
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{ServerName: "pass.example.com", InsecureSkipVerify: true}}}
	resp, err := c.Get(fmt.Sprintf("https://127.0.9.1:%d/", tlsPort))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "terminated by backend for pass.example.com" {
		t.Fatalf("TLS passthrough: %q", body)
	}
	// An SNI no TLSRoute names is closed.
	if _, err := tls.Dial("tcp", fmt.Sprintf("127.0.9.1:%d", tlsPort), &tls.Config{ServerName: "nope.example.com", InsecureSkipVerify: true}); err == nil {
		t.Fatal("unknown SNI was served")
	}
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.9.1:%d", tcpPort))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(conn, "ping")
	conn.(*net.TCPConn).CloseWrite()
	got, _ := io.ReadAll(conn)
	conn.Close()
	if string(got) != "ping" {
		t.Fatalf("TCP: %q", got)
	}
	// TLS Terminate: the gateway's certificate, then the plaintext stream.
	tc, err := tls.Dial("tcp", fmt.Sprintf("127.0.9.1:%d", termPort), &tls.Config{ServerName: "stream.example.com", InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	if !tc.ConnectionState().PeerCertificates[0].Equal(cert.Leaf) {
		t.Fatal("TLS Terminate listener did not present the Secret's certificate")
	}
	fmt.Fprint(tc, "hello")
	buf := make([]byte, 5)
	if _, err := io.ReadFull(tc, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("terminated stream: %q %v", buf, err)
	}
	tc.Close()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
