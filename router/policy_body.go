package router

import (
	"errors"
	"io"
)

// errBodyTooLarge ends the read of a body longer than its route's policy
// allows; the engines answer it 413.
var errBodyTooLarge = errors.New("request body larger than the route allows")

// limitedBody fails a body's read once more than max bytes came.
type limitedBody struct {
	r   io.Reader
	c   io.Closer
	max int64
	n   int64
	// over is set once the limit is passed (the engine's upstream client
	// may not hand back errBodyTooLarge itself).
	over *bool
}

func (l *limitedBody) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > l.max {
		*l.over = true
		return 0, errBodyTooLarge
	}
	return n, err
}

func (l *limitedBody) Close() error {
	if l.c == nil {
		return nil
	}
	return l.c.Close()
}

// limitBody bounds a body of unknown length by the route's policy (the
// chain answered 413 already to a Content-Length above it); it returns r
// unchanged when no limit applies.
func (st *proxyState) limitBody(r io.Reader) io.Reader {
	if st.policy.maxBody <= 0 {
		return r
	}
	c, _ := r.(io.Closer)
	return &limitedBody{r: r, c: c, max: st.policy.maxBody, over: &st.policy.bodyTooLarge}
}

// limitStdBody is limitBody for a net/http request body.
func (st *proxyState) limitStdBody(body io.ReadCloser) io.ReadCloser {
	if st.policy.maxBody <= 0 || body == nil {
		return body
	}
	return &limitedBody{r: body, c: body, max: st.policy.maxBody, over: &st.policy.bodyTooLarge}
}
