package router

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Transports holds the upstream connection pools, one per backend protocol.
// They belong to a Router and outlive every Table, so keep-alive connections
// survive configuration changes.
type Transports struct {
	HTTP1 *http.Transport
	H2C   *http.Transport
	tls   tlsTransports
	// health keeps the endpoint health of balanced backends across
	// tables; see healthRegistry.
	health healthRegistry
	// fast are the fast engine's HTTP/1.1 pools.
	fast fastClients
}

// NewTransports returns pools tuned for a proxy: short connect timeout,
// generous keep-alive, no transparent compression.
func NewTransports() *Transports {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	base := func() *http.Transport {
		return &http.Transport{
			DialContext:           dialer.DialContext,
			MaxIdleConns:          4096,
			MaxIdleConnsPerHost:   256,
			IdleConnTimeout:       90 * time.Second,
			ExpectContinueTimeout: time.Second,
			DisableCompression:    true,
		}
	}
	h1 := base()
	h2c := base()
	h2c.Protocols = new(http.Protocols)
	h2c.Protocols.SetUnencryptedHTTP2(true)
	return &Transports{HTTP1: h1, H2C: h2c}
}

// endpointTransport picks an endpoint of the request's backend round-robin
// and, when connecting to it fails before anything was sent, tries once more
// on another endpoint.
type endpointTransport struct {
	t       *Transports
	tracing *Tracing
}

func (et *endpointTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	st := stateOf(req.Context())
	b := st.backend
	rt, scheme, err := et.t.roundTripper(b.Backend)
	if err != nil {
		return nil, err
	}
	var retry *Retry
	var attemptTimeout time.Duration
	if st.route != nil {
		retry, attemptTimeout = st.route.Retry, st.route.BackendTimeout
	}
	eps := b.Endpoints
	first := b.next.Add(1)
	// Without a retry policy a failed connect is tried once more on another
	// endpoint; with one, failures and retriable codes are retried as it says.
	attempts := min(2, len(eps))
	if retry != nil {
		attempts = 1 + retry.Attempts
	}
	for i := 0; i < attempts; i++ {
		if i > 0 && retry != nil && !sleepCtx(req.Context(), retry.backoff(i)) {
			return nil, req.Context().Err()
		}
		ep := st.pickEndpoint(b, first, i)
		st.endpoint = eps[ep].Address
		b.picker.started(ep)
		out, cancel := req, context.CancelFunc(func() {})
		if attemptTimeout > 0 {
			var ctx context.Context
			ctx, cancel = context.WithTimeout(req.Context(), attemptTimeout)
			out = req.WithContext(ctx)
		}
		out.URL.Scheme, out.URL.Host = scheme, st.endpoint
		span := st.startAttempt(et.tracing, "upstream", st.endpoint, out.Header, i)
		var resp *http.Response
		resp, err = rt.RoundTrip(out)
		code := 0
		if err == nil {
			code = resp.StatusCode
		}
		endAttempt(span, code, err)
		b.picker.finished(ep, code, err == nil || isDialError(err))
		last := i == attempts-1 || !replayable(req)
		switch {
		case err == nil && (retry == nil || last || !retry.retriable(resp.StatusCode)):
			if resp.StatusCode == http.StatusSwitchingProtocols {
				// An upgraded connection outlives the attempt, and its body
				// must stay the writable connection.
				cancel()
			} else {
				// The attempt's timeout covers reading the body too.
				resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
			}
			return resp, nil
		case err == nil:
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			cancel()
			err = fmt.Errorf("backend answered %d", resp.StatusCode)
			continue
		}
		cancel()
		if retry == nil && !isDialError(err) || last || req.Context().Err() != nil {
			return nil, err
		}
	}
	return nil, err
}

// cancelOnClose releases an attempt's context when its body is closed.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// backoff is the wait before retry attempt i (1-based): the configured
// minimum, doubled per attempt, at most 32 times it.
func (r *Retry) backoff(i int) time.Duration {
	d := r.Backoff
	for j := 1; j < i && j < 6; j++ {
		d *= 2
	}
	return d
}

func (r *Retry) retriable(code int) bool {
	for _, c := range r.Codes {
		if c == code {
			return true
		}
	}
	return false
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// retryableBody lets a request body be offered to a second endpoint when the
// first could not be connected to: Close is a no-op (the server closes the
// inbound body when the handler returns), and reading is recorded.
type retryableBody struct {
	io.ReadCloser
	read atomic.Bool
}

func (b *retryableBody) Read(p []byte) (int, error) {
	b.read.Store(true)
	return b.ReadCloser.Read(p)
}

func (b *retryableBody) Close() error { return nil }

func replayable(req *http.Request) bool {
	switch body := req.Body.(type) {
	case nil:
		return true
	case *retryableBody:
		return !body.read.Load()
	default:
		return body == http.NoBody
	}
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// bufferPool recycles the 32 KiB copy buffers of httputil.ReverseProxy.
type bufferPool struct{ p sync.Pool }

func newBufferPool() *bufferPool {
	return &bufferPool{p: sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}}
}

func (bp *bufferPool) Get() []byte  { return *bp.p.Get().(*[]byte) }
func (bp *bufferPool) Put(b []byte) { bp.p.Put(&b) }
