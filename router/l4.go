package router

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// L4Options bound connection-level proxying.
type L4Options struct {
	// IdleTimeout closes a connection after no byte moved either way for
	// this long (default 1h).
	IdleTimeout time.Duration
	// HelloTimeout bounds the wait for a ClientHello (default 10s).
	HelloTimeout time.Duration
	// MaxConns bounds concurrent spliced connections per listener
	// (default 10000); connections over it are closed at once.
	MaxConns int
	// DialTimeout bounds each connect to a backend endpoint (default 5s).
	DialTimeout time.Duration
	Log         *slog.Logger
}

func (o *L4Options) defaults() {
	if o.IdleTimeout == 0 {
		o.IdleTimeout = time.Hour
	}
	if o.HelloTimeout == 0 {
		o.HelloTimeout = 10 * time.Second
	}
	if o.MaxConns == 0 {
		o.MaxConns = 10000
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = 5 * time.Second
	}
}

// splicer forwards whole connections to backends with a connection limit.
type splicer struct {
	opts  L4Options
	slots chan struct{}
	wg    sync.WaitGroup
}

func newSplicer(opts L4Options) *splicer {
	opts.defaults()
	return &splicer{opts: opts, slots: make(chan struct{}, opts.MaxConns)}
}

// splice forwards client to a backend of r, then closes both. It returns at
// once; the work happens in goroutines tracked by s.wg.
func (s *splicer) splice(client net.Conn, r *CompiledL4) {
	select {
	case s.slots <- struct{}{}:
	default:
		client.Close()
		if s.opts.Log != nil {
			s.opts.Log.Warn("connection limit reached; closing connection", "limit", s.opts.MaxConns)
		}
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() { <-s.slots }()
		defer client.Close()
		upstream, err := s.dial(r)
		if err != nil {
			if s.opts.Log != nil {
				s.opts.Log.Warn("no backend connection for L4 route", "route", r.Source.String(), "error", err)
			}
			return
		}
		defer upstream.Close()
		pipe(client, upstream, s.opts.IdleTimeout)
	}()
}

// dial connects to an endpoint of a weighted backend, trying a second
// endpoint once when the first refuses.
func (s *splicer) dial(r *CompiledL4) (net.Conn, error) {
	b := r.pick()
	if b == nil || len(b.Endpoints) == 0 {
		return nil, errors.New("no ready endpoint")
	}
	first := b.next.Add(1)
	var err error
	for i := 0; i < min(2, len(b.Endpoints)); i++ {
		ep := b.Endpoints[(first+uint32(i))%uint32(len(b.Endpoints))]
		var c net.Conn
		c, err = net.DialTimeout("tcp", ep.Address, s.opts.DialTimeout)
		if err == nil {
			return c, nil
		}
	}
	return nil, err
}

// pipe copies both ways until both directions end, propagating half-close,
// and closes both when nothing moved for idle.
func pipe(a, b net.Conn, idle time.Duration) {
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); copyHalf(b, a, idle, &last) }()
	go func() { defer wg.Done(); copyHalf(a, b, idle, &last) }()
	wg.Wait()
}

// copyHalf copies src to dst. At EOF it half-closes dst; on an error or
// when the pair has been idle for idle, it closes both.
func copyHalf(dst, src net.Conn, idle time.Duration, last *atomic.Int64) {
	buf := make([]byte, 32<<10)
	for {
		_ = src.SetReadDeadline(time.Now().Add(idle))
		n, err := src.Read(buf)
		if n > 0 {
			last.Store(time.Now().UnixNano())
			if _, werr := dst.Write(buf[:n]); werr != nil {
				src.Close()
				dst.Close()
				return
			}
		}
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && time.Since(time.Unix(0, last.Load())) < idle {
			continue // the other direction is active
		}
		if errors.Is(err, io.EOF) {
			if cw, ok := dst.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
				return
			}
		}
		src.Close()
		dst.Close()
		return
	}
}

// TLSMux sits in front of an HTTPS server: it peeks at each connection's
// ClientHello and splices connections whose SNI has a passthrough route,
// unterminated, to a backend; every other connection is returned by Accept
// with its bytes intact, for the HTTPS server to terminate.
type TLSMux struct {
	*connQueue // Accept, Close and Addr: Close stops accepting; spliced connections carry on until they end
	table      func() *Table
	sp         *splicer
}

