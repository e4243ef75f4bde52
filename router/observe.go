package router

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
)

// Metrics are the data plane's Prometheus collectors.
type Metrics struct {
	requests   *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	generation prometheus.Gauge
	lastSwap   prometheus.Gauge
	routes     prometheus.Gauge
}

// NewMetrics creates the collectors and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portico_http_requests_total",
			Help: "HTTP requests served, by route source object, backend and status code.",
		}, []string{"route", "backend", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "portico_http_request_duration_seconds",
			Help:    "Time from request received to response handler done, by route source object.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		generation: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "portico_routing_table_generation",
			Help: "Generation of the routing table being served.",
		}),
		lastSwap: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "portico_routing_table_last_swap_timestamp_seconds",
			Help: "Unix time at which the current routing table went live.",
		}),
		routes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "portico_routing_table_routes",
			Help: "Number of HTTP routes in the routing table being served.",
		}),
	}
	m.requests = Register(reg, m.requests)
	m.duration = Register(reg, m.duration)
	m.generation = Register(reg, m.generation)
	m.lastSwap = Register(reg, m.lastSwap)
	m.routes = Register(reg, m.routes)
	return m
}

// Register adds c to reg, or returns the identical collector already
// registered there: several Routers in one process (tests) share series.
// Other packages' collectors use it too.
func Register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err)
	}
	return c
}

func (m *Metrics) swapped(t *Table) {
	m.generation.Set(float64(t.Generation))
	m.lastSwap.SetToCurrentTime()
	m.routes.Set(float64(t.RouteCount()))
}

func (m *Metrics) observe(st *proxyState, code int, d time.Duration) {
	if r := st.route; r != nil {
		// Most requests of a route have the series of the one before:
		// reuse it rather than hash the labels again.
		if c := r.metrics.Load(); c != nil && c.m == m && c.backend == st.backend && c.code == code {
			c.requests.Inc()
			c.duration.Observe(d.Seconds())
			return
		}
	}
	route, backend := "", ""
	if st.route != nil {
		route = st.route.metricName
	}
	if st.backend != nil {
		backend = st.backend.Name
	}
	c := &routeSeries{m: m, backend: st.backend, code: code,
		requests: m.requests.WithLabelValues(route, backend, codeString(code)), duration: m.duration.WithLabelValues(route)}
	c.requests.Inc()
	c.duration.Observe(d.Seconds())
	if st.route != nil {
		st.route.metrics.Store(c)
	}
}

// routeSeries are the series a route's last request was counted in.
type routeSeries struct {
	m        *Metrics
	backend  *compiledBackend
	code     int
	requests prometheus.Counter
	duration prometheus.Observer
}

var commonCodes = func() map[int]string {
	m := map[int]string{}
	for c := 100; c < 600; c++ {
		if http.StatusText(c) != "" || c == 499 {
			m[c] = strconv.Itoa(c)
		}
	}
	return m
}()

func codeString(c int) string {
	if s, ok := commonCodes[c]; ok {
		return s
	}
	return strconv.Itoa(c)
}

// recorder remembers the status code and body size written through it. It
// unwraps for http.ResponseController, so flushing, hijacking (WebSocket)
// and deadlines reach the real connection.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	// sendTimeout bounds each write (see EdgeOptions.SendTimeout);
	// deadline is the one set last.
	sendTimeout time.Duration
	deadline    time.Time
	// perWrite: the deadline must be lifted after each write. An HTTP/2
	// stream's write deadline is a timer that resets the stream when it
	// fires, written to or not, which would cut idle streaming responses
	// (SSE, gRPC); a connection's deadline only fails writes.
	perWrite bool
	// flushed: the response has been flushed (HTTP/2: its writes may
	// reach the network from then on).
	flushed bool
	rc      *http.ResponseController // made on first use
}

// h2WriteBuffer is what net/http's HTTP/2 server buffers of a handler's
// writes before it sends any (its handlerChunkWriteSize): a stream's
// writes that stay within it, before any flush, only copy bytes and
// cannot wait on the client.
const h2WriteBuffer = 4 << 10

