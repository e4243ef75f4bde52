package router

import (
	"net/http"
	"strconv"
	"strings"
)

// shapeWriter applies a route's responseShape to what net/http's paths
// write (httputil.ReverseProxy, the HTTP/2 fast-pool path, Portico's own
// answers): it overrides bodies by status and compresses. It decides at
// WriteHeader; a body without a Content-Length is held until MinLength
// bytes (or a flush) before it is compressed, so that short answers go out
// as they are.
type shapeWriter struct {
	http.ResponseWriter
	shape *responseShape
	// enc is the coding the request negotiated ("" for none); head and
	// ranged are the request's method HEAD and its Range header.
	enc          Encoding
	head, ranged bool

	mode shapeMode
	code int
	zw   encoder
	held []byte // the first bytes of a body of unknown length
}

type shapeMode uint8

const (
	shapeUndecided shapeMode = iota
	shapePass                // written as it comes
	shapeDiscard             // overridden: the original body is dropped
	shapeHold                // compressing, once enough of the body is held
	shapeCompress            // compressing
)

// shapeStd wraps w for the route's responseShape (the caller must call
// finish once the response is complete).
func (s *responseShape) shapeStd(w http.ResponseWriter, r *http.Request) *shapeWriter {
	sw := &shapeWriter{ResponseWriter: w, shape: s, head: r.Method == http.MethodHead, ranged: r.Header.Get("Range") != ""}
	if s.comp != nil {
		sw.enc = s.comp.negotiate(r.Header.Values("Accept-Encoding"))
	}
	return sw
}

// overridden reports whether the response's body was replaced, so the
// caller need not copy the original.
func (sw *shapeWriter) overridden() bool { return sw.mode == shapeDiscard }

// WriteHeader decides how the response goes out.
func (sw *shapeWriter) WriteHeader(code int) {
	if sw.mode != shapeUndecided {
		return
	}
	if code < 200 {
		sw.ResponseWriter.WriteHeader(code) // 1xx: informational, or an upgrade
		return
	}
	h := sw.Header()
	if o := sw.shape.override(code); o != nil {
		o.overrideHeaders(h)
		h["Content-Length"] = []string{strconv.Itoa(len(o.Body))}
		sw.mode = shapeDiscard
		sw.ResponseWriter.WriteHeader(o.status(code))
		if !sw.head {
			_, _ = sw.ResponseWriter.Write([]byte(o.Body))
		}
		return
	}
	sw.mode = shapePass
	if c := sw.shape.comp; c != nil {
		length := int64(-1)
		if cl := h.Get("Content-Length"); cl != "" {
			if n, err := strconv.ParseInt(cl, 10, 64); err == nil {
				length = n
			}
		}
		if c.eligible(code, h, length, sw.head, sw.ranged) {
			addVary(h)
			if sw.enc != "" {
				sw.code = code
				if length >= 0 || strings.HasPrefix(h.Get("Content-Type"), "text/event-stream") {
					sw.startCompressing()
					return
				}
				sw.mode = shapeHold
				return
			}
		}
	}
	sw.ResponseWriter.WriteHeader(code)
}

func (sw *shapeWriter) startCompressing() {
	compressedHeaders(sw.Header(), sw.enc)
	sw.ResponseWriter.WriteHeader(sw.code)
	sw.zw = getEncoder(sw.enc, sw.ResponseWriter)
	sw.mode = shapeCompress
}

// Write sends, compresses, holds or drops p as decided.
func (sw *shapeWriter) Write(p []byte) (int, error) {
	if sw.mode == shapeUndecided {
		sw.WriteHeader(http.StatusOK)
	}
	switch sw.mode {
	case shapeDiscard:
		return len(p), nil
	case shapeHold:
		if int64(len(sw.held)+len(p)) < sw.shape.comp.minLength {
			sw.held = append(sw.held, p...)
			return len(p), nil
		}
		if err := sw.release(); err != nil {
			return 0, err
		}
		fallthrough
	case shapeCompress:
		return sw.zw.Write(p)
	}
	return sw.ResponseWriter.Write(p)
}

// release starts compressing a held body, writing what was held.
func (sw *shapeWriter) release() error {
	sw.startCompressing()
	held := sw.held
	sw.held = nil
	if len(held) == 0 {
		return nil
	}
	_, err := sw.zw.Write(held)
	return err
}

// Flush sends what the encoder holds: a stream is compressed as it
// flows.
func (sw *shapeWriter) Flush() {
	switch sw.mode {
	case shapeHold:
		if sw.release() != nil {
			return
		}
		fallthrough
	case shapeCompress:
		if sw.zw.Flush() != nil {
			return
		}
	}
	if f, ok := sw.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap exposes the underlying writer to http.ResponseController.
func (sw *shapeWriter) Unwrap() http.ResponseWriter { return sw.ResponseWriter }

// finish completes the response: a held body too short to compress goes
// out as it is, an encoder is closed and pooled.
func (sw *shapeWriter) finish() {
	switch sw.mode {
	case shapeHold:
		sw.Header().Set("Content-Length", strconv.Itoa(len(sw.held)))
		sw.ResponseWriter.WriteHeader(sw.code)
		if len(sw.held) > 0 {
			_, _ = sw.ResponseWriter.Write(sw.held)
		}
		sw.held = nil
	case shapeCompress:
		_ = sw.zw.Close()
		putEncoder(sw.enc, sw.zw)
		sw.zw = nil
	}
	sw.mode = shapePass
}
