package edgetest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Client-side timeouts.
const (
	// DialTimeout bounds connecting to Portico.
	DialTimeout = 5 * time.Second
	// FirstResponseTimeout is how long Exchange waits for the first byte of
	// the first response.
	FirstResponseTimeout = 10 * time.Second
	// maxResponses bounds how many responses Exchange reads from one
	// connection.
	maxResponses = 16
	maxRespBody  = 4 << 20
)

// Response is one HTTP/1.x response as read from the wire.
type Response struct {
	Proto      string
	Status     int
	Reason     string
	StatusLine string
	Header     http.Header
	Body       []byte
	// CloseDelimited is true when the body had no length and ended with
	// the connection.
	CloseDelimited bool
}

// String summarises the response for failure messages.
func (r *Response) String() string {
	if r == nil {
		return "<no response>"
	}
	s := r.StatusLine
	if b := r.Header.Get("X-Backend"); b != "" {
		s += " [X-Backend: " + b + "]"
	}
	if r.Header.Get("Connection") != "" {
		s += " [Connection: " + r.Header.Get("Connection") + "]"
	}
	return s + " body=" + quoteTrunc(string(r.Body), 100)
}

// RawConn is a client TCP connection to Portico on which tests write exact
// bytes.
type RawConn struct {
	net.Conn
	br *bufio.Reader
}

// Dial connects to addr (DialTimeout) and closes the connection when the
// test ends. A failure is fatal.
func Dial(t testing.TB, addr string) *RawConn {
	t.Helper()
	c, err := DialRaw(addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// DialRaw connects to addr without a test (the caller closes it).
func DialRaw(addr string) (*RawConn, error) {
	c, err := net.DialTimeout("tcp", addr, DialTimeout)
	if err != nil {
		return nil, err
	}
	return &RawConn{Conn: c, br: bufio.NewReaderSize(c, 64<<10)}, nil
}

// Send writes s within 10 seconds.
func (c *RawConn) Send(s string) error {
	_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := io.WriteString(c.Conn, s)
	return err
}

// ReadResponse reads one response within d. Responses to HEAD are not
// supported (their headers announce a body that is not sent).
func (c *RawConn) ReadResponse(d time.Duration) (*Response, error) {
	_ = c.SetReadDeadline(time.Now().Add(d))
	return readResponse(c.br)
}

// ReadFull reads exactly n bytes within d (after a 101, the tunnel).
func (c *RawConn) ReadFull(n int, d time.Duration) ([]byte, error) {
	_ = c.SetReadDeadline(time.Now().Add(d))
	b := make([]byte, n)
	m, err := io.ReadFull(c.br, b)
	return b[:m], err
}

// Buffered returns the bytes already read from the connection but not
// consumed by a response.
func (c *RawConn) Buffered() []byte {
	b, _ := c.br.Peek(c.br.Buffered())
	return b
}

// WaitClosed waits up to d for the peer to close the connection. closed is
// true on EOF or reset; data holds whatever arrived meanwhile (at most
// 64 KiB is kept); how says "EOF", "reset", "timeout" or the error.
func (c *RawConn) WaitClosed(d time.Duration) (closed bool, data []byte, how string) {
	deadline := time.Now().Add(d)
	_ = c.SetReadDeadline(deadline)
	buf := make([]byte, 4096)
	for {
		n, err := c.br.Read(buf)
		if n > 0 && len(data) < 64<<10 {
			data = append(data, buf[:n]...)
		}
		if err != nil {
			closed, how = classifyClose(err)
			return closed, data, how
		}
	}
}

// classifyClose tells whether err from a read means the peer closed the
// connection.
func classifyClose(err error) (closed bool, how string) {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF):
		return true, "EOF"
	case errors.Is(err, syscall.ECONNRESET):
		return true, "reset"
	case errors.As(err, &ne) && ne.Timeout():
		return false, "timeout"
	default:
		return false, err.Error()
	}
}

// Result is what Exchange saw.
type Result struct {
	// Responses in order. A 100 Continue counts as a response.
	Responses []*Response
	// Closed is true when Portico closed the connection (EOF or reset)
	// within the quiet period after the last response.
	Closed bool
	// How the read loop ended: "EOF", "reset", "timeout" (connection left
	// open), "101" (upgraded; the rest is a tunnel), or an error.
	How string
	// WriteErr is set when writing the request failed (Portico closed the
	// connection early; not necessarily a failure).
	WriteErr error
	// ReadErr is set when bytes arrived that are not a valid response.
	ReadErr error
	// Trailing holds bytes received after the last response that did not
	// form one.
	Trailing []byte
	Elapsed  time.Duration
}

// First returns the first response, or nil.
func (r Result) First() *Response {
	if len(r.Responses) == 0 {
		return nil
	}
	return r.Responses[0]
}

// Codes returns the status codes of the responses.
func (r Result) Codes() []int {
	out := make([]int, len(r.Responses))
	for i, resp := range r.Responses {
		out[i] = resp.Status
	}
	return out
}

// String summarises the result for failure messages.
func (r Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d response(s)", len(r.Responses))
	for i, resp := range r.Responses {
		fmt.Fprintf(&b, "\n      #%d %s", i+1, resp)
	}
	fmt.Fprintf(&b, "\n    connection: ")
	if r.Closed {
		fmt.Fprintf(&b, "closed by Portico (%s)", r.How)
	} else {
		fmt.Fprintf(&b, "left open (%s)", r.How)
	}
	if r.WriteErr != nil {
		fmt.Fprintf(&b, "; write error: %v", r.WriteErr)
	}
	if r.ReadErr != nil {
		fmt.Fprintf(&b, "; unparsable response bytes: %v", r.ReadErr)
	}
	if len(r.Trailing) > 0 {
		fmt.Fprintf(&b, "; trailing bytes %s", quoteTrunc(string(r.Trailing), 120))
	}
	fmt.Fprintf(&b, "; after %s", r.Elapsed.Round(time.Millisecond))
	return b.String()
}

