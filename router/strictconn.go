package router

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// strictConn is a client connection speaking HTTP/1.x whose bytes pass the
// framing checker on their way to net/http's parser. A framing error fails
// the read: net/http then answers 400 and closes the connection when it
// was reading a request head, and the router answers 400 and closes when
// it was reading a body.
type strictConn struct {
	net.Conn
	// tlsState is the state of the TLS connection underneath, when there
	// is one (net/http sees only this wrapper).
	tlsState *tls.ConnectionState
	mu       sync.Mutex
	f        *framer
	err      error
	// active counts the requests of this connection being handled.
	active atomic.Int32
	// tunnels, when set, tracks the connection once it is upgraded.
	tunnels *tunnels
	// perRead, when set (nanoseconds), bounds each read: the fast
	// engine's streamed request bodies.
	perRead atomic.Int64
	// lingerOnError makes Close linger after a framing error (the fast
	// engine's connections), and unread after an answer given before the
	// request body was read through (see lingerAtClose).
	lingerOnError bool
	unread        bool
	// sendTimeout, when set, bounds each write (the fast engine's; net/http
	// connections get theirs per response from the recorder), and
	// writeDeadline is the deadline last set (unix nanoseconds).
	sendTimeout   time.Duration
	writeDeadline atomic.Int64
	// readTimedOut records that a read ran into the per-read timeout: a
	// stalled request body.
	readTimedOut atomic.Bool
	// rd holds the read deadlines (see SetReadDeadline).
	rd lazyDeadline
	// h2 is set once the client has sent the HTTP/2 preface.
	h2 atomic.Bool
}

// lazyDeadline is a connection's read deadline, armed lazily: want is the
// deadline last asked for (zero: none), armed the one set on the
// connection underneath (zero: none). The servers move the read deadline two
// or three times per request (idle, head, body), and each move is a timer
// change in the runtime; here the real deadline moves only when it would
// fire later than wanted. One that fires earlier than wanted wakes a read
// too soon: Read then arms the wanted one and reads on.
type lazyDeadline struct {
	mu          sync.Mutex
	want, armed time.Time
}

// SetReadDeadline records t as the read deadline; the connection's own
// deadline moves only when it is later than t (see lazyDeadline).
func (c *strictConn) SetReadDeadline(t time.Time) error {
	c.rd.mu.Lock()
	defer c.rd.mu.Unlock()
	c.rd.want = t
	if t.IsZero() || !c.rd.armed.IsZero() && !c.rd.armed.After(t) {
		return nil
	}
	c.rd.armed = t
	return c.Conn.SetReadDeadline(t)
}

// SetDeadline sets both deadlines, the read one lazily.
func (c *strictConn) SetDeadline(t time.Time) error {
	if t.IsZero() {
		c.writeDeadline.Store(0)
	} else {
		c.writeDeadline.Store(t.UnixNano())
	}
	if err := c.SetWriteDeadline(t); err != nil {
		return err
	}
	return c.SetReadDeadline(t)
}

// rearm is called when a read timed out: it reports whether that was
// sooner than wanted, after arming the wanted deadline.
func (c *strictConn) rearm() bool {
	c.rd.mu.Lock()
	defer c.rd.mu.Unlock()
	w := c.rd.want
	if !w.IsZero() && !time.Now().Before(w) {
		return false
	}
	c.rd.armed = w
	_ = c.Conn.SetReadDeadline(w)
	return true
}

// Write bounds each write by the send timeout, when set: a client that
// stops reading is cut off instead of holding the response (and its
// backend) forever. The deadline moves only once half of it is used, so
// most writes do not touch it.
func (c *strictConn) Write(b []byte) (int, error) {
	if c.h2.Load() {
		// net/http's HTTP/2 server flushes its buffer whenever it has no
		// frame queued, so a lone answer's HEADERS and DATA went out in
		// two TLS records and two writes. Letting the runnable handlers
		// and serve loops go first queues their frames for the next flush
		// (as an event loop writes once per round): 1.54 writes per
		// request instead of 2.12 under h2load, 0.87x the CPU.
		runtime.Gosched()
	}
	if d := c.sendTimeout; d > 0 {
		now := time.Now().UnixNano()
		if c.writeDeadline.Load()-now < int64(d/2) {
			c.writeDeadline.Store(now + int64(d))
			_ = c.SetWriteDeadline(time.Unix(0, now+int64(d)))
		}
	}
	return c.Conn.Write(b)
}

