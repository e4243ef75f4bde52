package router

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/propagators/b3"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func testTracing() (*Tracing, *tracetest.SpanRecorder) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	return &Tracing{Tracer: tp.Tracer("portico"),
		Extract: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, b3.New()),
		Inject:  propagation.TraceContext{}}, rec
}

// spanAttr returns a span's attribute as text ("" when absent).
func spanAttr(s sdktrace.ReadOnlySpan, key string) string {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.String()
		}
	}
	return ""
}

// TestTracing: a traced request continues the client's trace (W3C or B3),
// gets a server span named by its route, a client span per upstream
// attempt (a failed connect and its retry, each its own), a mirror span,
// and the backend receives the attempt's trace context; the access log
// carries the trace id. On both HTTP/1 engines and over HTTP/2.
func TestTracing(t *testing.T) {
	var mu sync.Mutex
	var seen []string // traceparent headers the backend received
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Traceparent"))
		mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	}))
	defer be.Close()
	mirrored := make(chan string, 4)
	mirror := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mirrored <- r.Header.Get("Traceparent")
	}))
	defer mirror.Close()
	// Round robin starts at the second endpoint: the dead one, so the
	// request is retried on the first.
	bk := &Backend{Name: "app", Endpoints: []Endpoint{{addr(be)}, {deadAddr(t)}}}
	src := Source{Kind: "HTTPRoute", Namespace: "shop", Name: "web", Rule: 0, Path: -1}
	cfg := Config{Routes: []Route{{Host: "app.example", HostMatch: HostExact, Path: "/", Source: src,
		Backends: []WeightedBackend{{Backend: bk, Weight: 1}},
		Mirrors:  []Mirror{{Backend: &Backend{Name: "shadow", Endpoints: []Endpoint{{addr(mirror)}}}, Fraction: 1}}}}}
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	cases := []struct {
		name   string
		engine Engine
		h2     bool
		hdr    [2]string
	}{
		{"fast w3c", EngineFast, false, [2]string{"Traceparent", "00-" + traceID + "-00f067aa0ba902b7-01"}},
		{"std w3c", EngineStd, false, [2]string{"Traceparent", "00-" + traceID + "-00f067aa0ba902b7-01"}},
		{"h2 w3c", EngineFast, true, [2]string{"Traceparent", "00-" + traceID + "-00f067aa0ba902b7-01"}},
		{"fast b3", EngineFast, false, [2]string{"B3", traceID + "-00f067aa0ba902b7-1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr, rec := testTracing()
			var logs bytes.Buffer
			rt := New(Options{Tracing: tr, Edge: EdgeOptions{Engine: tc.engine}, AccessLog: slog.New(slog.NewJSONHandler(&logs, nil))})
			rt.Swap(Compile(cfg))
			front := "http://" + startStrict(t, rt)
			c := http.DefaultClient
			if tc.h2 {
				c = h2cClient()
			}
			mu.Lock()
			seen = nil
			mu.Unlock()
			req, _ := http.NewRequest("GET", front+"/cart", nil)
			req.Host = "app.example"
			req.Header.Set(tc.hdr[0], tc.hdr[1])
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			var mirrorTP string
			select {
			case mirrorTP = <-mirrored:
			case <-time.After(5 * time.Second):
				t.Fatal("mirror not called")
			}
			var spans []sdktrace.ReadOnlySpan
			for i := 0; i < 500 && len(spans) < 4; i++ { // the mirror's span ends after its answer
				spans = rec.Ended()
				time.Sleep(10 * time.Millisecond)
			}
			var server sdktrace.ReadOnlySpan
			var attempts, mirrors []sdktrace.ReadOnlySpan
			for _, s := range spans {
				if s.SpanContext().TraceID().String() != traceID {
					t.Errorf("span %q is in trace %s, not the client's", s.Name(), s.SpanContext().TraceID())
				}
				switch {
				case s.SpanKind() == trace.SpanKindServer:
					server = s
				case s.Name() == "upstream":
					attempts = append(attempts, s)
				case s.Name() == "mirror":
					mirrors = append(mirrors, s)
				}
			}
			if server == nil || server.Name() != "GET "+src.String() || spanAttr(server, "http.route") != src.String() ||
				spanAttr(server, "http.response.status_code") != "200" || server.Parent().SpanID().String() != "00f067aa0ba902b7" {
				t.Fatalf("server span: %+v", server)
			}
			if len(attempts) != 2 || len(mirrors) != 1 {
				t.Fatalf("%d upstream attempts and %d mirrors, want 2 (a failed connect, its retry) and 1", len(attempts), len(mirrors))
			}
			for _, s := range append(attempts, mirrors...) {
				if s.Parent().SpanID() != server.SpanContext().SpanID() || s.SpanKind() != trace.SpanKindClient {
					t.Errorf("%s span is not the server span's client child", s.Name())
				}
			}
			if spanAttr(attempts[1], "http.request.resend_count") != "1" || spanAttr(attempts[1], "http.response.status_code") != "200" ||
				len(attempts[0].Events()) == 0 {
				t.Errorf("attempts: first %v %v, second %v", attempts[0].Status(), attempts[0].Events(), attempts[1].Attributes())
			}
			mu.Lock()
			got := seen
			mu.Unlock()
			want := "00-" + traceID + "-" + attempts[1].SpanContext().SpanID().String() + "-01"
			if len(got) != 1 || got[0] != want {
				t.Errorf("backend got traceparent %q, want the attempt's %q", got, want)
			}
			if !strings.Contains(mirrorTP, mirrors[0].SpanContext().SpanID().String()) {
				t.Errorf("mirror got traceparent %q", mirrorTP)
			}
			if !strings.Contains(logs.String(), `"trace_id":"`+traceID+`"`) {
				t.Errorf("access log without the trace id: %s", logs.String())
			}
		})
	}
}

// TestTracingOffSendsClientContext: without Tracing, a client's trace
// context reaches the backend untouched (Portico is then invisible).
func TestTracingOffSendsClientContext(t *testing.T) {
	got := make(chan string, 1)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r.Header.Get("Traceparent") }))
	defer be.Close()
	_, front := serveTable(t, Config{Routes: []Route{{Path: "/", Backends: []WeightedBackend{{Backend: &Backend{Name: "a", Endpoints: []Endpoint{{addr(be)}}}, Weight: 1}}}}}, Options{})
	tp := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	if code, _ := get(t, front.URL, "x", "Traceparent", tp); code != 200 {
		t.Fatal(code)
	}
	if v := <-got; v != tp {
		t.Fatalf("backend got %q", v)
	}

}
