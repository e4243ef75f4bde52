package router

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"time"
)

// Listener is one client-facing server: where it listens and, for HTTPS, its
// TLS configuration.
type Listener struct {
	Addr string
	// Kind is what the listener does; HTTP (the zero value) serves the
	// handler, with TLS when TLS is set.
	Kind ListenerKind
	// Key names the listener's routes in the Table, for L4 kinds.
	Key string
	TLS *tls.Config // nil for cleartext
	// Table, for a TLS listener, enables TLS passthrough: connections whose
	// SNI has a passthrough route in the current Table are spliced to it.
	Table func() *Table
	L4    L4Options
	// ProxyProtocol, when set, requires a PROXY v1/v2 header on every
	// connection (see ProxyProtocol).
	ProxyProtocol *ProxyProtocol
	// ProxySwitch, when set, replaces ProxyProtocol with a setting that
	// may change while the listener runs (Gateway listeners, set by
	// policy).
	ProxySwitch *ProxySwitch
}

// ListenerKind is what a Listener does with its connections.
type ListenerKind uint8

// Listener kinds.
const (
	ListenerHTTP ListenerKind = iota
	// ListenerTLSPassthrough splices connections by SNI, unterminated.
	ListenerTLSPassthrough
	// ListenerTCP splices every connection to the listener's TCP route.
	ListenerTCP
	// ListenerTLSTerminate decrypts TLS with the Listener's TLS config and
	// splices the plaintext stream by SNI.
	ListenerTLSTerminate
)

// Drain says how a server stops: after ctx is done it waits Delay (so load
// balancers see /readyz fail and stop sending), then stops accepting and
// gives requests in flight up to Grace to finish.
type Drain struct {
	Delay time.Duration
	Grace time.Duration
}

// Serve listens on l.Addr and serves h until ctx is done, then drains. It
// returns once the server has stopped. ready, when set, is called once the
// socket is bound, with its address.
func Serve(ctx context.Context, l Listener, h http.Handler, d Drain, ready func(net.Addr)) error {
	ln, err := net.Listen("tcp", l.Addr)
	if err != nil {
		return err
	}
	if ready != nil {
		ready(ln.Addr())
	}
	switch {
	case l.ProxySwitch != nil:
		ln = NewSwitchedProxyListener(ln, l.ProxySwitch)
	case l.ProxyProtocol != nil:
		ln = NewProxyProtocolListener(ln, l.ProxyProtocol)
	}
	switch l.Kind {
	case ListenerTCP:
		return ServeTCP(ctx, ln, l.Key, l.Table, l.L4, d.Grace)
	case ListenerTLSPassthrough:
		return ServePassthrough(ctx, ln, l.Key, l.Table, l.L4, d.Grace)
	case ListenerTLSTerminate:
		return ServeTLSTerminate(ctx, ln, l.TLS, l.Key, l.Table, l.L4, d.Grace)
	}
	if l.TLS != nil && l.Table != nil {
		ln = NewTLSMux(ln, l.Table, l.L4)
	}
	return ServeListener(ctx, ln, l.TLS, h, d)
}

// ServeListener is Serve on a listener the caller opened.
func ServeListener(ctx context.Context, ln net.Listener, tlsConf *tls.Config, h http.Handler, d Drain) error {
	// Every connection passes through the framing checker (HTTP/1.x) or
	// the HTTP/2 frame guard; over TLS the handshake is done first.
	srv := NewEdgeServer(strictHandler{h}, tlsConf == nil)
	srv.ConnContext = connContext
	// TLS connections reach net/http already decrypted (see tlsListener):
	// HTTP/2 on them is served as with prior knowledge.
	srv.Protocols.SetUnencryptedHTTP2(true)
	tun := &tunnels{conns: map[*strictConn]struct{}{}}
	if tlsConf != nil {
		srv.TLSConfig = tlsConf
		ln = newTLSListener(ln, tlsConf, tun)
	} else {
		ln = strictListener{ln, tun}
	}
	fast := fastEngineFor(h)
	if fast != nil {
		// HTTP/1.x connections go to the fast engine; net/http gets the
		// HTTP/2 ones and those the fast engine hands over.
		ln = fast.split(ln)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	if d.Delay > 0 {
		time.Sleep(d.Delay)
	}
	sctx, cancel := context.WithTimeout(context.Background(), d.Grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if fast != nil {
		if ferr := fast.shutdown(sctx); err == nil {
			err = ferr
		}
	}
	// Upgraded connections (WebSockets) are not waited for by Shutdown:
	// they get the rest of the grace period to end by themselves.
	tun.drain(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}
