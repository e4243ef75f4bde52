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

// Zero window: the attacker's SETTINGS set SETTINGS_INITIAL_WINDOW_SIZE to 0
// and it never sends WINDOW_UPDATE, then asks for large responses (64 MiB
// each, 50 streams on 2 connections per port, 6.25 GiB in all). Portico may
// send no DATA at all (RFC 9113 §6.9.1), so:
//
//   - it must not buffer the backend's responses: its RSS may grow by at
//     most zeroWindowMaxGrowth (back-pressure goes to the backend instead);
//   - the stalled streams must not live forever: within zeroWindowStall
//     each is reset (RST_STREAM) or its connection ended (GOAWAY/close).
//     A stream that can make no progress pins a goroutine, buffers and a
//     backend connection for nothing; 30 s is the order of common proxy
//     send timeouts (HAProxy's usual `timeout client`; nginx's send_timeout
//     is 60 s);
//   - clients with an open window are not affected (the normal client);
//   - and no DATA frame may be sent into the zero window.
//
// Both ports are attacked at once, so the test waits once.
const (
	zeroWindowConns   = 2
	zeroWindowStreams = 25
	zeroWindowBody    = 64 << 20
	zeroWindowStall   = 30 * time.Second
	// zeroWindowSendTimeout is Portico's --client-send-timeout here: the
	// default (60s, as nginx's send_timeout) is longer than the suite
	// waits.
	zeroWindowSendTimeout = "10s"
	zeroWindowMaxGrowth   = 64 << 20
)

func TestH2ZeroWindow(t *testing.T) {
	e := startH2Env(t, "--client-send-timeout="+zeroWindowSendTimeout)
	tgs := e.targets()
	h2AttackAll(t, e, tgs, func(t *testing.T, w *h2Watch) {
		rss0 := w.maxRSS()
		type attacker struct {
			tg  edgetest.H2Target
			c   *edgetest.H2Conn
			ids []uint32
		}
		var atks []*attacker
		for _, tg := range tgs {
			for i := 0; i < zeroWindowConns; i++ {
				c := edgetest.DialH2Ready(t, tg, http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
				w.closeAfter(func() { c.Close() })
				c.StartReader()
				a := &attacker{tg: tg, c: c}
				for s := 0; s < zeroWindowStreams; s++ {
					id, err := c.WriteRequest("GET", fmt.Sprintf("/big/%d-%d?n=%d", i, s, zeroWindowBody), true)
					if err != nil {
						t.Fatalf("%s: writing request: %v", tg.Name, err)
					}
					a.ids = append(a.ids, id)
				}
				if err := c.Flush(2 * time.Second); err != nil {
					t.Fatalf("%s: sending requests: %v", tg.Name, err)
				}
				atks = append(atks, a)
			}
		}
		start := time.Now()
		// ended reports whether the stream is over for the attacker.
		ended := func(a *attacker, id uint32) bool {
			s := a.c.Stream(id)
			if s != nil && (s.RST || s.Ended) {
				return true
			}
			if g := a.c.GoAway(); g != nil && id > g.LastStreamID {
				return true
			}
			select {
			case <-a.c.Done():
				return true
			default:
			}
			return false
		}
		for time.Since(start) < zeroWindowStall {
			open := 0
			for _, a := range atks {
				for _, id := range a.ids {
					if !ended(a, id) {
						open++
					}
				}
			}
			if open == 0 {
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
		waited := time.Since(start)
		written, live := e.be.BigBytes()
		grew := w.maxRSS() - rss0
		t.Logf("after %v: backend wrote %s of /big bodies (%d handlers still writing); Portico RSS grew by %s",
			waited.Round(time.Millisecond), edgetest.H2MiB(written), live, edgetest.H2MiB(grew))
		for _, tg := range tgs {
			var open, headers, rst, data int
			var dataBytes int64
			var conns []string
			for _, a := range atks {
				if a.tg.Name != tg.Name {
					continue
				}
				conns = append(conns, a.c.EndDescription())
				for _, id := range a.ids {
					s := a.c.Stream(id)
					if s != nil {
						if s.Status != 0 {
							headers++
						}
						if s.RST {
							rst++
						}
						if s.DataBytes > 0 {
							data++
							dataBytes += s.DataBytes
						}
					}
					if !ended(a, id) {
						open++
					}
				}
			}
			total := zeroWindowConns * zeroWindowStreams
			t.Logf("%s: %d streams with window 0 asking for %s each: %d got response headers, %d reset, %d still open; connections: %s",
				tg.Name, total, edgetest.H2MiB(zeroWindowBody), headers, rst, open, strings.Join(conns, " | "))
			if data > 0 {
				t.Errorf("%s: Portico sent %d bytes of DATA on %d streams whose flow-control window is 0 (SETTINGS_INITIAL_WINDOW_SIZE 0, no WINDOW_UPDATE): RFC 9113 §6.9.1 forbids it",
					tg.Name, dataBytes, data)
			}
			if open > 0 {
				t.Errorf("%s: zero window: %d of %d streams (window 0, %s responses pending) are still open after %v with no progress possible: Portico must reset such streams (RST_STREAM) or end the connection within %v; connections: %s",
					tg.Name, open, total, edgetest.H2MiB(zeroWindowBody), waited.Round(time.Second), zeroWindowStall, strings.Join(conns, " | "))
			}
		}
		if grew > zeroWindowMaxGrowth {
			t.Errorf("zero window: Portico's RSS grew by %s (%s -> %s) while %d streams with window 0 waited for %s responses each: it buffers what it cannot send (at most %s allowed)",
				edgetest.H2MiB(grew), edgetest.H2MiB(rss0), edgetest.H2MiB(w.maxRSS()), len(atks)*zeroWindowStreams, edgetest.H2MiB(zeroWindowBody), edgetest.H2MiB(zeroWindowMaxGrowth))
		}
	})
}
