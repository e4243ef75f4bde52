package router

import (
	"bytes"
	"errors"
	"fmt"
	"net"
)

// FramingError is an HTTP/1.x request whose message framing is ambiguous
// or malformed (RFC 9112): it is answered 400 and the connection closed,
// and nothing of it reaches a backend.
type FramingError struct{ Reason string }

func (e *FramingError) Error() string { return "bad request framing: " + e.Reason }

func framingErr(format string, args ...any) error {
	return &FramingError{Reason: fmt.Sprintf(format, args...)}
}

// MaxHeaderFields bounds the header fields of an HTTP/1.x request (Envoy's
// max_headers_count is 100; some room is left above it).
const MaxHeaderFields = 128

// errHeadTooLarge: the request head is over MaxHeaderBytes or
// MaxHeaderFields. The strict connection answers 431 itself when no
// request is in flight on it (net/http would say 400).
var errHeadTooLarge = &FramingError{Reason: "request header fields too large"}

// errNoH2Preface: a TLS connection that negotiated h2 did not start with
// the HTTP/2 preface. It is a read error net/http closes silently on; the
// strict connection answers GOAWAY first.
var errNoH2Preface = &net.OpError{Op: "read", Net: "tcp", Err: &FramingError{Reason: "HTTP/2 negotiated but no HTTP/2 connection preface"}}

// IsFramingError reports whether err is, or wraps, a FramingError.
func IsFramingError(err error) bool {
	var fe *FramingError
	return errors.As(err, &fe)
}

// Limits of the framing checker. A request head (request line, header
// lines and their line ends) over MaxHeaderBytes, or with more than
// MaxHeaderFields fields, is refused with 431 (errHeadTooLarge).
const (
	maxChunkLineBytes = 4096
	maxChunkSizeHex   = 15 // 60 bits: no overflow in int64
)

type frameState uint8

const (
	stRequestLine   frameState = iota // reading a request line
	stHeaders                         // reading header lines
	stBody                            // counting Content-Length bytes
	stChunkSize                       // reading a chunk-size line
	stChunkData                       // counting chunk bytes
	stChunkDataCRLF                   // expecting the CRLF after chunk data
	stTrailers                        // reading trailer lines
	stPassthrough                     // an upgraded tunnel
	stH2                              // HTTP/2 frames, watched by h2
)

// h2Mode says whether a connection may, or must, speak HTTP/2 with prior
// knowledge (its first bytes the HTTP/2 connection preface).
type h2Mode uint8

const (
	h2Refused  h2Mode = iota // HTTP/1.x only (TLS that negotiated http/1.1)
	h2Allowed                // cleartext: HTTP/1.x or h2c
	h2Required               // TLS that negotiated h2
)

// framer checks the framing of a stream of HTTP/1.x requests as its bytes
// arrive, before net/http parses them: it accepts only what every
// conforming parser reads the same way, so what Portico forwards is what
// the client's bytes mean. It follows each message to its end (by
// Content-Length or chunked coding) so that every request on a kept-alive
// or pipelined connection is checked.
//
// Rejected (RFC 9112): a request line that is not `method SP target SP
// HTTP/1.0|1.1` with CRLF; bare CR or LF; obs-fold; header names that are
// not tokens, or whitespace before the colon; control characters in values;
// Transfer-Encoding with Content-Length, in HTTP/1.0, or other than exactly
// "chunked"; several or non-numeric Content-Length values; a Connection
// header naming Transfer-Encoding or Content-Length; chunk sizes that are
// not plain hex or too large; chunk data not followed by CRLF; bad
// trailers.
type framer struct {
	state frameState
	line  []byte // the current line, without its CRLF
	head  int    // bytes of the current head so far
	n     int64  // body or chunk bytes left
	first bool   // the connection's first request line is next
	// Per request.
	http10     bool
	te, cl     bool
	clValue    int64
	teValue    []byte
	connection [][]byte
	msgs       int // complete messages so far
	fields     int // header fields of the current request
	h2mode     h2Mode
	h2         *h2Guard
}