// setPerReadTimeout makes each read wait at most d for the client (0:
// back to the deadlines set from outside).
func (c *strictConn) setPerReadTimeout(d time.Duration) {
	c.perRead.Store(int64(d))
	if d == 0 {
		_ = c.SetReadDeadline(time.Time{})
	}
}

func newStrictConn(c net.Conn, state *tls.ConnectionState, mode h2Mode, t *tunnels) *strictConn {
	return &strictConn{Conn: c, tlsState: state, f: newFramer(mode), tunnels: t}
}

func (c *strictConn) Read(b []byte) (int, error) {
	c.mu.Lock()
	err := c.err
	c.mu.Unlock()
	if err != nil {
		return 0, err
	}
	d := c.perRead.Load()
	if d > 0 {
		_ = c.SetReadDeadline(time.Now().Add(time.Duration(d)))
	}
	n, rerr := c.Conn.Read(b)
	for n == 0 && rerr != nil && isDeadline(rerr) && c.rearm() {
		n, rerr = c.Conn.Read(b)
	}
	if d > 0 && rerr != nil && isDeadline(rerr) {
		c.readTimedOut.Store(true)
	}
	if n > 0 {
		c.mu.Lock()
		if c.err == nil {
			c.err = c.f.feed(b[:n])
			if c.f.h2 != nil && !c.h2.Load() {
				c.h2.Store(true)
			}
		}
		err = c.err
		c.mu.Unlock()
		if errors.Is(err, errHeadTooLarge) && c.active.Load() == 0 {
			// Nothing else is being written on the connection: answer 431
			// here, and let net/http close it without a word.
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = io.WriteString(c.Conn, response431)
			c.mu.Lock()
			c.err = errSilentClose
			c.mu.Unlock()
			return 0, errSilentClose
		}
		if errors.Is(err, errNoH2Preface) {
			// SETTINGS, then GOAWAY(PROTOCOL_ERROR) (RFC 9113 §3.4).
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = c.Write(h2PrefaceRejection)
		}
		if err != nil {
			return 0, err
		}
	}
	return n, rerr
}

// failed reports whether the framing checker refused the connection.
func (c *strictConn) failed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err != nil
}

// tunnel stops checking: the connection now carries an upgraded protocol.
func (c *strictConn) tunnel() {
	c.mu.Lock()
	c.f.tunnel()
	c.mu.Unlock()
	if c.tunnels != nil {
		c.tunnels.add(c)
	}
}

// Close closes the connection and forgets it as a tunnel. On the fast
// engine, a connection closed after a framing error lingers first (see
// closeAfterLinger); net/http does that itself.
func (c *strictConn) Close() error {
	if c.tunnels != nil {
		c.tunnels.remove(c)
	}
	c.mu.Lock()
	failed := (c.err != nil || c.unread) && c.lingerOnError
	c.lingerOnError = false
	c.mu.Unlock()
	if failed {
		closeAfterLinger(c.Conn)
		return nil
	}
	return c.Conn.Close()
}

// lingerAtClose notes that an answer went out before the request body
// was read through (a refusal, a body over a limit): closing at once would
// let the client's unread bytes turn the close into a reset that destroys
// the answer, so Close lingers as after a framing error.
func (c *strictConn) lingerAtClose() {
	c.mu.Lock()
	c.unread = true
	c.mu.Unlock()
}

// tunnels tracks a server's upgraded connections, which
// http.Server.Shutdown does not wait for.
type tunnels struct {
	mu    sync.Mutex
	conns map[*strictConn]struct{}
}

