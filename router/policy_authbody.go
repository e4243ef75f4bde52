package router

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
)

// MaxAuthBody bounds ExtAuth.MaxBody: the bytes of a request body buffered
// for the auth service.
const MaxAuthBody = 1 << 20

// bodyPeeker reads the start of a request's body for a policy check and
// leaves the body whole for the backend: peekBody reads at most n+1 bytes
// (each read bounded by the body timeout) and puts them back in front of
// the rest. It returns at most n bytes, whether they are the whole body,
// and a status to answer when the body could not be read (400 malformed,
// 408 stalled). Each engine has one; it is set on a policyState only for
// routes whose chain sends the body.
type bodyPeeker interface {
	peekBody(n int64) (data []byte, whole bool, code int)
}

// authBody returns the first n bytes of the request body for an auth
// check and whether that is all of it, reading them once. A body longer
// than n is answered 413 unless partial; one longer than the policy's
// body limit always is.
func (ps *policyState) authBody(n int64, partial bool) ([]byte, bool, int, string) {
	if !ps.peeked {
		if ps.peek == nil {
			// An engine that cannot peek: never send a check without the
			// body it was configured to carry.
			return nil, false, http.StatusInternalServerError, "request body unavailable for authorization"
		}
		ps.peeked = true
		ps.peekData, ps.peekWhole, ps.peekCode = ps.peek.peekBody(n)
		if ps.peekCode == 0 && ps.maxBody > 0 && int64(len(ps.peekData)) > ps.maxBody {
			ps.peekCode = http.StatusRequestEntityTooLarge
		}
	}
	switch {
	case ps.peekCode != 0:
		return nil, false, ps.peekCode, http.StatusText(ps.peekCode)
	case !ps.peekWhole && !partial:
		return nil, false, http.StatusRequestEntityTooLarge,
			"request body larger than the " + strconv.FormatInt(n, 10) + " bytes authorization may buffer"
	}
	return ps.peekData, ps.peekWhole, 0, ""
}

// wantsAuthBody reports whether the route's policy sends request bodies
// to an auth service (so the engine must set a bodyPeeker).
func (route *CompiledRoute) wantsAuthBody() bool {
	if route.Policy == nil {
		return false
	}
	c, err := route.Policy.chain()
	return err == nil && c.authBody > 0
}

// stdBodyPeek peeks at a net/http request's body (HTTP/1 and HTTP/2).
type stdBodyPeek struct {
	w       http.ResponseWriter
	r       *http.Request
	timeout time.Duration
}

func (p *stdBodyPeek) peekBody(n int64) ([]byte, bool, int) {
	r := p.r
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return nil, true, 0
	}
	orig := r.Body
	rc := http.NewResponseController(p.w)
	rb := &requestBody{body: orig, rc: rc, timeout: p.timeout}
	buf, err := io.ReadAll(io.LimitReader(rb, n+1))
	if r.ProtoMajor == 2 {
		// A stream's deadline would end a quiet stream later (see
		// prepareBody): lift it once the peek is done.
		_ = rc.SetReadDeadline(time.Time{})
	}
	if err != nil {
		if code := rb.status(); code != 0 {
			return nil, false, code
		}
		return nil, false, http.StatusBadRequest
	}
	if int64(len(buf)) <= n {
		r.Body = struct {
			io.Reader
			io.Closer
		}{bytes.NewReader(buf), orig}
		r.ContentLength = int64(len(buf))
		return buf, true, 0
	}
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(buf), orig), orig}
	return buf[:n], false, 0
}

// fastBodyPeek peeks at a fast-engine request's body. A body fasthttp
// read whole is looked at in place; a streamed or chunked one is read up
// to n+1 bytes, which then go out in front of the rest (st.outbound).
type fastBodyPeek struct {
	e   *fastEngine
	ctx *fasthttp.RequestCtx
	st  *proxyState
	sc  *strictConn
}

func (p *fastBodyPeek) peekBody(n int64) ([]byte, bool, int) {
	req := &p.ctx.Request
	cl := req.Header.ContentLength()
	switch {
	case cl == 0 || cl == -2:
		return nil, true, 0
	case cl > 0 && cl <= BodyBufferBytes:
		b := req.Body()
		if int64(len(b)) <= n {
			return bytes.Clone(b), true, 0
		}
		return bytes.Clone(b[:n]), false, 0
	}
	r := p.st.limitBody(p.ctx.RequestBodyStream())
	if p.sc != nil {
		p.sc.setPerReadTimeout(p.e.bodyTimeout())
		defer p.sc.setPerReadTimeout(0)
	}
	buf, err := io.ReadAll(io.LimitReader(r, n+1))
	if err != nil {
		p.ctx.SetConnectionClose()
		if p.sc != nil {
			p.sc.lingerAtClose()
		}
		switch {
		case errors.Is(err, errBodyTooLarge):
			return nil, false, http.StatusRequestEntityTooLarge
		case isDeadline(err) || p.sc != nil && p.sc.readTimedOut.Load():
			return nil, false, http.StatusRequestTimeout
		}
		return nil, false, http.StatusBadRequest
	}
	if int64(len(buf)) <= n {
		req.SetBodyRaw(buf)
		req.Header.SetContentLength(len(buf))
		return buf, true, 0
	}
	// The rest streams after what was read, in a request of its own (the
	// server's stream stays in place); proxy copies the head into it.
	out := fasthttp.AcquireRequest()
	out.SetBodyStream(io.MultiReader(bytes.NewReader(buf), r), cl)
	p.st.outbound, p.st.streamed = out, true
	return buf[:n], false, 0
}
