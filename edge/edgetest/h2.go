package edgetest

// Raw HTTP/2 clients for the edge attack tests (edge/h2_*_test.go): a
// frame-level connection that can send what a well-behaved client never
// would, a backend that counts what reaches it, a "normal client" probe that
// must keep working during an attack, and a memory watcher.
//
// Header blocks are encoded by hand (see HPACK* below) so a test controls the
// server's HPACK dynamic table exactly; the x/net hpack Encoder indexes every
// field it writes.

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// H2Target is one Portico listener spoken to over HTTP/2: h2c with prior
// knowledge on the HTTP port, or h2 negotiated by ALPN on the HTTPS port.
type H2Target struct {
	Name      string // "h2c" or "tls", for messages
	Addr      string // host:port
	TLS       bool
	Authority string // :authority / Host, and the SNI for TLS
}

// Scheme is the :scheme pseudo-header for the target.
func (tg H2Target) Scheme() string {
	if tg.TLS {
		return "https"
	}
	return "http"
}

// H2Stream is what the server sent on one stream.
type H2Stream struct {
	Status    int         // :status of the final response, 0 if none
	Header    http.Header // response header fields (not pseudo)
	RST       bool
	RSTCode   http2.ErrCode
	DataBytes int64
	Ended     bool // END_STREAM seen
}

// H2GoAway is a GOAWAY frame received.
type H2GoAway struct {
	LastStreamID uint32
	Code         http2.ErrCode
	Debug        string
	At           time.Duration // since the connection was dialed
}

// H2Conn is a raw client HTTP/2 connection. Writes are buffered; Flush sends
// them. A reader goroutine (StartReader) records everything the server
// sends; without it nothing is read after Handshake (for floods whose point
// is not reading the server's replies).
type H2Conn struct {
	Target H2Target
	Conn   net.Conn
	Fr     *http2.Framer // writes go to the buffer, reads come from Conn
	Start  time.Time

	wmu     sync.Mutex
	bw      *bufio.Writer
	nextID  uint32
	written atomic.Int64 // bytes handed to the kernel

	mu       sync.Mutex
	streams  map[uint32]*H2Stream
	goaway   *H2GoAway
	closed   bool
	closedAt time.Duration
	closeErr string // why the connection ended, as seen by the client
	rcvd     map[http2.FrameType]int
	readerOn bool
	done     chan struct{} // closed when the connection is seen closed
}

// h2CountingWriter counts bytes written to the connection.
type h2CountingWriter struct {
	c *H2Conn
	w io.Writer
}

func (cw h2CountingWriter) Write(p []byte) (int, error) {
	n, err := cw.w.Write(p)
	cw.c.written.Add(int64(n))
	return n, err
}

// DialH2 opens a TCP (and for TLS targets, TLS with ALPN h2) connection to
// tg and writes the client preface and a SETTINGS frame with settings. It
// does not wait for the server; call Handshake for that.
func DialH2(tg H2Target, settings ...http2.Setting) (*H2Conn, error) {
	return DialH2With(tg, 0, settings...)
}

