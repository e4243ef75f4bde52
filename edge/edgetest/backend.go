package edgetest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Backend limits.
const (
	// backendMaxHeader bounds a request's head (request line and fields) as
	// the backend reads it: larger than Portico's 64 KiB so that the backend
	// can show what Portico forwarded.
	backendMaxHeader = 1 << 20
	// backendMaxBody bounds a request body the backend keeps.
	backendMaxBody = 16 << 20
	// maxRequestsPerConn bounds the requests served on one connection.
	maxRequestsPerConn = 100000
	// maxEchoReads bounds the reads echoed on an upgraded connection.
	maxEchoReads = 100000
)

// Field is one header (or trailer) field as received, in order, with the
// name as written on the wire.
type Field struct {
	Name, Value string
}

// Request is one request a Backend received from Portico.
type Request struct {
	Backend string // name of the Backend
	Conn    int    // upstream connection id (1-based, per Backend)
	Seq     int    // index of the request on its connection (0-based)

	Method, Target, Proto string
	Header                []Field
	Trailer               []Field
	Body                  []byte
	Chunked               bool // framed with Transfer-Encoding: chunked
	ContentLength         int64
	// Complete is true once the whole body (by its framing) was received;
	// false while it is still being read, or when it was cut (EOF, timeout)
	// or malformed, Err then says which.
	Complete bool
	// Err is set when the request was malformed or ambiguous as the backend
	// read it (a desynchronised upstream connection, a second framing, …)
	// or its body was cut; "" for a clean request.
	Err string
	// Answered is true once the backend wrote its response.
	Answered bool
	// Upgraded is true when the backend answered 101 Switching Protocols.
	Upgraded bool
	Received time.Time // head fully read
	Done     time.Time // body complete or cut
}

// Path is the path part of the request-target (up to "?").
func (r Request) Path() string {
	p, _, _ := strings.Cut(r.Target, "?")
	return p
}

