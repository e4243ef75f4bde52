package router

import "time"

// Budgets of the HTTP/2 frame guard, per connection. Go's HTTP/2 server
// bounds memory (header list size, queued control frames, concurrent
// streams) but not these patterns, each of which costs a proxy work without
// bound while the client pays nothing.
const (
	// maxContinuations bounds CONTINUATION frames after one HEADERS frame
	// (an endless stream of empty ones is CVE-2024-27316's CPU variant).
	maxContinuations = 64
	// maxResetsPerSecond bounds the streams a client opens and cancels
	// (RST_STREAM) per second: rapid reset, CVE-2023-44487. Each such
	// stream may already have reached a backend.
	maxResetsPerSecond = 200
	// maxEmptyFramesPerSecond bounds DATA frames that carry nothing and
	// do not end their stream.
	maxEmptyFramesPerSecond = 1000
)

const (
	h2FrameData         = 0x0
	h2FrameRSTStream    = 0x3
	h2FrameContinuation = 0x9
	h2FlagEndStream     = 0x1
)

// h2Guard follows the frames a client sends on an HTTP/2 connection (after
// the connection preface) and fails the connection when it exceeds a
// budget above. It only reads frame headers; net/http parses the frames.
type h2Guard struct {
	skip  int     // preface bytes still to pass
	hdr   [9]byte // the frame header being read
	nhdr  int
	left  int // payload bytes of the current frame still to pass
	conts int // consecutive CONTINUATION frames
	// Per one-second window.
	window        time.Time
	resets, empty int
}

func newH2Guard(prefaceLeft int) *h2Guard { return &h2Guard{skip: prefaceLeft} }

func (g *h2Guard) feed(b []byte) error {
	for len(b) > 0 {
		if g.skip > 0 {
			k := min(g.skip, len(b))
			g.skip -= k
			b = b[k:]
			continue
		}
		if g.left > 0 {
			k := min(g.left, len(b))
			g.left -= k
			b = b[k:]
			continue
		}
		k := copy(g.hdr[g.nhdr:], b)
		g.nhdr += k
		b = b[k:]
		if g.nhdr < len(g.hdr) {
			return nil
		}
		g.nhdr = 0
		length := int(g.hdr[0])<<16 | int(g.hdr[1])<<8 | int(g.hdr[2])
		g.left = length
		if err := g.frame(g.hdr[3], g.hdr[4], length); err != nil {
			return err
		}
	}
	return nil
}

func (g *h2Guard) frame(typ, flags byte, length int) error {
	if typ == h2FrameContinuation {
		if g.conts++; g.conts > maxContinuations {
			return framingErr("HTTP/2: more than %d CONTINUATION frames", maxContinuations)
		}
	} else {
		g.conts = 0
	}
	switch {
	case typ == h2FrameRSTStream:
		g.tick()
		if g.resets++; g.resets > maxResetsPerSecond {
			return framingErr("HTTP/2: more than %d streams reset per second", maxResetsPerSecond)
		}
	case typ == h2FrameData && length == 0 && flags&h2FlagEndStream == 0:
		g.tick()
		if g.empty++; g.empty > maxEmptyFramesPerSecond {
			return framingErr("HTTP/2: more than %d empty DATA frames per second", maxEmptyFramesPerSecond)
		}
	}
	return nil
}

// tick starts a new window when the current one is over.
func (g *h2Guard) tick() {
	if now := time.Now(); now.Sub(g.window) >= time.Second {
		g.window, g.resets, g.empty = now, 0, 0
	}
}
