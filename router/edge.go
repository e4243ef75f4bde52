package router

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// EdgeOptions are the client-facing protections that operators may tune.
// The zero value is the default.
type EdgeOptions struct {
	// ProxyProtocol, when set, requires a PROXY v1/v2 header from a trusted
	// peer on every client-facing listener (the Ingress listeners and the
	// Gateways'); its source address becomes the client's address.
	ProxyProtocol *ProxyProtocol
	// BodyReadTimeout is the longest wait for the next bytes of a request
	// body (nginx's client_body_timeout); 0 means DefaultBodyReadTimeout.
	// A client that stalls longer gets 408 and its connection is closed.
	// HTTP/2 bodies without a declared length (gRPC streams) are exempt.
	BodyReadTimeout time.Duration
	// SendTimeout is the longest a response write may wait for the client
	// to take bytes (nginx's send_timeout; for HTTP/2, the stream's flow
	// control window); 0 means DefaultSendTimeout. Then the stream or
	// connection is reset.
	SendTimeout time.Duration
	// EscapedSlashes says what to do with %2F and %5C in request paths.
	EscapedSlashes EscapedSlashes
	// Engine is the HTTP/1.x engine of the client-facing listeners.
	Engine Engine
}

// DefaultBodyReadTimeout is EdgeOptions.BodyReadTimeout's default.
const DefaultBodyReadTimeout = 60 * time.Second

// DefaultSendTimeout is EdgeOptions.SendTimeout's default.
const DefaultSendTimeout = 60 * time.Second

// BodyBufferBytes bounds the request bodies read whole before the backend
// is contacted: a client that sends its body slowly, or never, holds no
// backend connection, and a malformed body never reaches a backend cut
// short. Larger bodies (and streaming HTTP/2 bodies without a length, such
// as gRPC's) are streamed, each read bounded by BodyReadTimeout.
const BodyBufferBytes = 64 << 10

// EscapedSlashes is the handling of escaped slashes (%2F) and backslashes
// (%5C) in request paths, as Envoy's path_with_escaped_slashes_action.
type EscapedSlashes uint8

// Escaped-slash handling.
const (
	// EscapedSlashesKeep routes and forwards them as they are: /a%2Fb is
	// one segment "a/b", not /a/b.
	EscapedSlashesKeep EscapedSlashes = iota
	// EscapedSlashesReject answers 400 to requests whose path has them.
	EscapedSlashesReject
	// EscapedSlashesDecode turns both into "/" before the path is
	// canonicalised, routed and forwarded: /a%2F..%2Fb is /b.
	EscapedSlashesDecode
)

// ParseEscapedSlashes reads "keep", "reject" or "decode".
func ParseEscapedSlashes(s string) (EscapedSlashes, error) {
	switch s {
	case "keep", "":
		return EscapedSlashesKeep, nil
	case "reject":
		return EscapedSlashesReject, nil
	case "decode":
		return EscapedSlashesDecode, nil
	}
	return 0, fmt.Errorf("escaped slashes: want keep, reject or decode, not %q", s)
}

// escapedSlashes applies the handling to a canonical path (whose escapes
// are upper-case). ok is false when the request must be rejected.
func (e EscapedSlashes) apply(path string) (string, bool) {
	if e == EscapedSlashesKeep || !strings.Contains(path, "%") {
		return path, true
	}
	if !strings.Contains(path, "%2F") && !strings.Contains(path, "%5C") {
		return path, true
	}
	if e == EscapedSlashesReject {
		return "", false
	}
	decoded := strings.NewReplacer("%2F", "/", "%5C", "/").Replace(path)
	return CanonicalPath(decoded)
}

// requestBody bounds the reads of a client's request body by the body
// timeout and remembers why reading failed.
type requestBody struct {
	body    io.ReadCloser
	rc      *http.ResponseController
	timeout time.Duration
	err     error
	// data is the whole body when it was read ahead (see prepareBody).
	data []byte
}

func (b *requestBody) Read(p []byte) (int, error) {
	if b.timeout > 0 {
		_ = b.rc.SetReadDeadline(time.Now().Add(b.timeout))
	}
	n, err := b.body.Read(p)
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}

func (b *requestBody) Close() error { return b.body.Close() }

// status is the answer for a failed body read: 400 for bad framing, 408
// for a stalled client, 0 when the client went away (nobody to answer).
func (b *requestBody) status() int {
	switch {
	case b.err == nil:
		return 0
	case errors.Is(b.err, errBodyTooLarge):
		return http.StatusRequestEntityTooLarge
	case IsFramingError(b.err):
		return http.StatusBadRequest
	case isDeadline(b.err):
		return http.StatusRequestTimeout
	}
	return 0
}

func isDeadline(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// prepareBody puts r's body under the body timeout and reads small bodies
// whole (see BodyBufferBytes). It returns the body wrapper (nil without a
// body) and false when the request has been answered.
func (rt *Router) prepareBody(w http.ResponseWriter, r *http.Request) (*requestBody, bool) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, true
	}
	timeout := rt.opts.Edge.BodyReadTimeout
	if timeout <= 0 {
		timeout = DefaultBodyReadTimeout
	}
	if r.ProtoMajor == 2 && r.ContentLength < 0 {
		// An HTTP/2 body without a length is a stream (gRPC client and
		// bidirectional streaming) that may rightly stay quiet for long;
		// the stream's read deadline is a timer that would end it.
		timeout = 0
	}
	rb := &requestBody{body: r.Body, rc: http.NewResponseController(w), timeout: timeout}
	r.Body = rb
	switch {
	case r.ContentLength == 0:
		return rb, true
	case r.ContentLength > 0 && r.ContentLength <= BodyBufferBytes:
	case r.ContentLength < 0 && r.ProtoMajor == 1:
	default:
		return rb, true // streamed
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	_, err := io.Copy(&buf, io.LimitReader(rb, BodyBufferBytes+1))
	if err != nil {
		if code := rb.status(); code != 0 {
			w.Header().Set("Connection", "close")
			http.Error(w, http.StatusText(code), code)
		}
		return rb, false
	}
	data := buf.Bytes()
	if len(data) > BodyBufferBytes {
		// Longer than buffered bodies get: the rest is streamed.
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(data), rb), rb}
		return rb, true
	}
	rb.data = data
	r.Body = io.NopCloser(bytes.NewReader(data))
	r.ContentLength = int64(len(data))
	r.TransferEncoding = nil
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	return rb, true
}
