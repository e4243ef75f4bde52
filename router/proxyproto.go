package router

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	// The header parser is github.com/pires/go-proxyproto (the one
	// Traefik, ingress-nginx's tooling and many Go proxies use, kept and
	// fuzzed upstream) rather than hand-written: the v2 TLV/address
	// families are easy to get subtly wrong. Only its parser is used; the
	// trust check, deadline and size bound are ours (below).
	proxyproto "github.com/pires/go-proxyproto"
)

// ProxyProtocol configures a Listener that requires every connection to start with
// a PROXY protocol v1 or v2 header from a trusted peer; the address it
// carries becomes the connection's client address for everything after
// (policies, authorization CIDRs, access logs, X-Forwarded-For, rate-limit
// keys). Connections from untrusted peers, without a valid header within
// the deadline, or with an oversized one, are closed. The v2 LOCAL command
// keeps the real peer address.
type ProxyProtocol struct {
	// Trusted are the networks allowed to send headers; empty trusts none.
	Trusted []netip.Prefix `json:"trusted,omitempty"`
	// Timeout bounds the wait for the header; 0 means DefaultProxyProtocolTimeout.
	Timeout time.Duration `json:"timeout,omitempty"`
}

// DefaultProxyProtocolTimeout is ProxyProtocol.Timeout's default.
const DefaultProxyProtocolTimeout = 5 * time.Second

// maxProxyHeader bounds a header: v1 is at most 107 bytes, and a v2 header
// (16 bytes plus addresses and TLVs) is refused beyond this.
const maxProxyHeader = 16 + 1024

var errProxyUntrusted = errors.New("proxy protocol: peer not trusted")

// proxyListener reads the PROXY header of each accepted connection, each
// in its own goroutine so a slow client never holds up the others. The
// setting is read per connection (see ProxySwitch); nil serves the
// connection as it is.
type proxyListener struct {
	net.Listener
	load  func() *ProxyProtocol
	once  sync.Once
	conns chan net.Conn
	errc  chan error
}

// NewProxyProtocolListener wraps ln so that each connection's PROXY header
// is read and checked; Accept returns connections whose RemoteAddr is the
// client's, and closes those that fail.
func NewProxyProtocolListener(ln net.Listener, pp *ProxyProtocol) net.Listener {
	return newProxyListener(ln, func() *ProxyProtocol { return pp })
}

// ProxySwitch holds the PROXY protocol setting of one listener, replaced
// whole while the listener runs: each new connection reads the current
// one (nil: no header expected); connections already accepted keep theirs.
type ProxySwitch = atomic.Pointer[ProxyProtocol]

// NewSwitchedProxyListener is NewProxyProtocolListener with the setting
// read from sw for each connection.
func NewSwitchedProxyListener(ln net.Listener, sw *ProxySwitch) net.Listener {
	return newProxyListener(ln, sw.Load)
}

func newProxyListener(ln net.Listener, load func() *ProxyProtocol) *proxyListener {
	return &proxyListener{Listener: ln, load: load, conns: make(chan net.Conn), errc: make(chan error, 1)}
}

func (l *proxyListener) loop() {
	var backoff time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			// A temporary failure (out of file descriptors) must not
			// end the listener: every Gateway listener passes here.
			if te, ok := err.(interface{ Temporary() bool }); ok && te.Temporary() && !errors.Is(err, net.ErrClosed) {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			l.errc <- err
			return
		}
		backoff = 0
		pp := l.load()
		go func() {
			pc := c
			if pp != nil {
				var err error
				if pc, err = readProxyHeader(c, pp); err != nil {
					_ = c.Close()
					return
				}
			}
			select {
			case l.conns <- pc:
			case <-time.After(time.Minute):
				_ = pc.Close()
			}
		}()
	}
}

func (l *proxyListener) Accept() (net.Conn, error) {
	l.once.Do(func() { go l.loop() })
	select {
	case c := <-l.conns:
		return c, nil
	case err := <-l.errc:
		l.errc <- err // every later Accept fails too
		return nil, err
	}
}

// readProxyHeader reads c's header under the deadline (on the
// connection's own goroutine, see proxyListener).
func readProxyHeader(c net.Conn, pp *ProxyProtocol) (net.Conn, error) {
	peer := addrPortOf(c.RemoteAddr())
	if !inPrefixes(pp.Trusted, peer.Addr()) {
		return nil, errProxyUntrusted
	}
	timeout := pp.Timeout
	if timeout <= 0 {
		timeout = DefaultProxyProtocolTimeout
	}
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	src, rest, err := parseProxyHeader(c)
	if err != nil {
		return nil, err
	}
	_ = c.SetReadDeadline(time.Time{})
	pc := &proxyConn{prefixConn: prefixConn{Conn: c, prefix: rest}}
	if src != nil {
		pc.remote = src
	}
	return pc, nil
}

// parseProxyHeader reads one header from r (at most maxProxyHeader bytes)
// and returns the source address it names (nil for LOCAL or UNKNOWN) and
// the bytes read past the header.
func parseProxyHeader(r io.Reader) (net.Addr, []byte, error) {
	br := bufio.NewReaderSize(io.LimitReader(r, maxProxyHeader), maxProxyHeader)
	h, err := proxyproto.Read(br)
	if err != nil {
		return nil, nil, err
	}
	var rest []byte
	if n := br.Buffered(); n > 0 {
		rest, _ = br.Peek(n)
		rest = append([]byte(nil), rest...)
	}
	if h.Command.IsLocal() || h.TransportProtocol == proxyproto.UNSPEC {
		return nil, rest, nil
	}
	src, ok := h.SourceAddr.(*net.TCPAddr)
	if !ok {
		return nil, rest, nil
	}
	return src, rest, nil
}

func addrPortOf(a net.Addr) netip.AddrPort {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.AddrPort()
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

// proxyConn is a connection whose client address came from its header;
// the bytes read past the header are replayed first (prefixConn, which
// also keeps half-close for TCP routes).
type proxyConn struct {
	prefixConn
	remote net.Addr
}

func (c *proxyConn) RemoteAddr() net.Addr {
	if c.remote != nil {
		return c.remote
	}
	return c.Conn.RemoteAddr()
}