// Get returns the first value of the header field name (case-insensitive),
// or "".
func (r Request) Get(name string) string {
	for _, f := range r.Header {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// Values returns every value of the header field name (case-insensitive).
func (r Request) Values(name string) []string {
	var out []string
	for _, f := range r.Header {
		if strings.EqualFold(f.Name, name) {
			out = append(out, f.Value)
		}
	}
	return out
}

// Has reports whether the header field name is present (case-insensitive).
func (r Request) Has(name string) bool {
	for _, f := range r.Header {
		if strings.EqualFold(f.Name, name) {
			return true
		}
	}
	return false
}

// String summarises the request for failure messages.
func (r Request) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s conn#%d req#%d: %q", r.Backend, r.Conn, r.Seq, r.Method+" "+r.Target+" "+r.Proto)
	for _, f := range r.Header {
		fmt.Fprintf(&b, " [%s: %q]", f.Name, f.Value)
	}
	if len(r.Trailer) > 0 {
		fmt.Fprintf(&b, " trailers %v", r.Trailer)
	}
	switch {
	case r.Chunked:
		b.WriteString(" chunked")
	case r.ContentLength > 0:
		fmt.Fprintf(&b, " CL=%d", r.ContentLength)
	}
	fmt.Fprintf(&b, " body=%s complete=%v", quoteTrunc(string(r.Body), 120), r.Complete)
	if r.Err != "" {
		fmt.Fprintf(&b, " ERROR=%q", r.Err)
	}
	return b.String()
}

// Conn is one upstream connection from Portico to a Backend.
type Conn struct {
	ID       int
	Remote   string
	Opened   time.Time
	Closed   time.Time // zero while open
	Open     bool
	Requests []Request
}

// BackendOption configures NewBackend.
type BackendOption func(*backendOptions)

type backendOptions struct {
	name        string
	delay       func(Request) time.Duration
	idleTimeout time.Duration
	bodyTimeout time.Duration
	upgrade     bool
}

// WithName names the Backend (X-Backend response header, Request.Backend);
// default "backend".
func WithName(name string) BackendOption { return func(o *backendOptions) { o.name = name } }

// WithDelay makes the backend wait d after reading a request before it
// answers (a slow backend).
func WithDelay(d time.Duration) BackendOption {
	return func(o *backendOptions) { o.delay = func(Request) time.Duration { return d } }
}

// WithDelayFunc makes the backend wait f(request) before answering.
func WithDelayFunc(f func(Request) time.Duration) BackendOption {
	return func(o *backendOptions) { o.delay = f }
}

// WithIdleTimeout closes keep-alive connections idle for d between requests
// (default 60s), as real servers do; it lets tests see Portico's pooled
// upstream connections go away.
func WithIdleTimeout(d time.Duration) BackendOption {
	return func(o *backendOptions) { o.idleTimeout = d }
}

// WithBodyTimeout bounds the wait for a request body (default 90s); a body
// not complete by then is recorded as cut.
func WithBodyTimeout(d time.Duration) BackendOption {
	return func(o *backendOptions) { o.bodyTimeout = d }
}

// WithUpgrade makes the backend accept any protocol upgrade it is asked
// for: a request with Connection: upgrade and an Upgrade header is answered
// 101 Switching Protocols (with the same Upgrade value and X-Backend), and
// the connection then echoes what it receives. Tests use it to see whether
// Portico tunnels an upgrade it should not.
func WithUpgrade() BackendOption { return func(o *backendOptions) { o.upgrade = true } }

// Backend is a raw-TCP HTTP/1.1 origin server on 127.0.0.1 that parses
// requests itself, strictly (CRLF line endings, token field names, no
// obs-fold, exactly one of Content-Length or chunked Transfer-Encoding, a
// well-formed chunked body), and records every request per connection. It
// answers 200 with the request-target as the body (Content-Type
// text/plain) and the headers X-Backend (its name), X-Backend-Conn and
// X-Backend-Seq. A request it cannot parse is recorded with Err set and
// answered 400, and the connection is closed.
type Backend struct {
	opts backendOptions
	ln   net.Listener

	mu     sync.Mutex
	conns  []*connState
	reqs   []*Request
	closed bool
	wg     sync.WaitGroup
}

type connState struct {
	rec  Conn
	reqs []*Request
	c    net.Conn
}

// NewBackend starts a Backend on 127.0.0.1 (random port). It is closed when
// the test ends.
func NewBackend(t testing.TB, opts ...BackendOption) *Backend {
	t.Helper()
	o := backendOptions{name: "backend", idleTimeout: 60 * time.Second, bodyTimeout: 90 * time.Second}
	for _, f := range opts {
		f(&o)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("backend %s: listen on 127.0.0.1: %v", o.name, err)
	}
	b := &Backend{opts: o, ln: ln}
	b.wg.Add(1)
	go b.accept()
	t.Cleanup(b.Close)
	return b
}

// Addr is the backend's host:port (127.0.0.1:port).
func (b *Backend) Addr() string { return b.ln.Addr().String() }

// Port is the backend's port.
func (b *Backend) Port() int { return b.ln.Addr().(*net.TCPAddr).Port }

// Name is the backend's name.
func (b *Backend) Name() string { return b.opts.name }

// Close stops the backend and closes every connection.
func (b *Backend) Close() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	for _, c := range b.conns {
		_ = c.c.Close()
	}
	b.mu.Unlock()
	_ = b.ln.Close()
	done := make(chan struct{})
	go func() { b.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
}

// Requests returns every request received so far, in arrival order.
func (b *Backend) Requests() []Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Request, len(b.reqs))
	for i, r := range b.reqs {
		out[i] = *r
	}
	return out
}

// Mark returns the number of requests received so far, for Since.
func (b *Backend) Mark() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.reqs)
}

// Since returns the requests received after Mark returned mark.
func (b *Backend) Since(mark int) []Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	if mark > len(b.reqs) {
		mark = len(b.reqs)
	}
	out := make([]Request, 0, len(b.reqs)-mark)
	for _, r := range b.reqs[mark:] {
		out = append(out, *r)
	}
	return out
}

// Conns returns every upstream connection accepted so far with its
// requests.
func (b *Backend) Conns() []Conn {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Conn, len(b.conns))
	for i, c := range b.conns {
		out[i] = c.rec
		out[i].Requests = make([]Request, len(c.reqs))
		for j, r := range c.reqs {
			out[i].Requests[j] = *r
		}
	}
	return out
}

// OpenConns returns how many upstream connections are open now.
func (b *Backend) OpenConns() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, c := range b.conns {
		if c.rec.Open {
			n++
		}
	}
	return n
}

// Pinned returns how many open upstream connections are in the middle of a
// request: head received, not answered yet (waiting for the body or the
// backend's delay).
func (b *Backend) Pinned() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, c := range b.conns {
		if !c.rec.Open || len(c.reqs) == 0 {
			continue
		}
		if r := c.reqs[len(c.reqs)-1]; !r.Answered {
			n++
		}
	}
	return n
}