// DialH2With is DialH2 with the socket's receive buffer set to rcvBuf bytes
// before connecting (0: the system's default, which on loopback grows to
// megabytes). A small buffer makes a client that does not read push back on
// the server at once, instead of after megabytes of replies.
func DialH2With(tg H2Target, rcvBuf int, settings ...http2.Setting) (*H2Conn, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	if rcvBuf > 0 {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvBuf)
			})
			if err != nil {
				return err
			}
			return serr
		}
	}
	var conn net.Conn
	var err error
	start := time.Now()
	if tg.TLS {
		host := tg.Authority
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		conn, err = tls.DialWithDialer(&d, "tcp", tg.Addr, &tls.Config{
			ServerName:         host,
			NextProtos:         []string{"h2"},
			InsecureSkipVerify: true, // self-signed test certificates
		})
		if err != nil {
			return nil, fmt.Errorf("%s: TLS dial %s: %w", tg.Name, tg.Addr, err)
		}
		if p := conn.(*tls.Conn).ConnectionState().NegotiatedProtocol; p != "h2" {
			conn.Close()
			return nil, fmt.Errorf("%s: ALPN negotiated %q, want h2", tg.Name, p)
		}
	} else {
		conn, err = d.Dial("tcp", tg.Addr)
		if err != nil {
			return nil, fmt.Errorf("%s: dial %s: %w", tg.Name, tg.Addr, err)
		}
	}
	c := &H2Conn{Target: tg, Conn: conn, Start: start, nextID: 1,
		streams: map[uint32]*H2Stream{}, rcvd: map[http2.FrameType]int{}, done: make(chan struct{})}
	c.bw = bufio.NewWriterSize(h2CountingWriter{c, conn}, 64<<10)
	c.Fr = http2.NewFramer(c.bw, conn)
	c.Fr.AllowIllegalWrites = true
	c.Fr.ReadMetaHeaders = hpack.NewDecoder(65536, nil)
	c.Fr.MaxHeaderListSize = 1 << 20
	c.Fr.SetMaxReadFrameSize(1 << 24)
	if _, err := c.bw.WriteString(http2.ClientPreface); err != nil {
		conn.Close()
		return nil, err
	}
	if err := c.Fr.WriteSettings(settings...); err != nil {
		conn.Close()
		return nil, err
	}
	if err := c.Flush(5 * time.Second); err != nil {
		conn.Close()
		return nil, fmt.Errorf("%s: writing preface: %w", tg.Name, err)
	}
	return c, nil
}

// Handshake reads until the server's SETTINGS has arrived (and is
// acknowledged) and the server has acknowledged ours, so that later
// behaviour cannot be blamed on an unfinished handshake.
func (c *H2Conn) Handshake(timeout time.Duration) error {
	_ = c.Conn.SetReadDeadline(time.Now().Add(timeout))
	defer func() { _ = c.Conn.SetReadDeadline(time.Time{}) }()
	gotSettings, gotAck := false, false
	for !gotSettings || !gotAck {
		f, err := c.Fr.ReadFrame()
		if err != nil {
			return fmt.Errorf("%s: handshake: %w (server SETTINGS seen: %v, ACK of ours seen: %v)", c.Target.Name, err, gotSettings, gotAck)
		}
		c.record(f)
		if sf, ok := f.(*http2.SettingsFrame); ok {
			if sf.IsAck() {
				gotAck = true
			} else {
				gotSettings = true
				_ = c.Do(func(fr *http2.Framer) error { return fr.WriteSettingsAck() })
				if err := c.Flush(timeout); err != nil {
					return fmt.Errorf("%s: handshake: acknowledging SETTINGS: %w", c.Target.Name, err)
				}
			}
		}
		if ga, ok := f.(*http2.GoAwayFrame); ok {
			return fmt.Errorf("%s: handshake: GOAWAY %v %q", c.Target.Name, ga.ErrCode, ga.DebugData())
		}
	}
	return nil
}

// DialH2Ready is DialH2 followed by Handshake, failing the test on error.
func DialH2Ready(t testing.TB, tg H2Target, settings ...http2.Setting) *H2Conn {
	t.Helper()
	return DialH2ReadyWith(t, tg, 0, settings...)
}

// DialH2ReadyWith is DialH2With followed by Handshake, failing the test on
// error.
func DialH2ReadyWith(t testing.TB, tg H2Target, rcvBuf int, settings ...http2.Setting) *H2Conn {
	t.Helper()
	c, err := DialH2With(tg, rcvBuf, settings...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Handshake(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	return c
}

// Close closes the connection.
func (c *H2Conn) Close() error { return c.Conn.Close() }

// NewStreamID returns the next client stream id (1, 3, 5, ...).
func (c *H2Conn) NewStreamID() uint32 {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	id := c.nextID
	c.nextID += 2
	return id
}

// Do runs fn with the write lock held; fn writes frames into the buffer
// (which goes to the connection whenever it fills: a server that stops
// reading fails the write after 5 s).
func (c *H2Conn) Do(fn func(fr *http2.Framer) error) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	defer func() { _ = c.Conn.SetWriteDeadline(time.Time{}) }()
	return fn(c.Fr)
}

// Flush sends buffered frames, failing after timeout (a server that does not
// read blocks it).
func (c *H2Conn) Flush(timeout time.Duration) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.Conn.SetWriteDeadline(time.Now().Add(timeout))
	err := c.bw.Flush()
	_ = c.Conn.SetWriteDeadline(time.Time{})
	return err
}