// NewTLSMux starts accepting on ln. table returns the current Table.
func NewTLSMux(ln net.Listener, table func() *Table, opts L4Options) *TLSMux {
	m := &TLSMux{connQueue: newConnQueue(ln.Addr(), ln), table: table, sp: newSplicer(opts)}
	go m.acceptEach(m.route)
	return m
}

func (m *TLSMux) route(c net.Conn) {
	sni, replay, err := PeekClientHello(c, m.sp.opts.HelloTimeout)
	if err == nil {
		if t := m.table(); t != nil {
			if r := t.Passthrough(sni); r != nil {
				m.sp.splice(replay, r)
				return
			}
		}
	}
	m.put(replay)
}

// ServeTCP forwards every connection accepted on ln to the TCP route of
// listener in the current Table, until ctx is done; then it stops accepting
// and waits for spliced connections to end, at most grace.
func ServeTCP(ctx context.Context, ln net.Listener, listener string, table func() *Table, opts L4Options, grace time.Duration) error {
	return serveL4(ctx, ln, table, opts, grace, func(_ net.Conn, t *Table) (net.Conn, *CompiledL4) {
		return nil, t.TCP(listener)
	})
}

// ServePassthrough forwards each connection accepted on ln, unterminated,
// to the passthrough route of listener that its ClientHello's SNI selects;
// connections no route takes are closed. It drains like ServeTCP.
func ServePassthrough(ctx context.Context, ln net.Listener, listener string, table func() *Table, opts L4Options, grace time.Duration) error {
	opts.defaults()
	return serveL4(ctx, ln, table, opts, grace, func(c net.Conn, t *Table) (net.Conn, *CompiledL4) {
		sni, replay, err := PeekClientHello(c, opts.HelloTimeout)
		if err != nil {
			return replay, nil
		}
		return replay, t.PassthroughOn(listener, sni)
	})
}

// ServeTLSTerminate completes each TLS handshake with conf and forwards the
// decrypted stream to the passthrough route of listener that the SNI
// selects; connections no route takes are closed. It drains like ServeTCP.
func ServeTLSTerminate(ctx context.Context, ln net.Listener, conf *tls.Config, listener string, table func() *Table, opts L4Options, grace time.Duration) error {
	opts.defaults()
	l4conf := conf.Clone()
	l4conf.NextProtos = nil // a byte stream, not HTTP
	return serveL4(ctx, ln, table, opts, grace, func(c net.Conn, t *Table) (net.Conn, *CompiledL4) {
		tc := tls.Server(c, l4conf)
		hctx, cancel := context.WithTimeout(ctx, opts.HelloTimeout)
		defer cancel()
		if err := tc.HandshakeContext(hctx); err != nil {
			return tc, nil
		}
		return tc, t.PassthroughOn(listener, tc.ConnectionState().ServerName)
	})
}

// serveL4 accepts connections and splices each to the route choose picks
// (choose may wrap the connection, e.g. to replay peeked bytes).
func serveL4(ctx context.Context, ln net.Listener, table func() *Table, opts L4Options, grace time.Duration,
	choose func(net.Conn, *Table) (net.Conn, *CompiledL4)) error {
	sp := newSplicer(opts)
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	var err error
	// routing tracks the goroutines choosing a route, so that splices are
	// all registered before waiting for them.
	var routing sync.WaitGroup
	for {
		var c net.Conn
		c, err = ln.Accept()
		if err != nil {
			break
		}
		routing.Add(1)
		go func(c net.Conn) {
			defer routing.Done()
			t := table()
			if t == nil {
				c.Close()
				return
			}
			conn, r := choose(c, t)
			if conn == nil {
				conn = c
			}
			if r == nil {
				conn.Close()
				return
			}
			sp.splice(conn, r)
		}(c)
	}
	done := make(chan struct{})
	go func() { routing.Wait(); sp.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
	}
	if ctx.Err() != nil {
		return nil //nolint:nilerr // the accept error is our own Close at shutdown
	}
	return err
}