// WaitRequests waits up to d until the backend has received at least n
// requests in total and returns them.
func (b *Backend) WaitRequests(n int, d time.Duration) []Request {
	deadline := time.Now().Add(d)
	for {
		if rs := b.Requests(); len(rs) >= n || time.Now().After(deadline) {
			return rs
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (b *Backend) accept() {
	defer b.wg.Done()
	for {
		c, err := b.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			c.Close()
			return
		}
		cs := &connState{c: c, rec: Conn{ID: len(b.conns) + 1, Remote: c.RemoteAddr().String(), Opened: time.Now(), Open: true}}
		b.conns = append(b.conns, cs)
		b.wg.Add(1)
		b.mu.Unlock()
		go b.serve(cs)
	}
}

// update runs f on r under the lock.
func (b *Backend) update(r *Request, f func(*Request)) {
	b.mu.Lock()
	f(r)
	b.mu.Unlock()
}

func (b *Backend) serve(cs *connState) {
	defer b.wg.Done()
	defer func() {
		cs.c.Close()
		b.mu.Lock()
		cs.rec.Open = false
		cs.rec.Closed = time.Now()
		b.mu.Unlock()
	}()
	br := bufio.NewReaderSize(cs.c, 64<<10)
	for seq := 0; seq < maxRequestsPerConn; seq++ {
		_ = cs.c.SetReadDeadline(time.Now().Add(b.opts.idleTimeout))
		if _, err := br.Peek(1); err != nil {
			return // idle close, EOF, or closed by Close
		}
		// The head must arrive in reasonable time once started.
		_ = cs.c.SetReadDeadline(time.Now().Add(30 * time.Second))
		r := &Request{Backend: b.opts.name, Conn: cs.rec.ID, Seq: seq}
		herr := readHead(br, r)
		r.Received = time.Now()
		b.mu.Lock()
		cs.reqs = append(cs.reqs, r)
		b.reqs = append(b.reqs, r)
		b.mu.Unlock()
		if herr != nil {
			b.update(r, func(r *Request) { r.Err = "malformed head: " + herr.Error(); r.Done = time.Now() })
			b.reject(cs.c, r)
			return
		}
		b.mu.Lock()
		ferr := frame(r)
		b.mu.Unlock()
		if ferr != nil {
			b.update(r, func(r *Request) { r.Err = "bad framing: " + ferr.Error(); r.Done = time.Now() })
			b.reject(cs.c, r)
			return
		}
		if !r.Chunked && r.ContentLength == 0 {
			b.update(r, func(r *Request) { r.Complete = true; r.Done = time.Now() })
		} else {
			_ = cs.c.SetReadDeadline(time.Now().Add(b.opts.bodyTimeout))
			berr := b.readBody(br, r)
			if berr != nil {
				b.update(r, func(r *Request) { r.Err = "body: " + berr.Error(); r.Done = time.Now() })
				return
			}
			b.update(r, func(r *Request) { r.Complete = true; r.Done = time.Now() })
		}
		_ = cs.c.SetReadDeadline(time.Time{})
		snap := b.snapshot(r)
		if b.opts.upgrade && snap.Get("Upgrade") != "" && headerHasToken(snap.Values("Connection"), "upgrade") {
			b.upgrade(cs.c, br, r)
			return
		}
		if b.opts.delay != nil {
			if d := b.opts.delay(snap); d > 0 && !b.sleep(d) {
				return
			}
		}
		closeAfter := r.Proto == "HTTP/1.0" || headerHasToken(snap.Values("Connection"), "close")
		if !b.respond(cs.c, r, 200, "OK", closeAfter) || closeAfter {
			return
		}
	}
}

func (b *Backend) snapshot(r *Request) Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return *r
}

// sleep waits d or until the backend is closed; it reports whether d passed.
func (b *Backend) sleep(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		b.mu.Lock()
		closed := b.closed
		b.mu.Unlock()
		if closed {
			return false
		}
		time.Sleep(min(50*time.Millisecond, time.Until(deadline)))
	}
	return true
}

func (b *Backend) respond(c net.Conn, r *Request, code int, reason string, closeAfter bool) bool {
	body := r.Target
	if code != 200 {
		body = "backend " + b.opts.name + " rejected the request: " + r.Err
	}
	var h strings.Builder
	fmt.Fprintf(&h, "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nX-Backend: %s\r\nX-Backend-Conn: %d\r\nX-Backend-Seq: %d\r\nContent-Length: %d\r\n",
		code, reason, b.opts.name, r.Conn, r.Seq, len(body))
	if closeAfter {
		h.WriteString("Connection: close\r\n")
	}
	h.WriteString("\r\n")
	if r.Method != "HEAD" {
		h.WriteString(body)
	}
	_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := io.WriteString(c, h.String())
	b.update(r, func(r *Request) { r.Answered = true })
	return err == nil
}