// Written is the number of bytes sent to the kernel so far.
func (c *H2Conn) Written() int64 { return c.written.Load() }

// Since is the time since the connection was dialed.
func (c *H2Conn) Since() time.Duration { return time.Since(c.Start) }

// StartReader reads and records every frame from the server until the
// connection ends: responses per stream, GOAWAY, resets. It acknowledges
// SETTINGS and answers PINGs, as a client must.
func (c *H2Conn) StartReader() {
	c.mu.Lock()
	if c.readerOn {
		c.mu.Unlock()
		return
	}
	c.readerOn = true
	c.mu.Unlock()
	go func() {
		for {
			f, err := c.Fr.ReadFrame()
			if err != nil {
				c.markClosed("read: " + h2DescribeErr(err))
				return
			}
			c.record(f)
			switch f := f.(type) {
			case *http2.SettingsFrame:
				if !f.IsAck() {
					_ = c.Do(func(fr *http2.Framer) error { return fr.WriteSettingsAck() })
					_ = c.Flush(time.Second)
				}
			case *http2.PingFrame:
				if !f.IsAck() {
					data := f.Data
					_ = c.Do(func(fr *http2.Framer) error { return fr.WritePing(true, data) })
					_ = c.Flush(time.Second)
				}
			}
		}
	}()
}

// Drain reads frames for up to d without a reader goroutine (for
// connections that did not read during an attack), and reports whether the
// connection was seen closed (EOF, reset or GOAWAY).
func (c *H2Conn) Drain(d time.Duration) bool {
	c.mu.Lock()
	on := c.readerOn
	c.mu.Unlock()
	if on {
		deadline := time.Now().Add(d)
		for !c.IsClosed() && time.Now().Before(deadline) {
			select {
			case <-c.done:
			case <-time.After(10 * time.Millisecond):
			}
		}
		return c.IsClosed()
	}
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		_ = c.Conn.SetReadDeadline(deadline)
		f, err := c.Fr.ReadFrame()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				break
			}
			c.markClosed("read: " + h2DescribeErr(err))
			break
		}
		c.record(f)
		if c.GoAway() != nil {
			break
		}
	}
	_ = c.Conn.SetReadDeadline(time.Time{})
	return c.IsClosed()
}

func h2DescribeErr(err error) string {
	switch {
	case errors.Is(err, io.EOF):
		return "EOF"
	case errors.Is(err, net.ErrClosed):
		return "closed locally"
	}
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && strings.Contains(s, "connection reset") {
		return "connection reset"
	}
	return s
}

func (c *H2Conn) record(f http2.Frame) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rcvd[f.Header().Type]++
	id := f.Header().StreamID
	st := func() *H2Stream {
		s := c.streams[id]
		if s == nil {
			s = &H2Stream{}
			c.streams[id] = s
		}
		return s
	}
	switch f := f.(type) {
	case *http2.MetaHeadersFrame:
		s := st()
		if code, err := strconv.Atoi(f.PseudoValue("status")); err == nil && code >= 200 {
			s.Status = code
			s.Header = http.Header{}
			for _, hf := range f.RegularFields() {
				s.Header.Add(hf.Name, hf.Value)
			}
		}
		if f.StreamEnded() {
			s.Ended = true
		}
	case *http2.DataFrame:
		s := st()
		s.DataBytes += int64(len(f.Data()))
		if f.StreamEnded() {
			s.Ended = true
		}
	case *http2.RSTStreamFrame:
		s := st()
		s.RST, s.RSTCode = true, f.ErrCode
	case *http2.GoAwayFrame:
		if c.goaway == nil {
			c.goaway = &H2GoAway{LastStreamID: f.LastStreamID, Code: f.ErrCode, Debug: string(f.DebugData()), At: time.Since(c.Start)}
		}
	}
}

