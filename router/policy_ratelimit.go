package router

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// rateStep is a local rate limit: a token bucket per key. Buckets live as
// long as the Policy (so across table swaps that keep it); at most
// maxBuckets keys are tracked, full buckets being forgotten first (a full
// bucket is the same as a new one).
type rateStep struct {
	cfg *LocalRateLimit
	// rate is tokens per nanosecond; burst the bucket size.
	rate  float64
	burst float64
	// headers precomputed for answers.
	limitText, policyText string
	// header is the canonical KeyName of a RateKeyHeader limit.
	header string
	// now is the clock (tests replace it).
	now func() time.Time
	// exempt are the client networks of LocalRateLimit.Exempt.
	exempt []netip.Prefix

	*buckets
}

// buckets are a limit's counting state, shared by the Policies of one
// Scope (see LocalRateLimit.Scope).
type buckets struct {
	mu     sync.Mutex
	byAddr map[netip.Addr]*bucket
	byText map[uint64]*bucket // by maphash of the header or claim value
	seed   maphash.Seed
	one    bucket
	// used is when a table last compiled a Policy with these buckets.
	used time.Time

	// shadowed counts requests a Shadow limit would have refused.
	shadowed atomic.Uint64
}

// scopedBuckets keeps buckets by scope and settings across translations;
// entries no compile asked for in scopeTTL are forgotten. swept is when
// they were last looked through for such entries.
var scopedBuckets = struct {
	sync.Mutex
	m     map[LocalRateLimit]*buckets
	swept time.Time
}{m: map[LocalRateLimit]*buckets{}}

const scopeTTL = time.Hour

// scopeSweep is how often at most a compile looks through every scope's
// state for those unused in scopeTTL (an entry found unused that long is
// renewed when asked for), so that compiling n scoped limits costs O(n),
// not O(n²): a Table of 50,000 ingress-nginx Ingresses with limit-rps
// took minutes to compile.
const scopeSweep = time.Minute

func newBuckets(burst float64) *buckets {
	b := &buckets{byAddr: map[netip.Addr]*bucket{}, byText: map[uint64]*bucket{}, seed: maphash.MakeSeed()}
	b.one.tokens = burst
	return b
}

// bucketsFor returns the buckets of l's scope, new ones when it has none.
func bucketsFor(l *LocalRateLimit, burst float64) *buckets {
	if l.Scope == "" {
		return newBuckets(burst)
	}
	now := time.Now()
	scopedBuckets.Lock()
	defer scopedBuckets.Unlock()
	if now.Sub(scopedBuckets.swept) >= scopeSweep {
		for k, b := range scopedBuckets.m {
			if now.Sub(b.used) > scopeTTL {
				delete(scopedBuckets.m, k)
			}
		}
		scopedBuckets.swept = now
	}
	b := scopedBuckets.m[*l]
	if b == nil || now.Sub(b.used) > scopeTTL {
		b = newBuckets(burst)
		scopedBuckets.m[*l] = b
	}
	b.used = now
	return b
}

type bucket struct {
	tokens float64
	last   int64 // unix nanoseconds of the last update
}

// maxBuckets bounds the keys a limit tracks.
const maxBuckets = 100_000

func compileRateLimit(l *LocalRateLimit) (*rateStep, error) {
	switch {
	case l.Requests == 0:
		return nil, errors.New("rateLimit.local.requests: must be positive")
	case l.Per <= 0:
		return nil, errors.New("rateLimit.local.unit: must be positive")
	case (l.Key == RateKeyHeader || l.Key == RateKeyClaim) && l.KeyName == "":
		return nil, errors.New("rateLimit.local.key: the header or claim name is required")
	case l.Key > RateKeyClaim:
		return nil, errors.New("rateLimit.local.key: unknown")
	}
	burst := l.Burst
	if burst == 0 {
		burst = l.Requests
	}
	s := &rateStep{cfg: l, rate: float64(l.Requests) / float64(l.Per), burst: float64(burst), now: time.Now}
	exempt, err := parsePrefixList(l.Exempt)
	if err != nil {
		return nil, fmt.Errorf("rateLimit.local.exempt: %w", err)
	}
	s.exempt = exempt
	if l.Status != 0 && (l.Status < 400 || l.Status > 599) {
		return nil, fmt.Errorf("rateLimit.local.status: %d is not an error status", l.Status)
	}
	s.buckets = bucketsFor(l, s.burst)
	if l.Key == RateKeyHeader {
		s.header = canonicalName(l.KeyName)
	}
	s.limitText = strconv.FormatUint(uint64(l.Requests), 10)
	s.policyText = s.limitText + ";w=" + strconv.FormatInt(int64(math.Ceil(l.Per.Seconds())), 10)
	if burst != l.Requests {
		s.policyText += ";burst=" + strconv.FormatUint(uint64(burst), 10)
	}
	return s, nil
}

