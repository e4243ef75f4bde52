package router

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

func benchTracing(s sdktrace.Sampler) *Tracing {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(s))
	return &Tracing{Tracer: tp.Tracer("bench"), Extract: propagation.TraceContext{}, Inject: propagation.TraceContext{}}
}

// BenchmarkFeatures prices what a route's features add to a keep-alive
// request on the fast engine: each case is "bare" plus one feature, so its
// difference to "bare" (ns/op, allocs/op) is that feature's cost.
func BenchmarkFeatures(b *testing.B) {
	be := rawBackend(b)
	var eps []Endpoint
	for range 3 {
		eps = append(eps, Endpoint{be})
	}
	outlier := &Outlier{Consecutive5xx: 5, BaseEjection: time.Second, MaxEjectionPercent: 50}
	route := func(mod func(*Route)) Config {
		r := Route{Host: "foo.com", HostMatch: HostExact, Path: "/",
			Backends: []WeightedBackend{{Backend: &Backend{Name: "b", Endpoints: []Endpoint{{be}}}, Weight: 1}}}
		if mod != nil {
			mod(&r)
		}
		return Config{Routes: []Route{r}}
	}
	balanced := func(bal *Balancing) func(*Route) {
		return func(r *Route) { r.Backends[0].Backend = &Backend{Name: "b", Endpoints: eps, Balancing: bal} }
	}
	cases := []struct {
		name string
		cfg  Config
		opts func() Options
	}{
		{"bare", route(nil), nil},
		{"request-headers", route(func(r *Route) {
			r.RequestHeaders = &HeaderOps{Set: []Header{{"X-Tenant", "a"}}, Add: []Header{{"X-Trace", "1"}}, Remove: []string{"Accept"}}
		}), nil},
		{"response-headers", route(func(r *Route) {
			r.ResponseHeaders = &HeaderOps{Set: []Header{{"X-Served-By", "portico"}}, Remove: []string{"Content-Type"}}
		}), nil},
		{"rewrite-prefix", route(func(r *Route) {
			r.Path, r.Rewrite = "/api", &Rewrite{Path: &PathModifier{ReplacePrefix: true, Value: "/v2"}}
		}), nil},
		{"weighted-2-backends", route(func(r *Route) {
			r.Backends = append(r.Backends, WeightedBackend{Backend: &Backend{Name: "c", Endpoints: []Endpoint{{be}}}, Weight: 1})
		}), nil},
		{"round-robin-3+outlier", route(balanced(&Balancing{Outlier: outlier})), nil},
		{"least-request-3", route(balanced(&Balancing{Policy: LeastRequest})), nil},
		{"consistent-hash-3", route(balanced(&Balancing{Policy: ConsistentHash, HashHeader: "User-Agent"})), nil},
		{"metrics", route(nil), func() Options { return Options{Metrics: NewMetrics(prometheus.NewRegistry())} }},
		{"access-log", route(nil), func() Options {
			return Options{AccessLog: slog.New(slog.NewJSONHandler(io.Discard, nil))}
		}},
		// Tracing: every request sampled (spans made and ended, not
		// exported), and none sampled (ratio 0, no parent).
		{"tracing-sampled", route(nil), func() Options { return Options{Tracing: benchTracing(sdktrace.AlwaysSample())} }},
		{"tracing-unsampled", route(nil), func() Options { return Options{Tracing: benchTracing(sdktrace.NeverSample())} }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var opts Options
			if c.opts != nil {
				opts = c.opts()
			}
			opts.Edge.Engine = EngineFast
			rt := New(opts)
			rt.Swap(Compile(c.cfg))
			benchRequests(b, startStrict(b, rt), "GET /api/v1/x HTTP/1.1\r\nHost: foo.com\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
		})
	}
}