func (c *H2Conn) markClosed(why string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed, c.closedAt, c.closeErr = true, time.Since(c.Start), why
	close(c.done)
}

// IsClosed reports whether the server ended the connection: GOAWAY, EOF,
// reset, or a failed write.
func (c *H2Conn) IsClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed || c.goaway != nil
}

// Done is closed once the connection is seen to end (by the reader or a
// failed write); a GOAWAY alone does not close it.
func (c *H2Conn) Done() <-chan struct{} { return c.done }

// GoAway returns the first GOAWAY received, or nil.
func (c *H2Conn) GoAway() *H2GoAway {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.goaway == nil {
		return nil
	}
	g := *c.goaway
	return &g
}

// Stream returns a copy of what was received on stream id (nil if nothing).
func (c *H2Conn) Stream(id uint32) *H2Stream {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.streams[id]
	if s == nil {
		return nil
	}
	cp := *s
	return &cp
}

// Received counts the frames of type t received so far.
func (c *H2Conn) Received(t http2.FrameType) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rcvd[t]
}

// EndDescription says how (and when) the connection ended, for messages:
// "GOAWAY ENHANCE_YOUR_CALM (last stream 1201) at 1.2s; then EOF at 1.3s",
// or "still open after 4.1s".
func (c *H2Conn) EndDescription() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var parts []string
	if g := c.goaway; g != nil {
		s := fmt.Sprintf("GOAWAY %v (last stream %d", g.Code, g.LastStreamID)
		if g.Debug != "" {
			s += fmt.Sprintf(", debug %q", g.Debug)
		}
		parts = append(parts, s+fmt.Sprintf(") at %v", g.At.Round(time.Millisecond)))
	}
	if c.closed {
		parts = append(parts, fmt.Sprintf("connection ended (%s) at %v", c.closeErr, c.closedAt.Round(time.Millisecond)))
	}
	if len(parts) == 0 {
		return fmt.Sprintf("still open after %v", time.Since(c.Start).Round(time.Millisecond))
	}
	return strings.Join(parts, "; ")
}

// ClosedAfter is when the connection was first seen ending (GOAWAY or
// close), since dial; ok is false if it has not.
func (c *H2Conn) ClosedAfter() (d time.Duration, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.goaway != nil && (!c.closed || c.goaway.At < c.closedAt):
		return c.goaway.At, true
	case c.closed:
		return c.closedAt, true
	}
	return 0, false
}

// H2FloodResult is what a flood achieved.
type H2FloodResult struct {
	Frames   int           // frames written by the attacker (buffered or sent)
	Bytes    int64         // bytes the kernel accepted
	Elapsed  time.Duration // flood duration
	Stalled  bool          // the server stopped reading (a write blocked for the stall time) without closing
	WriteErr string        // the write error that ended the flood, if any
}

func (r H2FloodResult) String() string {
	s := fmt.Sprintf("%d frames (%d bytes accepted by the kernel) in %v", r.Frames, r.Bytes, r.Elapsed.Round(time.Millisecond))
	if r.Stalled {
		s += ", then the server stopped reading"
	}
	if r.WriteErr != "" {
		s += ", write failed: " + r.WriteErr
	}
	return s
}

// Flood calls write(i) for i = 0, 1, ... in batches of batch frames, flushing
// after each batch, until maxFrames were written, maxDur passed, the
// connection is seen closed, or a write blocks for stall (the server stopped
// reading). write is called with the write lock held.
func (c *H2Conn) Flood(maxFrames int, maxDur, stall time.Duration, batch int, write func(fr *http2.Framer, i int) error) H2FloodResult {
	start := time.Now()
	var r H2FloodResult
	for r.Frames < maxFrames && time.Since(start) < maxDur && !c.IsClosed() {
		c.wmu.Lock()
		// The deadline covers the batch too: the buffer goes to the
		// connection whenever it fills.
		_ = c.Conn.SetWriteDeadline(time.Now().Add(stall))
		var err error
		for j := 0; j < batch && r.Frames < maxFrames; j++ {
			if err = write(c.Fr, r.Frames); err != nil {
				break
			}
			r.Frames++
		}
		if err == nil {
			err = c.bw.Flush()
		}
		_ = c.Conn.SetWriteDeadline(time.Time{})
		c.wmu.Unlock()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				r.Stalled = true
			} else {
				r.WriteErr = h2DescribeErr(err)
				c.markClosed("write: " + r.WriteErr)
			}
			break
		}
	}
	r.Elapsed = time.Since(start)
	r.Bytes = c.Written()
	return r
}

