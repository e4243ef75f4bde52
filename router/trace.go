package router

import (
	"context"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Tracing makes the router trace requests with OpenTelemetry: a server
// span per request, a client span per upstream attempt (retries and
// mirrors each get their own), the W3C trace context sent to backends. A
// nil *Tracing (the default) costs one nil check per request.
type Tracing struct {
	Tracer trace.Tracer
	// Extract reads a client's trace context (W3C traceparent and
	// tracestate, B3); Inject writes Portico's to backends (W3C).
	Extract, Inject propagation.TextMapPropagator
}

// headerCarrier adapts the router's header view to OpenTelemetry's
// propagators, on both engines.
type headerCarrier struct{ h Headers }

func (c headerCarrier) Get(k string) string { return c.h.Get(k) }
func (c headerCarrier) Set(k, v string)     { c.h.Set(k, v) }

// Keys is not needed by the W3C and B3 propagators' Extract, which Get
// the names they know.
func (c headerCarrier) Keys() []string { return nil }

// startServer begins the request's server span, a child of the client's
// trace context if it sent one. The span is named by the method until the
// route is known (see named).
func (tr *Tracing) startServer(st *proxyState, proto string) {
	x := &st.x
	ctx := tr.Extract.Extract(context.Background(), headerCarrier{x.Header})
	st.traceCtx, st.span = tr.Tracer.Start(ctx, x.Method, trace.WithSpanKind(trace.SpanKindServer))
	if !st.span.IsRecording() {
		return // not sampled: nothing to describe
	}
	scheme := "http"
	if x.TLS {
		scheme = "https"
	}
	attrs := []attribute.KeyValue{
		attribute.String("http.request.method", x.Method),
		attribute.String("url.path", x.Path),
		attribute.String("url.scheme", scheme),
		attribute.String("server.address", stripPort(x.Host)),
		attribute.String("network.protocol.version", proto),
	}
	if ip := x.ClientIP(); ip.IsValid() {
		attrs = append(attrs, attribute.String("client.address", ip.String()))
	}
	if x.RawQuery != "" {
		attrs = append(attrs, attribute.String("url.query", x.RawQuery))
	}
	if ua := x.Header.Get("User-Agent"); ua != "" {
		attrs = append(attrs, attribute.String("user_agent.original", ua))
	}
	st.span.SetAttributes(attrs...)
}

// endServer names the server span by its route (http.route is the source
// object and rule, what Portico routes by), records the answer and ends it.
func (st *proxyState) endServer(code int) {
	span := st.span
	if span == nil || !span.IsRecording() {
		if span != nil {
			span.End()
		}
		return
	}
	if r := st.route; r != nil {
		src := r.Source.String()
		span.SetName(st.x.Method + " " + src)
		span.SetAttributes(attribute.String("http.route", src))
	}
	if b := st.backend; b != nil {
		span.SetAttributes(attribute.String("portico.backend", b.Name))
	}
	span.SetAttributes(attribute.Int("http.response.status_code", code))
	if code >= 500 {
		span.SetStatus(codes.Error, strconv.Itoa(code))
	}
	span.End()
}

// startAttempt begins the client span of one upstream attempt to addr (i
// counts the resends) and writes its trace context into the outbound
// headers; nil when the request is not traced.
func (st *proxyState) startAttempt(tr *Tracing, name, addr string, out Headers, i int) trace.Span {
	if st.span == nil {
		return nil
	}
	if !st.span.IsRecording() {
		// Not sampled: the backend still learns the trace (and that it
		// is not sampled), with no span of ours to record.
		tr.Inject.Inject(st.traceCtx, headerCarrier{out})
		return nil
	}
	attrs := []attribute.KeyValue{
		attribute.String("http.request.method", st.x.Method),
		attribute.String("server.address", addr),
	}
	if st.backend != nil {
		attrs = append(attrs, attribute.String("portico.backend", st.backend.Name))
	}
	if i > 0 {
		attrs = append(attrs, attribute.Int("http.request.resend_count", i))
	}
	ctx, span := tr.Tracer.Start(st.traceCtx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	tr.Inject.Inject(ctx, headerCarrier{out})
	return span
}

// endAttempt records an attempt's answer (code 0: it failed with err).
func endAttempt(span trace.Span, code int, err error) {
	if span == nil {
		return
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	} else {
		span.SetAttributes(attribute.Int("http.response.status_code", code))
		if code >= 500 {
			span.SetStatus(codes.Error, strconv.Itoa(code))
		}
	}
	span.End()
}

// traceID is the request's trace id for the access log ("" untraced).
func (st *proxyState) traceID() string {
	if st.span == nil {
		return ""
	}
	if sc := st.span.SpanContext(); sc.HasTraceID() {
		return sc.TraceID().String()
	}
	return ""
}
