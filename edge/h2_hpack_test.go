//go:build edge

package edge

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/portico-dev/portico/edge/edgetest"
	"golang.org/x/net/http2"
)

// HPACK bomb: the attacker puts one ~4 KiB header field into the server's
// HPACK dynamic table (a literal with incremental indexing, entry size
// 4,038 of the default 4,096), then sends requests whose header blocks
// reference it by index (one byte each) thousands of times: 16 KB on the
// wire decode to 64 MB of header fields. Portico's header limit is 64 KiB
// (SETTINGS_MAX_HEADER_LIST_SIZE, RFC 9113 §6.5.2 and §10.5.1), so every such
// request must be refused without being forwarded and without the decoded
// list being held in memory: 431, RST_STREAM, or a connection error
// (GOAWAY/close) are all acceptable refusals.
//
//   - "indexed": 40 requests, each one HEADERS frame of 16,000 references
//     (64 MB decoded each, 2.5 GB in all);
//   - "continued": 5 requests, each a HEADERS frame and 7 CONTINUATION
//     frames of 16,000 references (512 MB decoded each).
const (
	hpackEntryValue = 4000
	hpackRefsFrame  = 16000
)

func TestH2HPACKBomb(t *testing.T) {
	e := startH2Env(t)
	variants := []struct {
		name     string
		requests int
		frames   int // frames per header block
	}{
		{"indexed", 40, 1},
		{"continued", 5, 8},
	}
	refs := make([]byte, 0, hpackRefsFrame)
	for i := 0; i < hpackRefsFrame; i++ {
		refs = edgetest.HPACKIndexed(refs, 62) // the newest dynamic entry
	}
	for _, tg := range e.targets() {
		for _, v := range variants {
			t.Run(tg.Name+"/"+v.name, func(t *testing.T) {
				h2Attack(t, e, tg, func(t *testing.T, w *h2Watch) {
					c := edgetest.DialH2Ready(t, tg)
					w.closeAfter(func() { c.Close() })
					c.StartReader()
					// The seed: a normal request whose one large field is added
					// to the dynamic table. It is within every limit.
					seed := c.NewStreamID()
					block := edgetest.HPACKRequest(nil, tg, "GET", "/hpack-seed")
					block = edgetest.HPACKLiteral(block, "x-bomb", strings.Repeat("b", hpackEntryValue), true)
					c.Do(func(fr *http2.Framer) error {
						return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: seed, BlockFragment: block, EndStream: true, EndHeaders: true})
					})
					if err := c.Flush(2 * time.Second); err != nil {
						t.Fatalf("%s: sending the seed request: %v", tg.Name, err)
					}
					deadline := time.Now().Add(3 * time.Second)
					for time.Now().Before(deadline) && !c.IsClosed() {
						if s := c.Stream(seed); s != nil && (s.Ended || s.RST) {
							break
						}
						time.Sleep(10 * time.Millisecond)
					}
					if s := c.Stream(seed); s == nil || s.Status != 200 {
						t.Logf("%s: the seed request (one 4 KiB header field) got %+v; connection: %s", tg.Name, s, c.EndDescription())
					}

					before := e.be.Count("hpack-bomb")
					var ids []uint32
					start := time.Now()
					for i := 0; i < v.requests && !c.IsClosed(); i++ {
						id := c.NewStreamID()
						ids = append(ids, id)
						c.Do(func(fr *http2.Framer) error {
							b := edgetest.HPACKRequest(nil, tg, "GET", fmt.Sprintf("/hpack-bomb/%d", i))
							if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: append(b, refs...),
								EndStream: true, EndHeaders: v.frames == 1}); err != nil {
								return err
							}
							for f := 1; f < v.frames; f++ {
								if err := fr.WriteContinuation(id, f == v.frames-1, refs); err != nil {
									return err
								}
							}
							return nil
						})
						if err := c.Flush(2 * time.Second); err != nil {
							break // closed, or no longer read: judged below
						}
					}
					// Every request must be refused, within 3 s.
					outcome := func(id uint32) string {
						s := c.Stream(id)
						switch {
						case s != nil && s.Status == 431:
							return "431"
						case s != nil && s.RST:
							return "RST_STREAM " + s.RSTCode.String()
						case s != nil && s.Status != 0:
							return fmt.Sprintf("status %d", s.Status)
						}
						if g := c.GoAway(); g != nil && id > g.LastStreamID {
							return "GOAWAY"
						}
						if _, closed := c.ClosedAfter(); closed {
							return "connection closed"
						}
						return ""
					}
					deadline = time.Now().Add(3 * time.Second)
					for time.Now().Before(deadline) {
						pending := 0
						for _, id := range ids {
							if outcome(id) == "" {
								pending++
							}
						}
						if pending == 0 {
							break
						}
						time.Sleep(20 * time.Millisecond)
					}
					tally := map[string]int{}
					var bad []string
					for _, id := range ids {
						o := outcome(id)
						tally[o]++
						if o != "431" && o != "GOAWAY" && o != "connection closed" && !strings.HasPrefix(o, "RST_STREAM") {
							if o == "" {
								o = "no answer after 3 s, connection open"
							}
							if len(bad) < 5 {
								bad = append(bad, fmt.Sprintf("stream %d: %s", id, o))
							}
						}
					}
					decoded := int64(len(ids)) * int64(v.frames) * hpackRefsFrame * (6 + hpackEntryValue)
					t.Logf("%s: %d bomb requests (%d frames of %d references each, %s decoded in all) in %v: outcomes %v; connection: %s",
						tg.Name, len(ids), v.frames, hpackRefsFrame, edgetest.H2MiB(decoded), time.Since(start).Round(time.Millisecond), tally, c.EndDescription())
					if len(bad) > 0 {
						t.Errorf("%s: HPACK bomb (%s): requests whose header blocks decode to %s each (limit 64 KiB) must be refused with 431, RST_STREAM or a connection error; got: %s",
							tg.Name, v.name, edgetest.H2MiB(int64(v.frames)*hpackRefsFrame*(6+hpackEntryValue)), strings.Join(bad, "; "))
					}
					if n := settleCount(e.be, "hpack-bomb", 200*time.Millisecond, time.Second) - before; n > 0 {
						t.Errorf("%s: HPACK bomb (%s): %d requests with oversized decoded headers reached the backend; none may", tg.Name, v.name, n)
					}
				})
			})
		}
	}
}