// ---- HPACK encoding by hand ----

// HPACKInt appends an HPACK integer with an n-bit prefix; first holds the
// bits above the prefix.
func HPACKInt(dst []byte, first byte, n uint, v uint64) []byte {
	max := uint64(1)<<n - 1
	if v < max {
		return append(dst, first|byte(v))
	}
	dst = append(dst, first|byte(max))
	v -= max
	for v >= 128 {
		dst = append(dst, byte(v&0x7f|0x80))
		v >>= 7
	}
	return append(dst, byte(v))
}

// HPACKString appends a raw (not Huffman-coded) string literal.
func HPACKString(dst []byte, s string) []byte {
	dst = HPACKInt(dst, 0, 7, uint64(len(s)))
	return append(dst, s...)
}

// HPACKIndexed appends an indexed header field (static 1-61, dynamic 62+).
func HPACKIndexed(dst []byte, i uint64) []byte { return HPACKInt(dst, 0x80, 7, i) }

// HPACKLiteral appends a literal field with a new name, added to the
// dynamic table when index is set, else not.
func HPACKLiteral(dst []byte, name, value string, index bool) []byte {
	if index {
		dst = append(dst, 0x40)
	} else {
		dst = append(dst, 0x00)
	}
	return HPACKString(HPACKString(dst, name), value)
}

// HPACKLiteralName appends a literal field whose name is table entry
// nameIdx, not indexed.
func HPACKLiteralName(dst []byte, nameIdx uint64, value string) []byte {
	return HPACKString(HPACKInt(dst, 0x00, 4, nameIdx), value)
}

// HPACKRequest appends the pseudo-header fields of a request without
// touching the dynamic table.
func HPACKRequest(dst []byte, tg H2Target, method, path string) []byte {
	switch method {
	case "GET":
		dst = HPACKIndexed(dst, 2)
	case "POST":
		dst = HPACKIndexed(dst, 3)
	default:
		dst = HPACKLiteralName(dst, 2, method)
	}
	if tg.TLS {
		dst = HPACKIndexed(dst, 7)
	} else {
		dst = HPACKIndexed(dst, 6)
	}
	dst = HPACKLiteralName(dst, 1, tg.Authority)
	if path == "/" {
		return HPACKIndexed(dst, 4)
	}
	return HPACKLiteralName(dst, 4, path)
}

// WriteRequest writes a HEADERS frame (END_HEADERS set) for a request on a
// new stream and returns the stream id. Call Flush to send it.
func (c *H2Conn) WriteRequest(method, path string, endStream bool, extra ...[2]string) (uint32, error) {
	id := c.NewStreamID()
	block := HPACKRequest(nil, c.Target, method, path)
	for _, kv := range extra {
		block = HPACKLiteral(block, kv[0], kv[1], false)
	}
	err := c.Do(func(fr *http2.Framer) error {
		return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block, EndStream: endStream, EndHeaders: true})
	})
	return id, err
}

// ---- a backend that counts what reaches it ----

// H2Backend is an HTTP/1.1 backend on loopback. Every request is counted by
// its first path segment ("/attack/x" counts as "attack"); the body is read
// and discarded and "ok" answered, except /big?n=BYTES, which answers BYTES
// bytes in 16 KiB writes, and paths whose first segment ends in "-slow",
// answered after 100 ms of "work" (unless the request is cancelled first).
type H2Backend struct {
	srv      *http.Server
	ln       net.Listener
	mu       sync.Mutex
	counts   map[string]int
	open     atomic.Int64 // TCP connections open now
	total    atomic.Int64 // TCP connections accepted
	bigBytes atomic.Int64 // bytes of /big bodies written so far
	bigLive  atomic.Int64 // /big handlers running
}

