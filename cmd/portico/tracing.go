package main

import (
	"context"
	"flag"
	"time"

	"github.com/portico-dev/portico/dataplane"
	"github.com/portico-dev/portico/router"
)

// tracingFlags are the OpenTelemetry flags of the serving commands.
type tracingFlags struct {
	exporter, endpoint, attributes string
	insecure                       bool
	ratio                          float64
}

func (t *tracingFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&t.exporter, "otel-exporter", envOr("PORTICO_OTEL_EXPORTER", "none"), "trace proxied requests with OpenTelemetry and export the spans: none, otlp-grpc or otlp-http")
	fs.StringVar(&t.endpoint, "otel-endpoint", "", "OTLP collector: host:port (gRPC), host:port or URL (HTTP); default: the OTEL_EXPORTER_OTLP_* variables, else localhost:4317/4318")
	fs.BoolVar(&t.insecure, "otel-insecure", false, "send spans to the collector without TLS")
	fs.Float64Var(&t.ratio, "otel-sample-ratio", 1, "share of new traces sampled (0-1); requests with a sampled parent follow their parent")
	fs.StringVar(&t.attributes, "otel-resource-attributes", "", "extra resource attributes, k=v,k2=v2")
}

// start starts the exporter; the returned function flushes and stops it.
func (t *tracingFlags) start(ctx context.Context) (*router.Tracing, func(context.Context) error, error) {
	attrs, err := dataplane.ParseAttributes(t.attributes)
	if err != nil {
		return nil, nil, err
	}
	return dataplane.NewTracing(ctx, dataplane.TracingOptions{Exporter: t.exporter, Endpoint: t.endpoint,
		Insecure: t.insecure, SampleRatio: t.ratio, Attributes: attrs})
}

// flushTraces sends the spans still buffered, within five seconds.
func flushTraces(flush func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = flush(ctx)
}