func newFramer(mode h2Mode) *framer { return &framer{first: true, h2mode: mode} }

// feed checks the next bytes of the stream.
func (f *framer) feed(b []byte) error {
	for len(b) > 0 {
		switch f.state {
		case stPassthrough:
			return nil
		case stH2:
			return f.h2.feed(b)
		case stBody, stChunkData:
			k := int64(len(b))
			if k > f.n {
				k = f.n
			}
			f.n -= k
			b = b[k:]
			if f.n == 0 {
				if f.state == stBody {
					f.endMessage()
				} else {
					f.state = stChunkDataCRLF
				}
			}
			continue
		}
		i := bytes.IndexByte(b, '\n')
		part := b
		if i >= 0 {
			part = b[:i]
		}
		if err := f.grow(part); err != nil {
			return err
		}
		if i < 0 {
			return nil
		}
		if f.state < stBody || f.state == stTrailers {
			if f.head++; f.head > MaxHeaderBytes {
				return errHeadTooLarge
			}
		}
		b = b[i+1:]
		line := f.line
		if len(line) == 0 || line[len(line)-1] != '\r' {
			return framingErr("line not ended by CRLF")
		}
		line = line[:len(line)-1]
		if bytes.IndexByte(line, '\r') >= 0 {
			return framingErr("bare CR")
		}
		if err := f.onLine(line); err != nil {
			return err
		}
		f.line = f.line[:0]
	}
	return nil
}

// grow appends to the current line within the limits of its kind.
func (f *framer) grow(part []byte) error {
	switch f.state {
	case stChunkSize, stChunkDataCRLF:
		if len(f.line)+len(part) > maxChunkLineBytes {
			return framingErr("chunk line too long")
		}
	default:
		if f.head += len(part); f.head > MaxHeaderBytes {
			return errHeadTooLarge
		}
	}
	f.line = append(f.line, part...)
	return nil
}

func (f *framer) onLine(line []byte) error {
	switch f.state {
	case stRequestLine:
		return f.requestLine(line)
	case stHeaders:
		if len(line) == 0 {
			return f.endHead()
		}
		return f.header(line, false)
	case stChunkSize:
		return f.chunkSize(line)
	case stChunkDataCRLF:
		if len(line) != 0 {
			return framingErr("chunk data longer than its size")
		}
		f.state = stChunkSize
		return nil
	case stTrailers:
		if len(line) == 0 {
			f.endMessage()
			return nil
		}
		return f.header(line, true)
	}
	return nil
}

func (f *framer) requestLine(line []byte) error {
	first := f.first
	f.first = false
	if first && f.h2mode != h2Refused && string(line) == "PRI * HTTP/2.0" {
		// HTTP/2: the rest of the preface ("\r\nSM\r\n\r\n"), then frames.
		f.state, f.h2 = stH2, newH2Guard(8)
		return nil
	}
	if f.h2mode == h2Required {
		// Not an HTTP/1.x client: no HTTP/1.1 answer, the connection is
		// just closed (net/http stays silent on read errors).
		return errNoH2Preface
	}
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return framingErr("malformed request line")
	}
	rest := line[sp1+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 <= 0 {
		return framingErr("malformed request line")
	}
	method, target, version := line[:sp1], rest[:sp2], rest[sp2+1:]
	for _, c := range method {
		if !isTchar(c) {
			return framingErr("invalid method")
		}
	}
	for _, c := range target {
		if c <= ' ' || c == 0x7f {
			return framingErr("invalid request target")
		}
	}
	switch string(version) {
	case "HTTP/1.1":
		f.http10 = false
	case "HTTP/1.0":
		f.http10 = true
	default:
		return framingErr("unsupported HTTP version %q", version)
	}
	f.state = stHeaders
	return nil
}

