package dataplane

import (
	"context"
	"fmt"
	"strings"

	"go.opentelemetry.io/contrib/propagators/b3"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/portico-dev/portico/router"
)

// TracingOptions configure OpenTelemetry tracing of proxied requests.
type TracingOptions struct {
	// Exporter is "otlp-grpc" or "otlp-http"; "" (or "none") turns
	// tracing off.
	Exporter string
	// Endpoint is the collector: host:port for gRPC, host:port or a URL
	// for HTTP; "" leaves it to the exporter (OTEL_EXPORTER_OTLP_*
	// variables, else localhost:4317 / localhost:4318).
	Endpoint string
	// Insecure sends without TLS.
	Insecure bool
	// SampleRatio is the share of new traces sampled; requests that
	// arrive with a sampled parent follow their parent's decision.
	SampleRatio float64
	// Resource attributes: service.version, and key=value pairs.
	ServiceVersion string
	Attributes     map[string]string
}

// NewTracing starts the exporter and returns the router's Tracing and a
// function that flushes and stops it (call it at shutdown). Tracing is nil
// when the exporter is off.
func NewTracing(ctx context.Context, o TracingOptions) (*router.Tracing, func(context.Context) error, error) {
	noop := func(context.Context) error { return nil }
	var client otlptrace.Client
	switch o.Exporter {
	case "", "none":
		return nil, noop, nil
	case "otlp-grpc":
		var opts []otlptracegrpc.Option
		if o.Endpoint != "" {
			opts = append(opts, otlptracegrpc.WithEndpoint(o.Endpoint))
		}
		if o.Insecure {
			opts = append(opts, otlptracegrpc.WithInsecure())
		}
		client = otlptracegrpc.NewClient(opts...)
	case "otlp-http":
		var opts []otlptracehttp.Option
		switch {
		case strings.Contains(o.Endpoint, "://"):
			opts = append(opts, otlptracehttp.WithEndpointURL(o.Endpoint))
		case o.Endpoint != "":
			opts = append(opts, otlptracehttp.WithEndpoint(o.Endpoint))
		}
		if o.Insecure {
			opts = append(opts, otlptracehttp.WithInsecure())
		}
		client = otlptracehttp.NewClient(opts...)
	default:
		return nil, noop, fmt.Errorf("tracing exporter %q: want otlp-grpc, otlp-http or none", o.Exporter)
	}
	if o.SampleRatio < 0 || o.SampleRatio > 1 {
		return nil, noop, fmt.Errorf("tracing sample ratio %v: want 0 to 1", o.SampleRatio)
	}
	exp, err := otlptrace.New(ctx, client)
	if err != nil {
		return nil, noop, fmt.Errorf("starting the OTLP exporter: %w", err)
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", "portico")}
	if o.ServiceVersion != "" {
		attrs = append(attrs, attribute.String("service.version", o.ServiceVersion))
	}
	for k, v := range o.Attributes {
		attrs = append(attrs, attribute.String(k, v))
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(attrs...))
	if err != nil {
		return nil, noop, err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(o.SampleRatio))))
	tr := &router.Tracing{Tracer: tp.Tracer("github.com/portico-dev/portico/router"),
		Extract: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, b3.New()),
		Inject:  propagation.TraceContext{}}
	return tr, tp.Shutdown, nil
}

// ParseAttributes reads "k=v,k2=v2" (OTEL_RESOURCE_ATTRIBUTES' form).
func ParseAttributes(s string) (map[string]string, error) {
	m := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		if kv = strings.TrimSpace(kv); kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("resource attribute %q: want key=value", kv)
		}
		m[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return m, nil
}
