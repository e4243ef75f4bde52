//go:build edge

package edge

import (
	"strings"
	"testing"
	"time"

	"github.com/portico-dev/portico/edge/edgetest"
	"golang.org/x/net/http2"
)

// CONTINUATION flood (CVE-2024-27316 and its siblings, VU#421644): a HEADERS
// frame without END_HEADERS, followed by CONTINUATION frames that never set
// it. The server must hold the header block until it ends (RFC 9113 §6.10:
// nothing else may be sent on the connection meanwhile), so it must cap
// what it accepts and close the connection: "header-bytes" sends 16 KB
// frames of header fields (a server that buffers them runs out of memory;
// Portico's limit is 64 KiB of headers), "empty-frames" sends zero-length
// CONTINUATION frames (no byte limit is ever reached; a server must also
// count frames or time, as nghttp2's max_continuations does).
const (
	contMaxTime = 5 * time.Second
	// contMaxBytes is what the attacker may send before it must have been
	// cut off: 1,000 times Portico's 64 KiB header limit.
	contMaxBytes = 64 << 20
)

func TestH2ContinuationFlood(t *testing.T) {
	e := startH2Env(t)
	// One 16 KB fragment of whole literal fields, not indexed, so the
	// server's decoder sees new data in every frame.
	var frag []byte
	for i := 0; len(frag) < 16000; i++ {
		frag = edgetest.HPACKLiteral(frag, "x-flood", strings.Repeat("c", 200), false)
	}
	variants := []struct {
		name  string
		frag  []byte
		max   int // frames
		batch int
	}{
		{"header-bytes", frag, contMaxBytes / len(frag), 16},
		{"empty-frames", nil, 5_000_000, 2000},
	}
	for _, tg := range e.targets() {
		for _, v := range variants {
			t.Run(tg.Name+"/"+v.name, func(t *testing.T) {
				h2Attack(t, e, tg, func(t *testing.T, w *h2Watch) {
					before := e.be.Count("attack")
					c := edgetest.DialH2Ready(t, tg)
					w.closeAfter(func() { c.Close() })
					c.StartReader()
					id := c.NewStreamID()
					start := c.Since()
					res := c.Flood(v.max+1, contMaxTime, 2*time.Second, v.batch, func(fr *http2.Framer, i int) error {
						if i == 0 {
							return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, EndStream: true, EndHeaders: false,
								BlockFragment: edgetest.HPACKRequest(nil, tg, "GET", "/attack/continuation")})
						}
						return fr.WriteContinuation(id, false, v.frag)
					})
					closed := waitClosed(c, 2*time.Second)
					closedAt, _ := c.ClosedAfter()
					t.Logf("%s: HEADERS without END_HEADERS, then %d CONTINUATION frames of %d bytes: %s; connection: %s",
						tg.Name, res.Frames-1, len(v.frag), res, c.EndDescription())
					switch {
					case closed:
						t.Logf("%s: connection ended %v after the HEADERS frame, %d bytes into the attack", tg.Name, (closedAt - start).Round(time.Millisecond), res.Bytes)
					case res.Stalled:
						t.Errorf("%s: CONTINUATION flood (%s): Portico stopped reading the connection after %d CONTINUATION frames but neither sent GOAWAY nor closed it: a header block that never ends must end the connection",
							tg.Name, v.name, res.Frames-1)
					default:
						t.Errorf("%s: CONTINUATION flood (%s): after a HEADERS frame without END_HEADERS and %d CONTINUATION frames of %d bytes each (%v, %d bytes accepted), Portico has neither sent GOAWAY nor closed the connection (%s); it must cap a header block (by size and by frame count) and end the connection",
							tg.Name, v.name, res.Frames-1, len(v.frag), res.Elapsed.Round(time.Millisecond), res.Bytes, c.EndDescription())
					}
					if n := settleCount(e.be, "attack", 200*time.Millisecond, time.Second) - before; n > 0 {
						t.Errorf("%s: CONTINUATION flood (%s): %d requests reached the backend; the header block never ended, so none may", tg.Name, v.name, n)
					}
				})
			})
		}
	}
}