func (t *tunnels) add(c *strictConn) {
	t.mu.Lock()
	t.conns[c] = struct{}{}
	t.mu.Unlock()
}

func (t *tunnels) remove(c *strictConn) {
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
}

// drain waits until every tunnel has closed or ctx ends, then closes the
// ones left.
func (t *tunnels) drain(ctx context.Context) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		t.mu.Lock()
		n := len(t.conns)
		t.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.mu.Lock()
			left := make([]*strictConn, 0, len(t.conns))
			for c := range t.conns {
				left = append(left, c)
			}
			t.mu.Unlock()
			for _, c := range left {
				_ = c.Close()
			}
			return
		case <-tick.C:
		}
	}
}

// CloseWrite half-closes the underlying connection when it supports it.
func (c *strictConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// h2PrefaceRejection is an empty SETTINGS frame and a GOAWAY frame with
// last stream 0 and error PROTOCOL_ERROR.
var h2PrefaceRejection = []byte{
	0, 0, 0, 0x4, 0, 0, 0, 0, 0,
	0, 0, 8, 0x7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
}

const response431 = "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain; charset=utf-8\r\n" +
	"Connection: close\r\nContent-Length: 32\r\n\r\nrequest header fields too large\n"

// errSilentClose makes net/http close a connection without answering.
var errSilentClose = &net.OpError{Op: "read", Net: "tcp", Err: errHeadTooLarge}

type strictConnKey struct{}

// connContext remembers the strict connection of each request's context.
func connContext(ctx context.Context, c net.Conn) context.Context {
	if sc := strictOf(c); sc != nil {
		return context.WithValue(ctx, strictConnKey{}, sc)
	}
	return ctx
}

// tunnelConn tells the strict connection under r, if any, that it is
// upgraded from now on.
func tunnelConn(r *http.Request) {
	if sc, ok := r.Context().Value(strictConnKey{}).(*strictConn); ok {
		sc.tunnel()
	}
}

// strictHandler restores r.TLS for HTTP/1.x requests that arrived over TLS
// through a strict connection.
type strictHandler struct{ h http.Handler }

func (s strictHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if sc, ok := r.Context().Value(strictConnKey{}).(*strictConn); ok {
		if r.TLS == nil && sc.tlsState != nil {
			r.TLS = sc.tlsState
		}
		sc.active.Add(1)
		defer sc.active.Add(-1)
	}
	s.h.ServeHTTP(w, r)
}

// strictListener wraps cleartext connections in the framing checker.
type strictListener struct {
	net.Listener
	tunnels *tunnels
}

func (l strictListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newStrictConn(c, nil, h2Allowed, l.tunnels), nil
}

// HandshakeTimeout bounds a client's TLS handshake.
const HandshakeTimeout = ReadHeaderTimeout

// tlsListener completes each TLS handshake itself, concurrently, and hands
// every connection to net/http inside the framing checker: HTTP/1.1 ones
// are checked request by request, HTTP/2 ones (ALPN h2, then served by
// net/http as HTTP/2 with prior knowledge) by the HTTP/2 frame guard.
type tlsListener struct {
	*connQueue
	cfg *tls.Config
	tun *tunnels
}

func newTLSListener(ln net.Listener, cfg *tls.Config, tun *tunnels) *tlsListener {
	l := &tlsListener{connQueue: newConnQueue(ln.Addr(), ln), cfg: cfg, tun: tun}
	go l.acceptEach(l.handshake)
	return l
}

func (l *tlsListener) handshake(c net.Conn) {
	tc := tls.Server(c, l.cfg)
	ctx, cancel := context.WithTimeout(context.Background(), HandshakeTimeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		_ = c.Close()
		return
	}
	state := tc.ConnectionState()
	mode := h2Refused
	if state.NegotiatedProtocol == "h2" {
		mode = h2Required
	}
	l.put(newStrictConn(tc, &state, mode, l.tun))
}
