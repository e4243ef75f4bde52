package router

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"testing"
)

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// FuzzFraming checks the framing checker against net/http's parser: for
// every request the checker accepts whole, net/http either rejects it or
// ends it at exactly the same byte. A difference would let one request be
// read as two (or two as one) by the checker and the parser behind it.
func FuzzFraming(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: v\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 45\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled,
		"POST / HTTP/1.0\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr := newFramer(h2Allowed)
		var ends []int64
		for i := range data {
			if fr.feed(data[i:i+1]) != nil {
				break
			}
			if fr.state == stPassthrough || fr.state == stH2 {
				return
			}
			if fr.msgs > len(ends) {
				ends = append(ends, int64(i+1))
			}
		}
		cr := &countingReader{r: bytes.NewReader(data)}
		br := bufio.NewReader(cr)
		for i, end := range ends {
			req, err := http.ReadRequest(br)
			if err != nil {
				return // net/http refuses what the checker let through: safe
			}
			if _, err := io.Copy(io.Discard, req.Body); err != nil {
				return
			}
			if at := cr.n - int64(br.Buffered()); at != end {
				t.Fatalf("request %d: checker ends it at byte %d, net/http at %d\n%q", i, end, at, data)
			}
		}
	})
}