func (b *Backend) reject(c net.Conn, r *Request) {
	b.respond(c, r, 400, "Bad Request", true)
}

func (b *Backend) upgrade(c net.Conn, br *bufio.Reader, r *Request) {
	proto := b.snapshot(r).Get("Upgrade")
	_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := fmt.Fprintf(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: %s\r\nConnection: Upgrade\r\nX-Backend: %s\r\nX-Backend-Conn: %d\r\n\r\n",
		proto, b.opts.name, r.Conn)
	b.update(r, func(r *Request) { r.Answered = true; r.Upgraded = true })
	if err != nil {
		return
	}
	// Echo until EOF or 30s of silence.
	buf := make([]byte, 4096)
	for range maxEchoReads {
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		n, err := br.Read(buf)
		if n > 0 {
			_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// readLine reads one line that must end in CRLF, holds no other CR, LF or
// NUL, and fits in the remaining head budget.
func readLine(br *bufio.Reader, budget *int) (string, error) {
	var line []byte
	for {
		frag, err := br.ReadSlice('\n')
		line = append(line, frag...)
		if len(line) > *budget {
			return "", fmt.Errorf("head larger than %d bytes", backendMaxHeader)
		}
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if len(line) == 0 && errors.Is(err, io.EOF) {
			return "", io.EOF
		}
		return "", fmt.Errorf("after %q: %w", truncate(string(line), 80), err)
	}
	*budget -= len(line)
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return "", fmt.Errorf("line %q ends in a bare LF", truncate(string(line), 80))
	}
	s := string(line[:len(line)-2])
	if i := strings.IndexAny(s, "\r\n\x00"); i >= 0 {
		return "", fmt.Errorf("line %q holds %q", truncate(s, 80), s[i])
	}
	return s, nil
}

func readHead(br *bufio.Reader, r *Request) error {
	budget := backendMaxHeader
	line, err := readLine(br, &budget)
	if err != nil {
		return fmt.Errorf("request line: %w", err)
	}
	parts := strings.Split(line, " ")
	if len(parts) != 3 {
		return fmt.Errorf("request line %q is not METHOD SP TARGET SP VERSION", truncate(line, 120))
	}
	r.Method, r.Target, r.Proto = parts[0], parts[1], parts[2]
	if !isToken(r.Method) {
		return fmt.Errorf("method %q is not a token", r.Method)
	}
	if r.Target == "" || strings.IndexFunc(r.Target, func(c rune) bool { return c <= ' ' || c == 0x7f }) >= 0 {
		return fmt.Errorf("request-target %q is empty or holds whitespace/controls", r.Target)
	}
	if r.Proto != "HTTP/1.1" && r.Proto != "HTTP/1.0" {
		return fmt.Errorf("version %q is not HTTP/1.1 or HTTP/1.0", r.Proto)
	}
	for {
		line, err := readLine(br, &budget)
		if err != nil {
			return fmt.Errorf("header: %w", err)
		}
		if line == "" {
			return nil
		}
		f, err := parseField(line)
		if err != nil {
			return err
		}
		r.Header = append(r.Header, f)
	}
}

func parseField(line string) (Field, error) {
	if line[0] == ' ' || line[0] == '\t' {
		return Field{}, fmt.Errorf("obs-fold (line starts with whitespace): %q", truncate(line, 80))
	}
	name, value, ok := strings.Cut(line, ":")
	if !ok {
		return Field{}, fmt.Errorf("field line without colon: %q", truncate(line, 80))
	}
	if !isToken(name) {
		return Field{}, fmt.Errorf("field name %q is not a token", truncate(name, 80))
	}
	value = strings.Trim(value, " \t")
	for i := 0; i < len(value); i++ {
		if c := value[i]; c < ' ' && c != '\t' || c == 0x7f {
			return Field{}, fmt.Errorf("field %s value holds control byte %#x", name, c)
		}
	}
	return Field{Name: name, Value: value}, nil
}

// frame decides the body framing: exactly one of Content-Length (one
// decimal value, repeated identically at most) or Transfer-Encoding
// chunked (HTTP/1.1 only), as RFC 9112 §6 requires of a sender.
func frame(r *Request) error {
	te := r.Values("Transfer-Encoding")
	cl := r.Values("Content-Length")
	if len(te) > 0 {
		if r.Proto != "HTTP/1.1" {
			return fmt.Errorf("Transfer-Encoding %q in %s", te, r.Proto)
		}
		if len(cl) > 0 {
			return fmt.Errorf("both Transfer-Encoding %q and Content-Length %q", te, cl)
		}
		if len(te) != 1 || !strings.EqualFold(te[0], "chunked") {
			return fmt.Errorf("Transfer-Encoding %q is not exactly chunked", te)
		}
		r.Chunked = true
		return nil
	}
	if len(cl) == 0 {
		return nil
	}
	var n int64 = -1
	for _, v := range cl {
		for _, e := range strings.Split(v, ",") {
			e = strings.Trim(e, " \t")
			if e == "" || strings.TrimLeft(e, "0123456789") != "" || len(e) > 18 {
				return fmt.Errorf("Content-Length %q is not a decimal number", cl)
			}
			m, _ := strconv.ParseInt(e, 10, 64)
			if n >= 0 && m != n {
				return fmt.Errorf("Content-Length values %q differ", cl)
			}
			n = m
		}
	}
	if n > backendMaxBody {
		return fmt.Errorf("Content-Length %d larger than the test backend keeps (%d)", n, backendMaxBody)
	}
	r.ContentLength = n
	return nil
}

func (b *Backend) readBody(br *bufio.Reader, r *Request) error {
	if !r.Chunked {
		buf := make([]byte, r.ContentLength)
		n, err := io.ReadFull(br, buf)
		b.update(r, func(r *Request) { r.Body = buf[:n] })
		if err != nil {
			return fmt.Errorf("cut: %d of %d bytes, then %w", n, r.ContentLength, err)
		}
		return nil
	}
	var body []byte
	budget := backendMaxHeader
	for {
		line, err := readLine(br, &budget)
		if err != nil {
			b.update(r, func(r *Request) { r.Body = body })
			return fmt.Errorf("cut or malformed chunk-size line after %d body bytes: %w", len(body), err)
		}
		size, err := parseChunkSize(line)
		if err != nil {
			b.update(r, func(r *Request) { r.Body = body })
			return err
		}
		if size == 0 {
			break
		}
		if int64(len(body))+size > backendMaxBody {
			return fmt.Errorf("chunked body larger than %d bytes", backendMaxBody)
		}
		chunk := make([]byte, size)
		n, err := io.ReadFull(br, chunk)
		body = append(body, chunk[:n]...)
		b.update(r, func(r *Request) { r.Body = body })
		if err != nil {
			return fmt.Errorf("cut: chunk of %d bytes, got %d, then %w", size, n, err)
		}
		crlf := make([]byte, 2)
		if _, err := io.ReadFull(br, crlf); err != nil || string(crlf) != "\r\n" {
			return fmt.Errorf("chunk data not followed by CRLF (got %q, %w)", crlf, err)
		}
	}
	for {
		line, err := readLine(br, &budget)
		if err != nil {
			return fmt.Errorf("trailer section: %w", err)
		}
		if line == "" {
			return nil
		}
		f, err := parseField(line)
		if err != nil {
			return fmt.Errorf("trailer: %w", err)
		}
		b.update(r, func(r *Request) { r.Trailer = append(r.Trailer, f) })
	}
}

// parseChunkSize parses chunk-size [ chunk-ext ] strictly.
func parseChunkSize(line string) (int64, error) {
	hex, ext, _ := strings.Cut(line, ";")
	if hex == "" || len(hex) > 15 || strings.TrimLeft(hex, "0123456789abcdefABCDEF") != "" {
		return 0, fmt.Errorf("chunk-size line %q is not hex digits [; ext]", truncate(line, 80))
	}
	for i := 0; i < len(ext); i++ {
		if c := ext[i]; c < ' ' && c != '\t' || c == 0x7f {
			return 0, fmt.Errorf("chunk extension %q holds control byte %#x", truncate(ext, 80), c)
		}
	}
	n, err := strconv.ParseInt(hex, 16, 64)
	if err != nil {
		return 0, fmt.Errorf("chunk-size %q: %w", hex, err)
	}
	return n, nil
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTchar(s[i]) {
			return false
		}
	}
	return true
}

func isTchar(c byte) bool {
	if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// headerHasToken reports whether a comma-separated list header holds tok
// (case-insensitive).
func headerHasToken(values []string, tok string) bool {
	for _, v := range values {
		for _, e := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(e), tok) {
				return true
			}
		}
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// quoteTrunc quotes s (Go syntax), cutting it to n bytes first.
func quoteTrunc(s string, n int) string {
	if len(s) <= n {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:n]) + fmt.Sprintf("…(%d bytes)", len(s))
}
