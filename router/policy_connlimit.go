package router

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// ConnLimit bounds the requests one client address has in progress on the
// routes of a policy, in this replica (ingress-nginx's limit-connections,
// which nginx counts per connection and HTTP/2 stream). A request is
// counted from its policy check until its handler returns.
type ConnLimit struct {
	// Max is the number of requests in progress allowed per address.
	Max uint32 `json:"max"`
	// Status is the answer beyond Max (default 503).
	Status int `json:"status,omitempty"`
	// Exempt lists client networks not counted (comma separated
	// prefixes).
	Exempt string `json:"exempt,omitempty"`
	// Scope names the counters so that the next translation of the same
	// object keeps counting the requests already in progress.
	Scope string `json:"scope,omitempty"`
}

// maxConnClients bounds the addresses a limit tracks at once; a request
// from an address beyond it is let through uncounted.
const maxConnClients = 100_000

// connCounter counts the requests in progress per client address.
type connCounter struct {
	mu     sync.Mutex
	active map[netip.Addr]uint32
	used   time.Time
}

// scopedConns keeps counters by scope and settings across translations.
// They are swept of idle ones as scopedBuckets are (see scopeSweep).
var scopedConns = struct {
	sync.Mutex
	m     map[ConnLimit]*connCounter
	swept time.Time
}{m: map[ConnLimit]*connCounter{}}

// idleSince reports whether no request is in progress and no compile
// asked for the counter in scopeTTL before now.
func (c *connCounter) idleSince(now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.active) == 0 && now.Sub(c.used) > scopeTTL
}

func countersFor(l *ConnLimit) *connCounter {
	if l.Scope == "" {
		return &connCounter{active: map[netip.Addr]uint32{}}
	}
	now := time.Now()
	scopedConns.Lock()
	defer scopedConns.Unlock()
	if now.Sub(scopedConns.swept) >= scopeSweep {
		for k, c := range scopedConns.m {
			if c.idleSince(now) {
				delete(scopedConns.m, k)
			}
		}
		scopedConns.swept = now
	}
	c := scopedConns.m[*l]
	if c == nil || c.idleSince(now) {
		c = &connCounter{active: map[netip.Addr]uint32{}}
		scopedConns.m[*l] = c
	}
	c.used = now
	return c
}

// connStep is a compiled ConnLimit.
type connStep struct {
	max    uint32
	status int
	exempt []netip.Prefix
	*connCounter
}

func compileConnLimit(l *ConnLimit) (*connStep, error) {
	if l.Max == 0 {
		return nil, errors.New("connLimit.max: must be positive")
	}
	if l.Status != 0 && (l.Status < 400 || l.Status > 599) {
		return nil, fmt.Errorf("connLimit.status: %d is not an error status", l.Status)
	}
	exempt, err := parsePrefixList(l.Exempt)
	if err != nil {
		return nil, fmt.Errorf("connLimit.exempt: %w", err)
	}
	s := &connStep{max: l.Max, status: l.Status, exempt: exempt, connCounter: countersFor(l)}
	if s.status == 0 {
		s.status = http.StatusServiceUnavailable
	}
	return s, nil
}

func (s *connStep) check(_ context.Context, _ *Exchange, _ Headers, ps *policyState) (int, string) {
	a := ps.client
	if !a.IsValid() || inPrefixes(s.exempt, a) || ps.conns != nil {
		return 0, ""
	}
	s.mu.Lock()
	n, tracked := s.active[a]
	if !tracked && len(s.active) >= maxConnClients {
		s.mu.Unlock()
		return 0, ""
	}
	if n >= s.max {
		s.mu.Unlock()
		return s.status, "too many requests in progress from this address"
	}
	s.active[a] = n + 1
	s.mu.Unlock()
	ps.conns, ps.connAddr = s.connCounter, a
	return 0, ""
}

// done ends what the policy checks of a request hold: its place in a
// connection limit. The servers call it once the request is answered.
func (ps *policyState) done() {
	c := ps.conns
	if c == nil {
		return
	}
	ps.conns = nil
	c.mu.Lock()
	if n := c.active[ps.connAddr]; n <= 1 {
		delete(c.active, ps.connAddr)
	} else {
		c.active[ps.connAddr] = n - 1
	}
	c.mu.Unlock()
}

// parsePrefixList parses comma-separated prefixes or addresses.
func parsePrefixList(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR or an address", f)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