// buffered reports whether writing p only fills net/http's HTTP/2 buffer,
// so that arming the stream's write deadline (a message to the
// connection's serve loop and a timer, then another to lift it) is
// pointless. The response's last bytes are sent when the handler returns,
// after any deadline set here was lifted anyway.
func (r *recorder) buffered(p []byte) bool {
	return r.perWrite && !r.flushed && r.bytes+int64(len(p)) <= h2WriteBuffer
}

func (r *recorder) controller() *http.ResponseController {
	if r.rc == nil {
		r.rc = http.NewResponseController(r.ResponseWriter)
	}
	return r.rc
}

// extend arms the write deadline before a write. Over HTTP/1.x it keeps it
// between sendTimeout/2 and sendTimeout ahead, setting it at most once per
// sendTimeout/2 (net/http lifts it after the response).
func (r *recorder) extend() {
	if r.sendTimeout <= 0 {
		return
	}
	now := time.Now()
	if !r.perWrite && r.deadline.Sub(now) > r.sendTimeout/2 {
		return
	}
	r.deadline = now.Add(r.sendTimeout)
	_ = r.controller().SetWriteDeadline(r.deadline)
}

// settle lifts an HTTP/2 stream's write deadline after a write.
func (r *recorder) settle() {
	if r.perWrite && !r.deadline.IsZero() {
		r.deadline = time.Time{}
		_ = r.controller().SetWriteDeadline(time.Time{})
	}
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 || (r.status < 200 && code >= 100) {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.buffered(p) {
		n, err := r.ResponseWriter.Write(p)
		r.bytes += int64(n)
		return n, err
	}
	r.extend()
	n, err := r.ResponseWriter.Write(p)
	r.settle()
	r.bytes += int64(n)
	return n, err
}

// Flush forwards to the underlying writer; streaming needs it directly
// because httputil.ReverseProxy checks for http.Flusher on some paths.
func (r *recorder) Flush() {
	r.flushed = true
	r.extend()
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
	r.settle()
}

// Unwrap exposes the underlying writer to http.ResponseController.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) code() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}

func logAccess(l *slog.Logger, r *http.Request, st *proxyState, rec *recorder, start time.Time) {
	st.logAccess(r.Context(), l, accessEntry{client: r.RemoteAddr, method: r.Method, host: r.Host,
		path: r.URL.RequestURI(), proto: r.Proto, status: rec.code(), bytes: rec.bytes}, start)
}

// logAccessFast is logAccess for the fast engine; bytes is the declared
// length of the response (-1 when it streams without one).
func logAccessFast(l *slog.Logger, ctx *fasthttp.RequestCtx, st *proxyState, code int, start time.Time) {
	st.logAccess(context.Background(), l, accessEntry{client: ctx.RemoteAddr().String(), method: string(ctx.Method()),
		host: string(ctx.Request.Header.Host()), path: string(ctx.Request.Header.RequestURI()),
		proto: string(ctx.Request.Header.Protocol()), status: code, bytes: int64(ctx.Response.Header.ContentLength())}, start)
}

// accessEntry is what an access log line says of the request and answer.
type accessEntry struct {
	client, method, host, path, proto string
	status                            int
	bytes                             int64
}

// logAccess writes one access log line, with the route and backend that
// served the request.
func (st *proxyState) logAccess(ctx context.Context, l *slog.Logger, e accessEntry, start time.Time) {
	if st.route != nil && st.route.NoAccessLog {
		return
	}
	attrs := []slog.Attr{
		slog.String("client", e.client),
		slog.String("method", e.method),
		slog.String("host", e.host),
		slog.String("path", e.path),
		slog.String("proto", e.proto),
		slog.Int("status", e.status),
		slog.Int64("bytes", e.bytes),
		slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
	}
	if st.route != nil {
		attrs = append(attrs, slog.String("route", st.route.Source.String()))
	}
	if st.backend != nil {
		attrs = append(attrs, slog.String("backend", st.backend.Name), slog.String("upstream", st.endpoint))
	}
	if id := st.traceID(); id != "" {
		attrs = append(attrs, slog.String("trace_id", id))
	}
	l.LogAttrs(ctx, slog.LevelInfo, "request", attrs...)
}