func (f *framer) header(line []byte, trailer bool) error {
	if f.fields++; f.fields > MaxHeaderFields {
		return errHeadTooLarge
	}
	if line[0] == ' ' || line[0] == '\t' {
		return framingErr("obsolete line folding")
	}
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return framingErr("header line without a name")
	}
	name, value := line[:colon], line[colon+1:]
	for _, c := range name {
		if !isTchar(c) {
			return framingErr("invalid header name %q", name)
		}
	}
	for _, c := range value {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return framingErr("control character in header %s", name)
		}
	}
	value = bytes.Trim(value, " \t")
	switch {
	case bytes.EqualFold(name, []byte("Transfer-Encoding")):
		if trailer {
			return framingErr("Transfer-Encoding in trailers")
		}
		if f.te {
			return framingErr("several Transfer-Encoding fields")
		}
		f.te, f.teValue = true, append(f.teValue[:0], value...)
	case bytes.EqualFold(name, []byte("Content-Length")):
		if trailer {
			return framingErr("Content-Length in trailers")
		}
		if f.cl {
			return framingErr("several Content-Length fields")
		}
		n, ok := parseContentLength(value)
		if !ok {
			return framingErr("invalid Content-Length %q", value)
		}
		f.cl, f.clValue = true, n
	case trailer && bytes.EqualFold(name, []byte("Host")):
		return framingErr("Host in trailers")
	case bytes.EqualFold(name, []byte("Connection")):
		f.connection = append(f.connection, append([]byte(nil), value...))
	}
	return nil
}

// endHead decides the body's framing from the request's headers.
func (f *framer) endHead() error {
	for _, v := range f.connection {
		for _, tok := range bytes.Split(v, []byte(",")) {
			tok = bytes.Trim(tok, " \t")
			if bytes.EqualFold(tok, []byte("Transfer-Encoding")) || bytes.EqualFold(tok, []byte("Content-Length")) {
				return framingErr("Connection names %s", tok)
			}
		}
	}
	switch {
	case f.te && f.cl:
		return framingErr("both Transfer-Encoding and Content-Length")
	case f.te && f.http10:
		return framingErr("Transfer-Encoding in HTTP/1.0")
	case f.te:
		if !bytes.EqualFold(f.teValue, []byte("chunked")) {
			return framingErr("unsupported Transfer-Encoding %q", f.teValue)
		}
		f.state = stChunkSize
	case f.cl && f.clValue > 0:
		f.state, f.n = stBody, f.clValue
	default:
		f.endMessage()
	}
	return nil
}

func (f *framer) chunkSize(line []byte) error {
	size := line
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		size = line[:i]
		for _, c := range line[i:] {
			if (c < ' ' && c != '\t') || c == 0x7f {
				return framingErr("control character in chunk extension")
			}
		}
	}
	if len(size) == 0 || len(size) > maxChunkSizeHex {
		return framingErr("invalid chunk size %q", size)
	}
	var n int64
	for _, c := range size {
		if !isHex(c) {
			return framingErr("invalid chunk size %q", size)
		}
		n = n<<4 | int64(unhex(c))
	}
	if n == 0 {
		f.state = stTrailers
		return nil
	}
	f.state, f.n = stChunkData, n
	return nil
}

// endMessage resets for the next request on the connection.
func (f *framer) endMessage() {
	f.msgs++
	f.state = stRequestLine
	f.head, f.fields = 0, 0
	f.http10, f.te, f.cl = false, false, false
	f.clValue, f.teValue, f.connection = 0, f.teValue[:0], f.connection[:0]
}

// tunnel switches the checker off: the connection was upgraded (101) and
// carries another protocol from now on.
func (f *framer) tunnel() { f.state = stPassthrough }

func parseContentLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// isTchar reports whether c may appear in a token (RFC 9110 §5.6.2).
func isTchar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return c < 0x80 && bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), c) >= 0
}
