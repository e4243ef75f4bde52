//go:build edge

package edge

import (
	"strconv"
	"testing"
	"time"

	"github.com/portico-dev/portico/edge/edgetest"
	"golang.org/x/net/http2"
)

// Rapid reset (CVE-2023-44487): the attacker opens a stream with a complete
// GET request and cancels it at once with RST_STREAM, 10,000 times, as fast
// as it can, on one connection. Because every stream is closed immediately,
// the client never has more than one stream open and
// SETTINGS_MAX_CONCURRENT_STREAMS (250) never limits it, while each request
// may still start a backend request. It runs twice per port: against a
// backend that answers at once ("fast-backend", /attack/...) and one that
// takes 100 ms per request ("slow-backend", /attack-slow/...), where
// cancelled requests pile up in the proxy.
const (
	rapidResetStreams = 10000
	rapidResetMaxTime = 10 * time.Second
	// rapidResetMaxBackend is how many of the 10,000 cancelled requests may
	// reach the backend: one window of MaxConcurrentStreams (250) plus 20%.
	// A mitigation that bounds the streams in flight per connection, counting
	// reset-but-unfinished ones (Go's closes the connection once more than
	// MaxConcurrentStreams handlers run and 4x as many wait), or one that
	// sends GOAWAY after a reset budget (nghttp2, Envoy), stops the attacker
	// well before this; a server that lets them through at line rate sends
	// thousands.
	rapidResetMaxBackend = 300
)

func TestH2RapidReset(t *testing.T) {
	e := startH2Env(t)
	for _, tg := range e.targets() {
		for _, seg := range []string{"attack", "attack-slow"} {
			name := tg.Name + "/fast-backend"
			if seg == "attack-slow" {
				name = tg.Name + "/slow-backend"
			}
			t.Run(name, func(t *testing.T) {
				rapidReset(t, e, tg, seg)
			})
		}
	}
}

func rapidReset(t *testing.T, e *h2Env, tg edgetest.H2Target, seg string) {
	h2Attack(t, e, tg, func(t *testing.T, w *h2Watch) {
		before := e.be.Count(seg)
		c := edgetest.DialH2Ready(t, tg)
		w.closeAfter(func() { c.Close() })
		c.StartReader()
		first := c.NewStreamID()
		attackStart := c.Since()
		// Pairs of frames: HEADERS (GET, END_STREAM) then RST_STREAM
		// (CANCEL) on the same stream; 100 pairs per write.
		res := c.Flood(2*rapidResetStreams, rapidResetMaxTime, 2*time.Second, 200, func(fr *http2.Framer, i int) error {
			id := first + uint32(i/2)*2
			if i%2 == 1 {
				return fr.WriteRSTStream(id, http2.ErrCodeCancel)
			}
			path := "/" + seg + "/rapid-reset/" + strconv.Itoa(i/2)
			return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, EndStream: true, EndHeaders: true,
				BlockFragment: edgetest.HPACKRequest(nil, tg, "GET", path)})
		})
		pairs := res.Frames / 2
		// The server may still be working through what the kernel
		// buffered: give it 3 s to end the connection.
		closed := waitClosed(c, 3*time.Second)
		reached := settleCount(e.be, seg, 500*time.Millisecond, 3*time.Second) - before
		closedAt, _ := c.ClosedAfter()
		t.Logf("%s: sent %d HEADERS+RST_STREAM pairs for /%s/... (%s); %d requests reached the backend; connection: %s",
			tg.Name, pairs, seg, res, reached, c.EndDescription())
		if !closed {
			t.Errorf("%s: rapid reset: after %d streams opened and at once reset (RST_STREAM CANCEL), written in %v, Portico neither sent GOAWAY nor closed the connection (%s); it must treat the pattern as abuse and end the connection (RFC 9113 §10.5, CVE-2023-44487)",
				tg.Name, pairs, res.Elapsed.Round(time.Millisecond), c.EndDescription())
		} else {
			t.Logf("%s: connection ended %v after the attack started", tg.Name, (closedAt - attackStart).Round(time.Millisecond))
		}
		if reached > rapidResetMaxBackend {
			t.Errorf("%s: rapid reset: %d of the %d requests for /%s/... the attacker cancelled immediately reached the backend; at most %d may (one window of 250 concurrent streams plus 20%%)",
				tg.Name, reached, pairs, seg, rapidResetMaxBackend)
		}
		if !closed && pairs < rapidResetStreams && res.WriteErr == "" {
			t.Errorf("%s: rapid reset: the attacker could only send %d of %d pairs in %v but the connection was not ended: %s",
				tg.Name, pairs, rapidResetStreams, rapidResetMaxTime, res)
		}
	})
}
