package router

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestMetricsAndAccessLog(t *testing.T) {
	a := backendServer(t, "a")
	bk := &Backend{Name: "ns/a:80", Endpoints: []Endpoint{{addr(a)}}}
	m := NewMetrics(prometheus.NewRegistry())
	var logs lockedBuffer
	rt, front := serveTable(t, Config{Routes: []Route{{Host: "foo.com", HostMatch: HostExact, Path: "/",
		Backends: []WeightedBackend{{Backend: bk, Weight: 1}}, Source: Source{Kind: "Ingress", Namespace: "ns", Name: "web", Rule: 0, Path: 0}}}},
		Options{Metrics: m, AccessLog: slog.New(slog.NewJSONHandler(&logs, nil))})
	for range 3 {
		get(t, front.URL+"/x", "foo.com")
	}
	get(t, front.URL+"/x", "nowhere.com")

	// Metrics and the log are written after the response is sent.
	for i := 0; i < 200 && len(strings.Split(strings.TrimSpace(logs.String()), "\n")) < 4; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues("Ingress/ns/web", "ns/a:80", "200")); got != 3 {
		t.Fatalf("requests{200} = %v, want 3", got)
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues("", "", "404")); got != 1 {
		t.Fatalf("requests{404} = %v, want 1", got)
	}
	if g := testutil.ToFloat64(m.generation); g != 1 || rt.Table().Generation != 1 {
		t.Fatalf("generation gauge %v", g)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("access log lines = %d", len(lines))
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["status"] != 200.0 || rec["route"] != "Ingress/ns/web#rule0.path0" || rec["backend"] != "ns/a:80" || rec["path"] != "/x" {
		t.Fatalf("access log record %v", rec)
	}
}

// A route with NoAccessLog writes no access-log line; others still do.
func TestNoAccessLogRoute(t *testing.T) {
	a := backendServer(t, "a")
	bk := &Backend{Name: "ns/a:80", Endpoints: []Endpoint{{addr(a)}}}
	var logs lockedBuffer
	_, front := serveTable(t, Config{Routes: []Route{
		{Host: "quiet.com", HostMatch: HostExact, Path: "/", NoAccessLog: true,
			Backends: []WeightedBackend{{Backend: bk, Weight: 1}}, Source: Source{Kind: "Ingress", Namespace: "ns", Name: "quiet"}},
		{Host: "loud.com", HostMatch: HostExact, Path: "/",
			Backends: []WeightedBackend{{Backend: bk, Weight: 1}}, Source: Source{Kind: "Ingress", Namespace: "ns", Name: "loud"}}}},
		Options{AccessLog: slog.New(slog.NewJSONHandler(&logs, nil))})
	get(t, front.URL+"/x", "quiet.com")
	get(t, front.URL+"/x", "loud.com")
	for i := 0; i < 200 && !strings.Contains(logs.String(), "loud.com"); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	if s := logs.String(); strings.Contains(s, "quiet.com") || !strings.Contains(s, "loud.com") {
		t.Fatalf("access log:\n%s", s)
	}
}
