package router

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/valyala/fasthttp"
)

// Engine is the HTTP/1.x engine of client-facing listeners.
type Engine uint8

// HTTP/1.x engines. HTTP/2 (h2 and h2c, hence gRPC) is always served by
// net/http.
const (
	// EngineFast (the default) serves HTTP/1.x with valyala/fasthttp:
	// requests parsed into reused buffers, plain-HTTP upstreams on
	// fasthttp's own pools. A connection whose request needs what only
	// net/http does (an upgrade such as WebSocket, an ACME challenge) is
	// handed to net/http for the rest of its life.
	EngineFast Engine = iota
	// EngineStd serves HTTP/1.x with net/http and httputil.ReverseProxy.
	EngineStd
)

// ParseEngine reads "fast" or "std" ("" is fast).
func ParseEngine(s string) (Engine, error) {
	switch s {
	case "fast", "":
		return EngineFast, nil
	case "std":
		return EngineStd, nil
	}
	return 0, fmt.Errorf("HTTP/1 engine: want std or fast, not %q", s)
}

// fastEngine serves one listener's HTTP/1.x connections with fasthttp.
type fastEngine struct {
	rt       *Router
	listener string
	srv      *fasthttp.Server
	// fast and std receive the connections the splitter hands each
	// server; std also receives connections handed off mid-way.
	fast, std *connQueue
}

// fastEngineFor returns the fast engine for h when h is a Router (or one
// of its listener handlers) configured with EngineFast; else nil.
func fastEngineFor(h any) *fastEngine {
	var rt *Router
	key := ""
	switch v := h.(type) {
	case *Router:
		rt = v
	case listenerHandler:
		rt, key = v.rt, v.key
	case strictHandler:
		return fastEngineFor(v.h)
	}
	if rt == nil || rt.opts.Edge.Engine != EngineFast {
		return nil
	}
	e := &fastEngine{rt: rt, listener: key}
	e.srv = &fasthttp.Server{
		Handler:                      e.handle,
		HeaderReceived:               e.headerReceived,
		Name:                         "",
		NoDefaultServerHeader:        true,
		NoDefaultContentType:         true,
		DisablePreParseMultipartForm: true,
		StreamRequestBody:            true,
		MaxRequestBodySize:           BodyBufferBytes,
		ReadBufferSize:               MaxHeaderBytes + 4096,
		// Large response bodies leave in few writes (fasthttp copies
		// them in 4 KiB pieces, each flushed by a 4 KiB writer).
		WriteBufferSize:               64 << 10,
		ReadTimeout:                   ReadHeaderTimeout,
		IdleTimeout:                   IdleTimeout,
		KeepHijackedConns:             true,
		MaxIdleWorkerDuration:         2 * time.Second,
		CloseOnShutdown:               true,
		DisableHeaderNamesNormalizing: false,
		SecureErrorLogMessage:         true,
		Logger:                        discardLogger{},
		ErrorHandler:                  fastError,
		// The clock is read when the handler asks (handle does, once).
		LazyRequestTime: true,
	}
	return e
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}

// fastError answers what fasthttp could not parse: the framing checker
// under it has already refused what is ambiguous, so this is a malformed
// request (400), a stalled one (408), or a head too large (431). The
// connection is closed in every case.
func fastError(ctx *fasthttp.RequestCtx, err error) {
	code := 400
	var small *fasthttp.ErrSmallBuffer
	switch {
	case errors.As(err, &small):
		code = 431
	case isDeadline(err):
		code = 408
	}
	ctx.SetConnectionClose()
	ctx.Error(http.StatusText(code)+"\n", code)
}

// split serves ln's connections: HTTP/2 ones (ALPN h2, or the h2c
// preface on cleartext) to net/http through the returned listener, the
// others to fasthttp.
func (e *fastEngine) split(ln net.Listener) net.Listener {
	e.fast, e.std = newConnQueue(ln.Addr(), nil), newConnQueue(ln.Addr(), ln)
	go func() {
		e.std.acceptEach(e.sort)
		_ = e.fast.Close()
	}()
	go func() { _ = e.srv.Serve(e.fast) }()
	return e.std
}

// sort sends a connection to the server that speaks its protocol.
func (e *fastEngine) sort(c net.Conn) {
	sc, _ := c.(*strictConn)
	switch {
	case sc != nil && sc.f.h2mode == h2Required:
		e.std.put(c)
	case sc != nil && sc.tlsState != nil:
		sc.lingerOnError, sc.sendTimeout = true, e.sendTimeout()
		e.fast.put(c)
	default:
		e.sniff(c)
	}
}

// sniff reads the first bytes of a cleartext connection: the HTTP/2
// preface goes to net/http, anything else to fasthttp.
func (e *fastEngine) sniff(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(ReadHeaderTimeout))
	br := bufio.NewReaderSize(c, 64)
	b, err := br.Peek(3)
	_ = c.SetReadDeadline(time.Time{})
	if err != nil && len(b) == 0 {
		if IsFramingError(err) {
			// What net/http answers a request it cannot parse.
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request")
			closeAfterLinger(c)
			return
		}
		_ = c.Close()
		return
	}
	if sc := strictOf(c); sc != nil && string(b) != "PRI" {
		sc.mu.Lock()
		sc.lingerOnError, sc.sendTimeout = true, e.sendTimeout()
		sc.mu.Unlock()
	}
	ahead, _ := br.Peek(br.Buffered())
	pc := &prefixConn{Conn: c, prefix: bytes.Clone(ahead)}
	if string(b) == "PRI" {
		e.std.put(pc)
		return
	}
	e.fast.put(pc)
}

// closeAfterLinger half-closes c and waits briefly for the client to stop
// sending before closing, so that unread bytes do not turn the close into
// a reset that destroys the answer just written (as net/http does).
func closeAfterLinger(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		_ = c.SetReadDeadline(time.Now().Add(lingerTime))
		_, _ = io.Copy(io.Discard, io.LimitReader(rawConn(c), 1<<20))
	}
	_ = c.Close()
}

// lingerTime bounds closeAfterLinger's wait.
const lingerTime = 500 * time.Millisecond

// rawConn is the connection under the framing checker, whose reads after
// an error are only to be drained.
func rawConn(c net.Conn) net.Conn {
	if sc := strictOf(c); sc != nil {
		return sc.Conn
	}
	return c
}

func (e *fastEngine) sendTimeout() time.Duration {
	if t := e.rt.opts.Edge.SendTimeout; t > 0 {
		return t
	}
	return DefaultSendTimeout
}

// shutdown stops the fast server once the net/http one has drained.
func (e *fastEngine) shutdown(ctx context.Context) error {
	return e.srv.ShutdownWithContext(ctx)
}

// strict returns the framing-checked connection under c, if any.
func strictOf(c net.Conn) *strictConn {
	for i := 0; i < 4 && c != nil; i++ {
		switch v := c.(type) {
		case *strictConn:
			return v
		case *prefixConn:
			if v.strict != nil {
				return v.strict
			}
			c = v.Conn
		case interface{ NetConn() net.Conn }:
			c = v.NetConn()
		default:
			return nil
		}
	}
	return nil
}
