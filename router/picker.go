package router

import (
	"math/rand/v2"
	"time"

	"github.com/cespare/xxhash/v2"
)

// Picker chooses a backend's endpoint for each attempt of a request. One is
// built per backend when a Table is compiled, for the policy its Balancing
// names, and it owns the health state of that backend's endpoints (in
// flight requests and outlier ejection), bound when the Table is
// published. A pick allocates nothing and touches no shared map; backends
// without Balancing are taken round robin and keep no health state.
type Picker struct {
	n      uint32
	policy LBPolicy
	bal    *Balancing
	// balanced is nil for backends without Balancing, keeping the
	// Picker of the common backend small.
	*balanced
}

// balanced is the state of a Picker with Balancing.
type balanced struct {
	// addrHash are the endpoints' address hashes, for rendezvous hashing.
	addrHash []uint64
	// health is per endpoint, by index; nil until the Table is published
	// (or for backends that need none).
	health []*endpointHealth
}

func newPicker(b *Backend) Picker {
	p := Picker{bal: b.Balancing, n: uint32(len(b.Endpoints))}
	if p.bal == nil {
		return p
	}
	p.policy = p.bal.Policy
	p.balanced = &balanced{}
	if p.policy == ConsistentHash {
		p.addrHash = make([]uint64, len(b.Endpoints))
		for i, ep := range b.Endpoints {
			p.addrHash[i] = xxhash.Sum64String(ep.Address)
		}
	}
	return p
}

// tracksHealth reports whether the picker needs endpoint health: least
// request counts requests in flight, outlier detection counts failures.
func (p *Picker) tracksHealth() bool {
	return p.bal != nil && (p.policy == LeastRequest || p.bal.Outlier != nil)
}

// Pick returns the index of the endpoint for attempt (0-based) of a
// request; first is the backend's round-robin counter for the request and
// x the request, read for a consistent-hash key.
func (p *Picker) Pick(x *Exchange, first uint32, attempt int) int {
	n := p.n
	if p.bal == nil || n == 1 {
		return int((first + uint32(attempt)) % n)
	}
	skip := p.ejectedNow()
	switch p.policy {
	case Random:
		return p.next(rand.Uint32N(n), skip)
	case LeastRequest:
		a, c := p.next(rand.Uint32N(n), skip), p.next(rand.Uint32N(n), skip)
		if p.health != nil && p.health[c].inflight.Load() < p.health[a].inflight.Load() {
			return c
		}
		return a
	case ConsistentHash:
		if key, ok := requestHash(p.bal, x); ok {
			return p.rendezvous(key, attempt, skip)
		}
	}
	return p.next(first+uint32(attempt), skip)
}

// ejectedNow reports whether ejected endpoints are to be skipped now:
// some are ejected and leaving them out keeps within MaxEjectionPercent
// and leaves at least one endpoint.
func (p *Picker) ejectedNow() bool {
	o := p.bal.Outlier
	if o == nil || p.health == nil {
		return false
	}
	now := time.Now().UnixNano()
	out := 0
	for _, h := range p.health {
		if h.ejectedUntil.Load() > now {
			out++
		}
	}
	return out > 0 && out < len(p.health) && out*100 <= o.MaxEjectionPercent*len(p.health)
}

func (p *Picker) ejected(i uint32, now int64) bool {
	return p.health[i].ejectedUntil.Load() > now
}

// next returns the endpoint at i, or with skip the first one from i on
// that is not ejected.
func (p *Picker) next(i uint32, skip bool) int {
	i %= p.n
	if !skip {
		return int(i)
	}
	now := time.Now().UnixNano()
	for k := uint32(0); k < p.n; k++ {
		if j := (i + k) % p.n; !p.ejected(j, now) {
			return int(j)
		}
	}
	return int(i)
}

// rendezvous returns the endpoint ranked attempt-th (cyclically) for key:
// each endpoint's score is a hash of the key and its address, so removing
// an endpoint moves only its own keys. Retries go to the following ranks'
// neighbours; ejected endpoints are skipped.
func (p *Picker) rendezvous(key uint64, attempt int, skip bool) int {
	now := time.Now().UnixNano()
	best, idx := uint64(0), -1
	for i, ah := range p.addrHash {
		if skip && p.ejected(uint32(i), now) {
			continue
		}
		if s := mix64(key ^ ah); idx < 0 || s > best {
			best, idx = s, i
		}
	}
	return p.next(uint32(idx+attempt), skip && attempt > 0)
}

// mix64 is the SplitMix64 finalizer: it spreads the combined hashes so the
// highest score is uniform over endpoints.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// started and finished account an attempt on endpoint i; finished records
// its outcome for outlier detection (code 0 is a connect failure, counted
// only when counted is true).
func (p *Picker) started(i int) {
	if p.balanced != nil && p.health != nil {
		p.health[i].inflight.Add(1)
	}
}

func (p *Picker) finished(i int, code int, counted bool) {
	if p.balanced == nil || p.health == nil {
		return
	}
	h := p.health[i]
	h.inflight.Add(-1)
	if o := p.bal.Outlier; o != nil && counted {
		h.observe(o, code)
	}
}

// observe records an attempt's outcome and ejects the endpoint when it
// failed too often in a row.
func (h *endpointHealth) observe(o *Outlier, code int) {
	fail5xx := code == 0 || code >= 500
	failGW := code == 0 || code == 502 || code == 503 || code == 504
	if !fail5xx {
		h.errors5xx.Store(0)
		h.errorsGW.Store(0)
		return
	}
	n5 := h.errors5xx.Add(1)
	ngw := int32(0)
	if failGW {
		ngw = h.errorsGW.Add(1)
	}
	if o.Consecutive5xx > 0 && n5 >= o.Consecutive5xx || o.ConsecutiveGatewayErrors > 0 && ngw >= o.ConsecutiveGatewayErrors {
		h.errors5xx.Store(0)
		h.errorsGW.Store(0)
		k := h.ejections.Add(1)
		h.ejectedUntil.Store(time.Now().Add(o.BaseEjection * time.Duration(k)).UnixNano())
	}
}
