package dataplane

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/portico-dev/portico/router"
)

// collector is an OTLP trace receiver: it keeps the spans it is sent.
type collector struct {
	coltrace.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans []*tracepb.Span
	attrs map[string]string // resource attributes
}

func (c *collector) Export(_ context.Context, req *coltrace.ExportTraceServiceRequest) (*coltrace.ExportTraceServiceResponse, error) {
	c.add(req)
	return &coltrace.ExportTraceServiceResponse{}, nil
}

func (c *collector) add(req *coltrace.ExportTraceServiceRequest) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.attrs == nil {
		c.attrs = map[string]string{}
	}
	for _, rs := range req.ResourceSpans {
		for _, kv := range rs.GetResource().GetAttributes() {
			c.attrs[kv.Key] = kv.Value.GetStringValue()
		}
		for _, ss := range rs.ScopeSpans {
			c.spans = append(c.spans, ss.Spans...)
		}
	}
}

func (c *collector) got() ([]*tracepb.Span, map[string]string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*tracepb.Span(nil), c.spans...), c.attrs
}

// TestTracingExportsOTLP: with each exporter, a proxied request's spans
// reach an OTLP collector — a server span and its client child in one
// trace, with their attributes and Portico's resource attributes — and a
// ratio of 0 samples nothing new while a sampled parent is followed.
func TestTracingExportsOTLP(t *testing.T) {
	for _, exporter := range []string{"otlp-grpc", "otlp-http"} {
		t.Run(exporter, func(t *testing.T) {
			col := &collector{}
			endpoint := startCollector(t, exporter, col)
			tr, flush, err := NewTracing(context.Background(), TracingOptions{Exporter: exporter, Endpoint: endpoint,
				Insecure: true, SampleRatio: 1, ServiceVersion: "test", Attributes: map[string]string{"deployment.environment": "ci"}})
			if err != nil {
				t.Fatal(err)
			}
			proxyOnce(t, tr, "")
			if err := flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			spans, attrs := col.got()
			if len(spans) != 2 {
				t.Fatalf("collector got %d spans, want a server and a client span", len(spans))
			}
			server, client := spans[0], spans[1]
			if server.Kind != tracepb.Span_SPAN_KIND_SERVER {
				server, client = client, server
			}
			if server.Kind != tracepb.Span_SPAN_KIND_SERVER || client.Kind != tracepb.Span_SPAN_KIND_CLIENT ||
				string(client.ParentSpanId) != string(server.SpanId) || string(client.TraceId) != string(server.TraceId) {
				t.Fatalf("spans not linked: server %v client %v", server, client)
			}
			if server.Name != "GET Ingress/default/app#rule0.path0" {
				t.Errorf("server span name %q", server.Name)
			}
			if attrs["service.name"] != "portico" || attrs["service.version"] != "test" || attrs["deployment.environment"] != "ci" {
				t.Errorf("resource attributes %v", attrs)
			}
		})
	}
}

func TestTracingSampling(t *testing.T) {
	col := &collector{}
	endpoint := startCollector(t, "otlp-grpc", col)
	tr, flush, err := NewTracing(context.Background(), TracingOptions{Exporter: "otlp-grpc", Endpoint: endpoint, Insecure: true, SampleRatio: 0})
	if err != nil {
		t.Fatal(err)
	}
	proxyOnce(t, tr, "")                                                        // a new trace: not sampled
	proxyOnce(t, tr, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01") // a sampled parent: followed
	if err := flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans, _ := col.got()
	if len(spans) != 2 {
		t.Fatalf("got %d spans, want the 2 of the request with a sampled parent", len(spans))
	}
	for _, s := range spans {
		if got := proto.Clone(s).(*tracepb.Span).TraceId; len(got) != 16 || got[0] != 0x4b {
			t.Errorf("span of trace %x", got)
		}
	}
}

func TestTracingOptionsRefused(t *testing.T) {
	if _, _, err := NewTracing(context.Background(), TracingOptions{Exporter: "zipkin"}); err == nil {
		t.Error("unknown exporter accepted")
	}
	if _, _, err := NewTracing(context.Background(), TracingOptions{Exporter: "otlp-grpc", SampleRatio: 2}); err == nil {
		t.Error("sample ratio 2 accepted")
	}
	if tr, _, err := NewTracing(context.Background(), TracingOptions{Exporter: "none"}); tr != nil || err != nil {
		t.Errorf("none: %v %v", tr, err)
	}
	if _, err := ParseAttributes("a=1,b"); err == nil {
		t.Error("attribute without = accepted")
	}
}

// startCollector serves col over OTLP/gRPC or OTLP/HTTP (protobuf) on
// loopback and returns the exporter's endpoint.
func startCollector(t *testing.T, exporter string, col *collector) string {
	t.Helper()
	if exporter == "otlp-http" {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			var req coltrace.ExportTraceServiceRequest
			if r.URL.Path != "/v1/traces" || proto.Unmarshal(b, &req) != nil {
				http.Error(w, "bad export", http.StatusBadRequest)
				return
			}
			col.add(&req)
			w.Header().Set("Content-Type", "application/x-protobuf")
			out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
			_, _ = w.Write(out)
		}))
		t.Cleanup(s.Close)
		return strings.TrimPrefix(s.URL, "http://")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	coltrace.RegisterTraceServiceServer(gs, col)
	go func() { _ = gs.Serve(ln) }()
	t.Cleanup(gs.Stop)
	return ln.Addr().String()
}

// proxyOnce sends one request through a Router traced by tr to a backend,
// with the client's traceparent when given.
func proxyOnce(t *testing.T, tr *router.Tracing, traceparent string) {
	t.Helper()
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }))
	defer be.Close()
	rt := router.New(router.Options{Tracing: tr})
	rt.Swap(router.Compile(router.Config{Routes: []router.Route{{Path: "/", Source: router.Source{Kind: "Ingress", Namespace: "default", Name: "app"},
		Backends: []router.WeightedBackend{{Backend: &router.Backend{Name: "app", Endpoints: []router.Endpoint{{Address: strings.TrimPrefix(be.URL, "http://")}}}, Weight: 1}}}}}))
	front := httptest.NewServer(rt)
	defer front.Close()
	req, _ := http.NewRequest("GET", front.URL+"/", nil)
	if traceparent != "" {
		req.Header.Set("Traceparent", traceparent)
	}
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
}
