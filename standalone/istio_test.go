package standalone

import (
	"crypto/tls"
	"fmt"
	"io"
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
)

// TestRunServesIstioSeed serves the Istio objects of seed document 004
// verbatim (examples/istio/seed.yaml): the HTTP host route on port 80, the
// PASSTHROUGH route by SNI on 443 and the TCP route on 21000, each Gateway
// on its own loopback address, with real backends.
func TestRunServesIstioSeed(t *testing.T) {
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "kratos %s %s", r.Host, r.URL.Path)
	}))
	defer web.Close()
	es := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "es terminated for %s", r.TLS.ServerName)
	}))
	defer es.Close()
	echo := echoServer(t)
	port := func(a string) string { _, p, _ := net.SplitHostPort(a); return p }
	seed, err := os.ReadFile("../examples/istio/seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	endpoints := fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: test-kratos-service}
spec: {ports: [{name: http-80, port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: k-1, labels: {kubernetes.io/service-name: test-kratos-service}}
addressType: IPv4
ports: [{name: http-80, port: %s}]
endpoints: [{addresses: ["127.0.0.1"]}]
---
apiVersion: v1
kind: Service
metadata: {name: es-dc-product-es-http}
spec: {ports: [{name: https, port: 9200}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: es-1, labels: {kubernetes.io/service-name: es-dc-product-es-http}}
addressType: IPv4
ports: [{name: https, port: %s}]
endpoints: [{addresses: ["127.0.0.1"]}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: dc-1, labels: {kubernetes.io/service-name: data-center-service}}
addressType: IPv4
ports: [{name: http-80, port: 1}, {name: grpc-21000, port: %s}]
endpoints: [{addresses: ["127.0.0.1"]}]
`, port(web.Listener.Addr().String()), port(es.Listener.Addr().String()), port(echo.Addr().String()))
	dir := t.TempDir()
	for name, data := range map[string][]byte{"seed.yaml": seed, "endpoints.yaml": []byte(endpoints)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bound := startRun(t, Options{Dir: dir,
		Translate:   translate.Options{Istio: &translate.IstioOptions{Selector: map[string]string{"istio": "ingressgateway"}, PerGateway: true}},
		GatewayPool: netip.MustParsePrefix("127.0.12.0/24"), Interval: 20 * time.Millisecond}, 3)
	httpAddr := bound["IstioGateway/default/test-kratos-gateway:80"]
	tlsAddr := bound["IstioGateway/default/es-gateway:443"]
	tcpAddr := bound["IstioGateway/default/data-center-grpc-gateway:21000"]
	if !strings.HasSuffix(httpAddr, ":80") || !strings.HasSuffix(tlsAddr, ":443") || !strings.HasSuffix(tcpAddr, ":21000") ||
		httpAddr[:len(httpAddr)-3] == tlsAddr[:len(tlsAddr)-4] {
		t.Fatalf("each Gateway on its own address at its server port: %v", bound)
	}

	req, _ := http.NewRequest("GET", "http://"+httpAddr+"/api/x", nil)
	req.Host = "test-kratos.private.aminer.cn"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "kratos test-kratos.private.aminer.cn /api/x" {
		t.Fatalf("HTTP route: %d %q", resp.StatusCode, body)
	}
	req.Host = "other.example.com"
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 404 {
		t.Fatalf("unknown host: %v %v", resp, err)
	}

	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{ServerName: "es.dc.product", InsecureSkipVerify: true}}}
	resp, err = c.Get("https://" + tlsAddr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "es terminated for es.dc.product" {
		t.Fatalf("PASSTHROUGH route: %q", body)
	}

	conn, err := net.Dial("tcp", tcpAddr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprint(conn, "grpc bytes")
	conn.(*net.TCPConn).CloseWrite()
	got, _ := io.ReadAll(conn)
	conn.Close()
	if string(got) != "grpc bytes" {
		t.Fatalf("TCP route: %q", got)
	}
}

// echoServer is a loopback TCP server echoing every connection, closed
// when the test ends.
func echoServer(t *testing.T) net.Listener {
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
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	return ln
}
