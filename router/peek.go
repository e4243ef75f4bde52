package router

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"time"
)

// maxHelloBytes bounds what peeking may buffer; crypto/tls rejects larger
// handshake messages anyway.
const maxHelloBytes = 70 << 10

var errPeeked = errors.New("client hello read")

// PeekClientHello reads a TLS ClientHello from c without consuming it: it
// returns the SNI server name and a connection that replays the bytes read
// before reading on from c. crypto/tls parses the hello, so records split
// across reads or fragmented over several TLS records are handled. For a
// connection that does not start with a TLS handshake, err is set and the
// returned connection still replays what was read (the HTTPS server then
// answers it as it would).
func PeekClientHello(c net.Conn, timeout time.Duration) (sni string, replay net.Conn, err error) {
	rec := &recordingConn{Conn: c}
	if timeout > 0 {
		_ = c.SetReadDeadline(time.Now().Add(timeout))
	}
	var hello *tls.ClientHelloInfo
	herr := tls.Server(rec, &tls.Config{
		GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			hello = h
			return nil, errPeeked
		},
	}).Handshake()
	if timeout > 0 {
		_ = c.SetReadDeadline(time.Time{})
	}
	replay = &prefixConn{Conn: c, prefix: rec.buf.Bytes()}
	if hello == nil {
		if herr == nil {
			herr = errors.New("no client hello")
		}
		return "", replay, herr
	}
	return hello.ServerName, replay, nil
}

// recordingConn records what is read and refuses writes, so the peeking
// handshake can never send anything to the client.
type recordingConn struct {
	net.Conn
	buf bytes.Buffer
}

func (r *recordingConn) Read(p []byte) (int, error) {
	if r.buf.Len() >= maxHelloBytes {
		return 0, errors.New("client hello too large")
	}
	n, err := r.Conn.Read(p)
	r.buf.Write(p[:n])
	return n, err
}

func (r *recordingConn) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

// prefixConn reads prefix before reading from Conn.
type prefixConn struct {
	net.Conn
	prefix []byte
	// strict, when set, is the framing-checked connection under Conn
	// (when Conn hides it).
	strict *strictConn
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.prefix) > 0 {
		n := copy(b, p.prefix)
		p.prefix = p.prefix[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}

// CloseWrite half-closes the underlying connection when it supports it.
func (p *prefixConn) CloseWrite() error {
	if cw, ok := p.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