func (s *rateStep) check(_ context.Context, x *Exchange, resp Headers, ps *policyState) (int, string) {
	if len(s.exempt) > 0 && inPrefixes(s.exempt, ps.client) {
		return 0, ""
	}
	now := s.now().UnixNano()
	s.mu.Lock()
	b := s.bucketLocked(x, ps, now)
	// Refill for the time passed, then take one token.
	if elapsed := now - b.last; elapsed > 0 {
		b.tokens = min(s.burst, b.tokens+float64(elapsed)*s.rate)
		b.last = now
	}
	ok := b.tokens >= 1
	var wait float64
	if ok {
		b.tokens--
	} else {
		wait = (1 - b.tokens) / s.rate // nanoseconds until one token
	}
	s.mu.Unlock()
	if ok {
		return 0, ""
	}
	if s.cfg.Shadow {
		s.shadowed.Add(1)
		return 0, ""
	}
	if s.cfg.Status != 0 {
		return s.cfg.Status, "rate limit exceeded"
	}
	secs := strconv.FormatInt(int64(math.Ceil(wait/1e9)), 10)
	resp.Set("Retry-After", secs)
	resp.Set("RateLimit-Limit", s.limitText)
	resp.Set("RateLimit-Remaining", "0")
	resp.Set("RateLimit-Reset", secs)
	resp.Set("RateLimit-Policy", s.policyText)
	return http.StatusTooManyRequests, "rate limit exceeded"
}

// bucketLocked finds (or makes) the request's bucket; s.mu is held.
func (s *rateStep) bucketLocked(x *Exchange, ps *policyState, now int64) *bucket {
	switch s.cfg.Key {
	case RateKeyClientIP:
		b := s.byAddr[ps.client]
		if b == nil {
			s.makeRoomLocked(now)
			b = &bucket{tokens: s.burst, last: now}
			s.byAddr[ps.client] = b
		}
		return b
	case RateKeyHeader, RateKeyClaim:
		var k string
		if s.cfg.Key == RateKeyHeader {
			k = x.Header.Get(s.header)
		} else if ps.jwt != nil {
			k, _ = claimText(ps.jwt.claims, s.cfg.KeyName)
		}
		h := maphash.String(s.seed, k)
		b := s.byText[h]
		if b == nil {
			s.makeRoomLocked(now)
			b = &bucket{tokens: s.burst, last: now}
			s.byText[h] = b
		}
		return b
	}
	return &s.one
}

// makeRoomLocked keeps the number of buckets under maxBuckets: buckets
// that have refilled go first, then arbitrary ones.
func (s *rateStep) makeRoomLocked(now int64) {
	if len(s.byAddr)+len(s.byText) < maxBuckets {
		return
	}
	full := func(b *bucket) bool { return b.tokens+float64(now-b.last)*s.rate >= s.burst }
	for k, b := range s.byAddr {
		if full(b) {
			delete(s.byAddr, k)
		}
	}
	for k, b := range s.byText {
		if full(b) {
			delete(s.byText, k)
		}
	}
	for k := range s.byAddr {
		if len(s.byAddr)+len(s.byText) < maxBuckets {
			return
		}
		delete(s.byAddr, k)
	}
	for k := range s.byText {
		if len(s.byAddr)+len(s.byText) < maxBuckets {
			return
		}
		delete(s.byText, k)
	}
}
