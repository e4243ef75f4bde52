package router

import (
	"bytes"
	"io"
	"strings"
	"sync"
	"unsafe"

	"github.com/valyala/fasthttp"
)

// The fast engine applies a route's responseShape to ctx.Response once
// the request is served (finishShapeFast): overrides by status, and
// compression of bodies held in memory. A streamed body from a backend
// cannot be wrapped once it sits in ctx.Response (replacing a fasthttp
// body stream closes it), so when the client negotiated a coding the
// backend's answer is received into a response of its own and adopted
// (adoptShaped): its stream compressed as it is read.

// negotiateFast returns the coding a fast-engine request negotiated for
// the route ("" when none, or when nothing would be compressed: HEAD, a
// Range).
func (s *responseShape) negotiateFast(req *fasthttp.RequestHeader) Encoding {
	if s == nil || s.comp == nil || req.IsHead() || len(req.Peek("Range")) > 0 {
		return ""
	}
	ae := req.Peek("Accept-Encoding")
	if len(ae) == 0 {
		return ""
	}
	return s.comp.negotiate([]string{unsafe.String(unsafe.SliceData(ae), len(ae))})
}

// adoptShaped moves the backend's answer in up into out, compressing a
// streamed body that is eligible; up is released (now, or when the
// stream adopted is closed).
func adoptShaped(out, up *fasthttp.Response, s *responseShape, enc Encoding) {
	up.Header.CopyTo(&out.Header)
	code := up.StatusCode()
	if !up.IsBodyStream() {
		out.SetBody(up.Body())
		fasthttp.ReleaseResponse(up)
		return // finishShapeFast compresses it, or overrides it
	}
	length := int64(up.Header.ContentLength())
	h := fastRespHeaders{&out.Header}
	if s.override(code) != nil || !s.comp.eligible(code, h, length, false, false) {
		out.SetBodyStream(&adoptedStream{up: up, r: up.BodyStream()}, int(length))
		return
	}
	addVary(h)
	compressedHeaders(h, enc)
	flushEach := length < 0 || strings.HasPrefix(string(out.Header.ContentType()), "text/event-stream")
	cs := compressStreams.Get().(*compressStream)
	cs.adoptedStream, cs.enc, cs.flushEach, cs.done = adoptedStream{up: up, r: up.BodyStream()}, enc, flushEach, false
	cs.out.Reset()
	cs.zw = getEncoder(enc, &cs.out)
	out.SetBodyStream(cs, -1)
}

// adoptedStream is a backend's body stream taken from the response it
// came in, which it releases when closed.
type adoptedStream struct {
	up *fasthttp.Response
	r  io.Reader
}

func (a *adoptedStream) Read(p []byte) (int, error) { return a.r.Read(p) }

// Close closes the backend's stream and releases its response.
func (a *adoptedStream) Close() error {
	if a.up == nil {
		return nil
	}
	err := a.up.CloseBodyStream()
	fasthttp.ReleaseResponse(a.up)
	a.up = nil
	return err
}

// compressStream compresses a backend's body as fasthttp reads it. With
// flushEach (a stream: SSE, a body without a length) every read of the
// backend is flushed through the encoder, so nothing waits in it.
type compressStream struct {
	adoptedStream
	enc       Encoding
	zw        encoder
	out       bytes.Buffer
	buf       []byte
	flushEach bool
	done      bool
}

// compressStreams are recycled with their buffers.
var compressStreams = sync.Pool{New: func() any { return &compressStream{buf: make([]byte, 16<<10)} }}

// Read returns compressed bytes, reading the backend as needed.
func (c *compressStream) Read(p []byte) (int, error) {
	for c.out.Len() == 0 && !c.done {
		n, err := c.r.Read(c.buf)
		if n > 0 {
			if _, werr := c.zw.Write(c.buf[:n]); werr != nil {
				return 0, werr
			}
			if c.flushEach {
				if ferr := c.zw.Flush(); ferr != nil {
					return 0, ferr
				}
			}
		}
		switch {
		case err == io.EOF:
			if cerr := c.zw.Close(); cerr != nil {
				return 0, cerr
			}
			c.done = true
		case err != nil:
			return 0, err
		}
	}
	if c.out.Len() > 0 {
		return c.out.Read(p)
	}
	return 0, io.EOF
}

// Close releases the backend's stream and the encoder, and recycles the
// stream (fasthttp closes it once, when the response is written or
// reset).
func (c *compressStream) Close() error {
	if c.zw == nil {
		return nil // closed already
	}
	err := c.adoptedStream.Close()
	putEncoder(c.enc, c.zw)
	c.zw = nil
	if c.out.Cap() <= 1<<20 {
		compressStreams.Put(c)
	}
	return err
}

// compressBufs hold compressed bodies on their way into a response.
var compressBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// finishShapeFast applies the route's responseShape to the response the
// fast engine is about to send.
func finishShapeFast(ctx *fasthttp.RequestCtx, st *proxyState) {
	s := st.route.shape
	resp := &ctx.Response
	code := resp.StatusCode()
	h := fastRespHeaders{&resp.Header}
	if o := s.override(code); o != nil {
		o.overrideHeaders(h)
		resp.SetStatusCode(o.status(code))
		resp.SetBodyString(o.Body) // closes a backend's stream not read
		return
	}
	c := s.comp
	if c == nil || code < 200 {
		return
	}
	head, ranged := ctx.Request.Header.IsHead(), len(ctx.Request.Header.Peek("Range")) > 0
	if resp.IsBodyStream() {
		// Not negotiated (else adoptShaped had it): only Vary to add.
		if c.eligible(code, h, int64(resp.Header.ContentLength()), head, ranged) {
			addVary(h)
		}
		return
	}
	body := resp.Body()
	if !c.eligible(code, h, int64(len(body)), head, ranged) {
		return
	}
	addVary(h)
	enc := st.enc
	if enc == "" {
		enc = s.negotiateFast(&ctx.Request.Header)
	}
	if enc == "" {
		return
	}
	buf := compressBufs.Get().(*bytes.Buffer)
	buf.Reset()
	zw := getEncoder(enc, buf)
	_, err := zw.Write(body)
	if err == nil {
		err = zw.Close()
	}
	putEncoder(enc, zw)
	if err == nil {
		compressedHeaders(h, enc)
		resp.SetBody(buf.Bytes())
	}
	if buf.Cap() <= 1<<20 {
		compressBufs.Put(buf)
	}
}