// NewH2Backend starts a backend, stopped when the test ends.
func NewH2Backend(t testing.TB) *H2Backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &H2Backend{ln: ln, counts: map[string]int{}}
	chunk := make([]byte, 16<<10)
	for i := range chunk {
		chunk[i] = 'a' + byte(i%26)
	}
	b.srv = &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    1 << 20,
		ConnState: func(_ net.Conn, s http.ConnState) {
			switch s {
			case http.StateNew:
				b.open.Add(1)
				b.total.Add(1)
			case http.StateClosed, http.StateHijacked:
				b.open.Add(-1)
			}
		},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			seg := strings.TrimPrefix(r.URL.Path, "/")
			if i := strings.IndexByte(seg, '/'); i >= 0 {
				seg = seg[:i]
			}
			b.mu.Lock()
			b.counts[seg]++
			b.mu.Unlock()
			_, _ = io.Copy(io.Discard, r.Body)
			if strings.HasSuffix(seg, "-slow") {
				select {
				case <-r.Context().Done():
					return
				case <-time.After(100 * time.Millisecond):
				}
			}
			if seg == "big" {
				n, _ := strconv.ParseInt(r.URL.Query().Get("n"), 10, 64)
				b.bigLive.Add(1)
				defer b.bigLive.Add(-1)
				w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
				for n > 0 {
					k := min(n, int64(len(chunk)))
					m, err := w.Write(chunk[:k])
					b.bigBytes.Add(int64(m))
					if err != nil {
						return
					}
					n -= k
				}
				return
			}
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, "ok from backend\n")
		}),
	}
	go func() { _ = b.srv.Serve(ln) }()
	t.Cleanup(func() { _ = b.srv.Close() })
	return b
}

// Addr is the backend's host:port.
func (b *H2Backend) Addr() string { return b.ln.Addr().String() }

// Port is the backend's port.
func (b *H2Backend) Port() int { return b.ln.Addr().(*net.TCPAddr).Port }

// Count is the number of requests whose first path segment is seg.
func (b *H2Backend) Count(seg string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.counts[seg]
}

// OpenConns is the number of TCP connections to the backend open now.
func (b *H2Backend) OpenConns() int64 { return b.open.Load() }

// BigBytes is the number of /big body bytes written so far, and the number
// of /big handlers running.
func (b *H2Backend) BigBytes() (written, live int64) { return b.bigBytes.Load(), b.bigLive.Load() }

// H2Manifests returns standalone manifests routing every path of every host
// to backend b (a host-less rule, served on both ports), plus an Ingress
// with spec.tls for tlsHost, whose certificate is the Secret of
// examples/tls (read from secretYAML, a test-only key). The objects live in
// Namespace, with the IngressClass portico.
func H2Manifests(b *H2Backend, tlsHost, secretYAML string) map[string]string {
	secret := strings.ReplaceAll(secretYAML, "namespace: demo", "namespace: "+Namespace)
	secret = strings.ReplaceAll(secret, "name: secure-tls", "name: h2edge-tls")
	return map[string]string{
		"h2-class.yaml": IngressClass(),
		"h2-backend.yaml": fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: h2backend, namespace: %[2]s}
spec:
  ports: [{name: http, port: 80}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: h2backend-1, namespace: %[2]s, labels: {kubernetes.io/service-name: h2backend}}
addressType: IPv4
ports: [{name: http, port: %[1]d}]
endpoints: [{addresses: ["127.0.0.1"]}]
`, b.Port(), Namespace),
		"h2-ingress.yaml": fmt.Sprintf(`apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: h2-any, namespace: %[2]s}
spec:
  ingressClassName: portico
  rules:
  - http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service: {name: h2backend, port: {name: http}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: h2-tls, namespace: %[2]s}
spec:
  ingressClassName: portico
  tls:
  - hosts: [%[1]s]
    secretName: h2edge-tls
  rules:
  - host: %[1]s
    http:
      paths:
      - path: /
        pathType: Prefix
        backend:
          service: {name: h2backend, port: {name: http}}
