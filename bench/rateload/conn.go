package main

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"strconv"
	"sync/atomic"
	"time"
)

// conn is one keep-alive connection. due is the due time (Unix ns) of the
// request outstanding on it, 0 when none: stored under gen.mu by whoever
// hands the connection a request, cleared when the answer is read.
type conn struct {
	g   *gen
	nc  net.Conn
	br  *bufio.Reader
	due atomic.Int64
}

func newConn(g *gen, nc net.Conn) *conn {
	return &conn{g: g, nc: nc, br: bufio.NewReaderSize(nc, 16<<10)}
}

// send writes the pre-built request; a failed write closes the connection,
// which its read loop then reports.
func (c *conn) send() {
	if _, err := c.nc.Write(c.g.req); err != nil {
		_ = c.nc.Close()
	}
}

// readLoop reads answers until the connection fails.
func (c *conn) readLoop() {
	for {
		ok, err := c.readResponse()
		if err != nil {
			_ = c.nc.Close()
			c.g.fail(c)
			return
		}
		c.g.done(c, time.Now(), c.due.Load(), ok)
	}
}

var errFraming = errors.New("rateload: answer without a usable Content-Length")

// readResponse reads one answer and reports whether its status was 2xx.
func (c *conn) readResponse() (bool, error) {
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return false, err
	}
	ok := len(line) > 9 && line[9] == '2'
	cl := -1
	for {
		line, err = c.br.ReadSlice('\n')
		if err != nil {
			return false, err
		}
		if len(line) <= 2 { // the empty line ending the head
			break
		}
		name, value, found := bytes.Cut(line, []byte(":"))
		if !found {
			return false, errFraming
		}
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, err := strconv.Atoi(string(bytes.TrimSpace(value)))
			if err != nil || n < 0 {
				return false, errFraming
			}
			cl = n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return false, errFraming
		}
	}
	if cl < 0 {
		return false, errFraming
	}
	_, err = c.br.Discard(cl)
	return ok, err
}