// Exchange connects to addr, writes raw, and reads every response Portico
// sends until it closes the connection or sends nothing more for quiet
// (the first response gets FirstResponseTimeout). It never fails the test;
// only a failed dial is returned as an error.
func Exchange(addr, raw string, quiet time.Duration) (Result, error) {
	c, err := DialRaw(addr)
	if err != nil {
		return Result{}, err
	}
	defer c.Close()
	return c.Exchange(raw, quiet), nil
}

// Exchange is Exchange on an open connection.
func (c *RawConn) Exchange(raw string, quiet time.Duration) (res Result) {
	start := time.Now()
	// Write while reading: Portico may answer and close before it has read
	// everything (a 431 for a huge header), and a reset must not destroy
	// the response before it is read.
	werr := make(chan error, 1)
	go func() { werr <- c.Send(raw) }()
	defer func() {
		select {
		case res.WriteErr = <-werr:
		case <-time.After(2 * time.Second):
			res.WriteErr = errors.New("write still blocked after the responses were read")
		}
	}()
	wait := max(FirstResponseTimeout, quiet)
	for len(res.Responses) < maxResponses {
		_ = c.SetReadDeadline(time.Now().Add(wait))
		if _, err := c.br.Peek(1); err != nil {
			res.Closed, res.How = classifyClose(err)
			break
		}
		resp, err := readResponse(c.br)
		if err != nil {
			res.ReadErr = err
			res.Trailing = c.Buffered()
			res.Closed, res.How = classifyClose(err)
			if !res.Closed {
				// Find out whether the connection ends after the garbage.
				closed, more, how := c.WaitClosed(quiet)
				res.Trailing = append(res.Trailing, more...)
				res.Closed, res.How = closed, how
			}
			break
		}
		res.Responses = append(res.Responses, resp)
		if resp.Status == http.StatusSwitchingProtocols {
			res.How = "101"
			break
		}
		if resp.CloseDelimited {
			res.Closed, res.How = true, "EOF"
			break
		}
		wait = quiet
	}
	res.Elapsed = time.Since(start)
	return res
}

// RoundTrip sends raw on a new connection and reads one response within d.
func RoundTrip(addr, raw string, d time.Duration) (*Response, error) {
	c, err := DialRaw(addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := c.Send(raw); err != nil {
		return nil, err
	}
	return c.ReadResponse(d)
}

// Req builds the bytes of a simple HTTP/1.1 request without body: the
// request line, Host (omitted when host is ""), each header line as given
// (without CRLF), and the empty line.
func Req(method, target, host string, headerLines ...string) string {
	var b strings.Builder
	b.WriteString(method + " " + target + " HTTP/1.1\r\n")
	if host != "" {
		b.WriteString("Host: " + host + "\r\n")
	}
	for _, h := range headerLines {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

func readResponse(br *bufio.Reader) (*Response, error) {
	tp := textproto.NewReader(br)
	line, err := tp.ReadLine()
	if err != nil {
		return nil, err
	}
	proto, rest, ok := strings.Cut(line, " ")
	if !ok || !strings.HasPrefix(proto, "HTTP/1.") {
		return nil, fmt.Errorf("malformed status line %q", truncate(line, 120))
	}
	codeStr, reason, _ := strings.Cut(rest, " ")
	code, err := strconv.Atoi(codeStr)
	if err != nil || len(codeStr) != 3 {
		return nil, fmt.Errorf("malformed status code in %q", truncate(line, 120))
	}
	hdr, err := tp.ReadMIMEHeader()
	if err != nil {
		return nil, fmt.Errorf("response header after %q: %w", line, err)
	}
	resp := &Response{Proto: proto, Status: code, Reason: reason, StatusLine: line, Header: http.Header(hdr)}
	switch {
	case code >= 100 && code < 200, code == 204, code == 304:
		return resp, nil
	case strings.EqualFold(hdr.Get("Transfer-Encoding"), "chunked"):
		b, err := io.ReadAll(io.LimitReader(httputil.NewChunkedReader(br), maxRespBody))
		resp.Body = b
		if err != nil {
			return resp, fmt.Errorf("chunked response body: %w", err)
		}
		// Trailer section.
		if _, err := tp.ReadMIMEHeader(); err != nil {
			return resp, fmt.Errorf("response trailers: %w", err)
		}
		return resp, nil
	case hdr.Get("Content-Length") != "":
		n, err := strconv.ParseInt(strings.TrimSpace(hdr.Get("Content-Length")), 10, 64)
		if err != nil || n < 0 || n > maxRespBody {
			return resp, fmt.Errorf("response Content-Length %q", hdr.Get("Content-Length"))
		}
		resp.Body = make([]byte, n)
		m, err := io.ReadFull(br, resp.Body)
		resp.Body = resp.Body[:m]
		if err != nil {
			return resp, fmt.Errorf("response body cut at %d of %d bytes: %w", m, n, err)
		}
		return resp, nil
	default:
		b, err := io.ReadAll(io.LimitReader(br, maxRespBody))
		resp.Body = b
		resp.CloseDelimited = true
		if errors.Is(err, syscall.ECONNRESET) {
			// A server that closes with unread request bytes resets the
			// connection; the body ended with the connection all the same.
			err = nil
		}
		if err != nil {
			return resp, fmt.Errorf("close-delimited response body: %w", err)
		}
		return resp, nil
	}
}