`, tlsHost, Namespace),
		"h2-secret.yaml": secret,
	}
}

// ---- a normal client that must keep working during an attack ----

// H2Prober sends GET requests over its own HTTP/2 connection (net/http, h2c
// or h2 by ALPN) one after another, every interval, until stopped, and
// records every failure.
type H2Prober struct {
	Target   H2Target
	client   *http.Client
	tr       *http.Transport
	cancel   context.CancelFunc
	done     chan struct{}
	mu       sync.Mutex
	ok       int
	failures []string
	failed   int
	maxLat   time.Duration
}

// NewH2Transport returns an http.Transport that speaks only HTTP/2 to tg
// (prior knowledge for h2c, ALPN for TLS), with certificate checks off.
func NewH2Transport(tg H2Target) *http.Transport {
	tr := &http.Transport{Protocols: new(http.Protocols), MaxIdleConnsPerHost: 1, DisableCompression: true}
	if tg.TLS {
		host := tg.Authority
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		tr.TLSClientConfig = &tls.Config{ServerName: host, InsecureSkipVerify: true}
		tr.Protocols.SetHTTP2(true)
	} else {
		tr.Protocols.SetUnencryptedHTTP2(true)
	}
	return tr
}

// StartH2Prober starts probing tg's path; Stop ends it.
func StartH2Prober(t testing.TB, tg H2Target, path string, interval time.Duration) *H2Prober {
	tr := NewH2Transport(tg)
	p := &H2Prober{Target: tg, tr: tr, client: &http.Client{Transport: tr, Timeout: 5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	url := tg.Scheme() + "://" + tg.Addr + path
	go func() {
		defer close(p.done)
		for ctx.Err() == nil {
			start := time.Now()
			err := p.once(ctx, url)
			lat := time.Since(start)
			if ctx.Err() != nil && err != nil {
				return // stopped mid-request: not a failure
			}
			p.mu.Lock()
			if err != nil {
				p.failed++
				if len(p.failures) < 5 {
					p.failures = append(p.failures, fmt.Sprintf("at %s: %v", time.Now().Format("15:04:05.000"), err))
				}
			} else {
				p.ok++
			}
			p.maxLat = max(p.maxLat, lat)
			p.mu.Unlock()
			select {
			case <-ctx.Done():
			case <-time.After(interval):
			}
		}
	}()
	t.Cleanup(p.Stop)
	return p
}

func (p *H2Prober) once(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	req.Host = p.Target.Authority
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("reading body: %w", err)
	}
	if resp.ProtoMajor != 2 {
		return fmt.Errorf("served over %s, not HTTP/2", resp.Proto)
	}
	if resp.StatusCode != 200 || !strings.Contains(string(body), "ok from backend") {
		return fmt.Errorf("status %d, body %.80q", resp.StatusCode, body)
	}
	return nil
}

// Stop ends probing and closes the prober's connections.
func (p *H2Prober) Stop() {
	p.cancel()
	<-p.done
	p.tr.CloseIdleConnections()
}

// Result returns successes, failures, the first failures and the slowest
// request's latency.
func (p *H2Prober) Result() (ok, failed int, first []string, maxLat time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ok, p.failed, append([]string(nil), p.failures...), p.maxLat
}

// ---- memory ----

// H2RSSWatch samples a process's resident set size until stopped.
type H2RSSWatch struct {
	stop chan struct{}
	done chan struct{}
	max  atomic.Int64
}

// H2WatchRSS samples rss (bytes) every interval.
func H2WatchRSS(rss func() int64, every time.Duration) *H2RSSWatch {
	w := &H2RSSWatch{stop: make(chan struct{}), done: make(chan struct{})}
	w.max.Store(rss())
	go func() {
		defer close(w.done)
		tk := time.NewTicker(every)
		defer tk.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-tk.C:
				if v := rss(); v > w.max.Load() {
					w.max.Store(v)
				}
			}
		}
	}()
	return w
}

// Stop ends sampling and returns the largest RSS seen.
func (w *H2RSSWatch) Stop() int64 {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
	return w.max.Load()
}

// Max is the largest RSS seen so far.
func (w *H2RSSWatch) Max() int64 { return w.max.Load() }

// H2MiB formats bytes as MiB.
func H2MiB(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
