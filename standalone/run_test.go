package standalone

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portico-dev/portico/controllers/translate"
)

func manifests(host, port, path string) string {
	return fmt.Sprintf(`apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: portico}
spec: {controller: portico.dev/ingress-controller}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: app}
spec:
  ingressClassName: portico
  rules:
  - host: %s
    http:
      paths: [{path: %s, pathType: Prefix, backend: {service: {name: app, port: {number: 80}}}}]
---
apiVersion: v1
kind: Service
metadata: {name: app}
spec: {ports: [{port: 80}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: app-1, labels: {kubernetes.io/service-name: app}}
addressType: IPv4
ports: [{port: %s}]
endpoints: [{addresses: [%s]}]
`, host, path, port, "127.0.0.1")
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRunServesAndReloads runs standalone mode on a temporary directory:
// it serves, reloads on change, and keeps the last good config when a file
// is broken.
func TestRunServesAndReloads(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "app "+r.URL.Path)
	}))
	defer be.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(be.URL, "http://"))
	dir := t.TempDir()
	file := filepath.Join(dir, "app.yaml")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(file+".tmp", []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(file+".tmp", file); err != nil {
			t.Fatal(err)
		}
	}
	write(manifests("a.example.com", port, "/"))

	addrs := make(chan string, 3)
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, withTestEngine(Options{
			Dir:       dir,
			Translate: translate.Options{ControllerName: "portico.dev/ingress-controller", IngressClass: "portico"},
			HTTPAddr:  "127.0.0.1:0", AdminAddr: "127.0.0.1:0",
			Interval: 20 * time.Millisecond,
			Log:      slog.New(slog.NewTextHandler(&logs, nil)),
			Out:      io.Discard,
			OnListening: func(name string, a net.Addr) {
				addrs <- name + "=" + a.String()
			},
		}))
	}()
	var httpAddr, adminAddr string
	for range 2 {
		select {
		case a := <-addrs:
			name, addr, _ := strings.Cut(a, "=")
			if name == "http" {
				httpAddr = addr
			} else {
				adminAddr = addr
			}
		case <-time.After(10 * time.Second):
			t.Fatal("listeners did not start")
		}
	}
	get := func(host, path string) (int, string) {
		req, _ := http.NewRequest("GET", "http://"+httpAddr+path, nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	waitFor := func(host, path string, code int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			c, b := get(host, path)
			if c == code {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s%s: %d %q, want %d; log:\n%s", host, path, c, b, code, logs.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("a.example.com", "/x", 200)
	resp, err := http.Get("http://" + adminAddr + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz: %v %v", resp, err)
	}
	resp.Body.Close()

	write(manifests("b.example.com", port, "/"))
	waitFor("b.example.com", "/x", 200)
	waitFor("a.example.com", "/x", 404)

	// A broken file is reported with its name and line; b keeps serving.
	if err := os.WriteFile(filepath.Join(dir, "broken.yaml"), []byte("kind: Service\napiVersion: v1\nmetadata: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "broken.yaml:3") {
		if time.Now().After(deadline) {
			t.Fatalf("broken file not reported with file:line; log:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	waitFor("b.example.com", "/x", 200)

	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestParseReportsLines(t *testing.T) {
	data := "# comment\n---\napiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\n\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: b\n  labels: {x: [}\n"
	_, _, err := Parse("f.yaml", []byte(data))
	var fe *FileError
	if !errors.As(err, &fe) || fe.Line != 12 {
		t.Fatalf("err = %v, want a FileError at line 12", err)
	}
	objs, ignored, err := Parse("g.yaml", []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\n"))
	if err != nil || len(objs) != 1 || len(ignored) != 1 || ignored[0] != "apps/v1 Deployment" {
		t.Fatalf("objs %d ignored %v err %v", len(objs), ignored, err)
	}
}
