//go:build edge

package edge

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/portico-dev/portico/edge/edgetest"
	"golang.org/x/net/http2"
)

// Floods of small frames (RFC 9113 §10.5; CVE-2019-9512 ping flood,
// CVE-2019-9515 settings flood, CVE-2019-9518 empty frames flood,
// CVE-2019-9513 resource loop through PRIORITY):
//
//   - settings, ping: the attacker never reads (and has a 16 KiB receive
//     buffer), so every ACK the server owes piles up. The server must not
//     queue them without bound: it may close the connection (Go's server
//     does past 10,000 queued control frames, which is what the ping flood
//     meets), coalesce them (Go's SETTINGS ACK is one pending flag), or stop
//     reading the attacker.
//   - empty-data (zero-length DATA on an open request stream),
//     window-update (WINDOW_UPDATE increment 1 on the connection) and
//     priority (PRIORITY frames for up to 1,000,000 distinct idle streams,
//     each depending on the one before: priority-tree state for streams
//     that never open): the attacker reads normally.
//
// Closing the connection always passes. Serving on passes too, as long as
// the flood costs no memory: Portico's RSS may grow by at most
// floodMaxGrowth while up to millions of frames arrive (any state kept per
// frame shows), and the normal client is not hurt.
//
// Each flood is bounded by its maxFrames and by floodMaxTime.
const (
	floodMaxTime   = 2 * time.Second
	floodStall     = 2 * time.Second
	floodMaxGrowth = 48 << 20
)

type floodCase struct {
	name      string
	maxFrames int
	read      bool                            // the attacker reads (and answers) what the server sends
	setup     func(c *edgetest.H2Conn) uint32 // before the flood; returns a stream id for write
	write     func(fr *http2.Framer, i int, id uint32) error
}

func TestH2Floods(t *testing.T) {
	e := startH2Env(t)
	cases := []floodCase{
		{name: "settings", maxFrames: 2_000_000,
			write: func(fr *http2.Framer, i int, _ uint32) error {
				// An empty SETTINGS frame still has to be acknowledged.
				return fr.WriteSettings()
			}},
		{name: "ping", maxFrames: 2_000_000,
			write: func(fr *http2.Framer, i int, _ uint32) error {
				var d [8]byte
				binary.BigEndian.PutUint64(d[:], uint64(i))
				return fr.WritePing(false, d)
			}},
		{name: "empty-data", maxFrames: 3_000_000, read: true,
			setup: func(c *edgetest.H2Conn) uint32 {
				id, _ := c.WriteRequest("POST", "/attack/empty-data", false)
				c.Flush(time.Second)
				return id
			},
			write: func(fr *http2.Framer, i int, id uint32) error { return fr.WriteData(id, false, nil) }},
		{name: "window-update", maxFrames: 3_000_000, read: true,
			write: func(fr *http2.Framer, i int, _ uint32) error { return fr.WriteWindowUpdate(0, 1) }},
		{name: "priority", maxFrames: 1_000_000, read: true,
			setup: func(c *edgetest.H2Conn) uint32 { return c.NewStreamID() },
			write: func(fr *http2.Framer, i int, first uint32) error {
				// Idle streams first+2i, each depending on the previous one.
				id := first + 2*uint32(i)
				dep := uint32(0)
				if i > 0 {
					dep = id - 2
				}
				return fr.WritePriority(id, http2.PriorityParam{StreamDep: dep, Weight: uint8(i), Exclusive: i%2 == 0})
			}},
	}
	for _, tg := range e.targets() {
		for _, fc := range cases {
			t.Run(tg.Name+"/"+fc.name, func(t *testing.T) {
				h2Attack(t, e, tg, func(t *testing.T, w *h2Watch) {
					rcvBuf := 0
					if !fc.read {
						// Not reading: push back on the server from the
						// first replies on, not after megabytes of them.
						rcvBuf = 16 << 10
					}
					c := edgetest.DialH2ReadyWith(t, tg, rcvBuf)
					w.closeAfter(func() { c.Close() })
					if fc.read {
						c.StartReader()
					}
					var id uint32
					if fc.setup != nil {
						id = fc.setup(c)
					}
					rss0 := w.maxRSS()
					res := c.Flood(fc.maxFrames, floodMaxTime, floodStall, 1000, func(fr *http2.Framer, i int) error {
						return fc.write(fr, i, id)
					})
					// Now read (without answering) what is pending, to see
					// how the connection ended.
					closed := c.Drain(time.Second)
					t.Logf("%s: %s flood: %s; connection: %s; RSS max %s (%s before)",
						tg.Name, fc.name, res, c.EndDescription(), edgetest.H2MiB(w.maxRSS()), edgetest.H2MiB(rss0))
					grew := w.maxRSS() - rss0
					switch {
					case closed:
						t.Logf("%s: Portico ended the connection", tg.Name)
					case res.Stalled:
						t.Logf("%s: Portico stopped reading the attacker (TCP back-pressure)", tg.Name)
					default:
						t.Logf("%s: Portico kept reading and serving the connection through the %s flood", tg.Name, fc.name)
					}
					if !closed && grew > floodMaxGrowth {
						t.Errorf("%s: %s flood: %s; Portico kept the connection (%s) and its RSS grew by %s (from %s to %s): state is kept per frame; it must close the connection or stay within %s",
							tg.Name, fc.name, res, c.EndDescription(), edgetest.H2MiB(grew), edgetest.H2MiB(rss0), edgetest.H2MiB(w.maxRSS()), edgetest.H2MiB(floodMaxGrowth))
					}
				})
			})
		}
	}
}
