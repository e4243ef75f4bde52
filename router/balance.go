package router

import (
	"hash/fnv"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// LBPolicy is how a backend's endpoints share its requests.
type LBPolicy uint8

// Load-balancing policies.
const (
	// RoundRobin (the default) takes the endpoints in turn.
	RoundRobin LBPolicy = iota
	// LeastRequest takes the less busy of two random endpoints.
	LeastRequest
	// Random takes an endpoint at random.
	Random
	// ConsistentHash sends equal keys to the same endpoint while the
	// endpoint set allows (rendezvous hashing: a removed endpoint moves
	// only its own keys).
	ConsistentHash
)

// Balancing configures how a backend picks endpoints and protects them.
type Balancing struct {
	Policy LBPolicy `json:"policy,omitempty"`
	// HashHeader, HashCookie or HashSourceIP give the ConsistentHash key.
	HashHeader   string `json:"hashHeader,omitempty"`
	HashCookie   string `json:"hashCookie,omitempty"`
	HashSourceIP bool   `json:"hashSourceIP,omitempty"`
	// MaxRequests, when set, bounds the requests in flight to the backend;
	// beyond it requests are answered 503 at once (circuit breaking).
	MaxRequests int32 `json:"maxRequests,omitempty"`
	// Outlier, when set, ejects endpoints that keep failing.
	Outlier *Outlier `json:"outlier,omitempty"`
}

// Outlier is passive health checking: an endpoint answering Consecutive5xx
// 5xx responses in a row (or ConsecutiveGatewayErrors 502/503/504 or
// connect failures) is left out for BaseEjection times the number of its
// ejections, while at most MaxEjectionPercent of the endpoints are out.
type Outlier struct {
	Consecutive5xx           int32         `json:"consecutive5xx,omitempty"`
	ConsecutiveGatewayErrors int32         `json:"consecutiveGatewayErrors,omitempty"`
	BaseEjection             time.Duration `json:"baseEjection"`
	MaxEjectionPercent       int           `json:"maxEjectionPercent"`
}

// endpointHealth is what Portico tracks per endpoint address. It lives in
// the Transports, so it outlives tables.
type endpointHealth struct {
	inflight     atomic.Int32
	errors5xx    atomic.Int32
	errorsGW     atomic.Int32
	ejections    atomic.Int32
	ejectedUntil atomic.Int64 // unix nanoseconds
}

type healthMap struct{ m sync.Map }

func (h *healthMap) of(addr string) *endpointHealth {
	if v, ok := h.m.Load(addr); ok {
		return v.(*endpointHealth)
	}
	v, _ := h.m.LoadOrStore(addr, &endpointHealth{})
	return v.(*endpointHealth)
}

// pick chooses the endpoint for attempt i of a request to b.
func (t *Transports) pick(b *compiledBackend, req *http.Request, first uint32, i int) string {
	eps := b.Endpoints
	bal := b.Balancing
	if bal == nil {
		return eps[(first+uint32(i))%uint32(len(eps))].Address
	}
	if bal.Outlier != nil {
		eps = t.healthy(eps, bal.Outlier)
	}
	n := uint32(len(eps))
	switch bal.Policy {
	case Random:
		return eps[rand.IntN(len(eps))].Address
	case LeastRequest:
		a, c := eps[rand.IntN(len(eps))].Address, eps[rand.IntN(len(eps))].Address
		if t.health.of(c).inflight.Load() < t.health.of(a).inflight.Load() {
			return c
		}
		return a
	case ConsistentHash:
		if key, ok := hashKey(bal, req); ok {
			return eps[(rendezvous(eps, key)+uint32(i))%n].Address
		}
	}
	return eps[(first+uint32(i))%n].Address
}

// healthy leaves out ejected endpoints, unless that would leave out more
// than the allowed share (then all are used).
func (t *Transports) healthy(eps []Endpoint, o *Outlier) []Endpoint {
	now := time.Now().UnixNano()
	out := make([]Endpoint, 0, len(eps))
	for _, ep := range eps {
		if t.health.of(ep.Address).ejectedUntil.Load() <= now {
			out = append(out, ep)
		}
	}
	ejected := len(eps) - len(out)
	if len(out) == 0 || ejected*100 > o.MaxEjectionPercent*len(eps) {
		return eps
	}
	return out
}

// observe records an attempt's outcome for outlier detection: code 0 is a
// connect failure.
func (t *Transports) observe(b *compiledBackend, addr string, code int) {
	if b.Balancing == nil || b.Balancing.Outlier == nil {
		return
	}
	o := b.Balancing.Outlier
	h := t.health.of(addr)
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

func hashKey(bal *Balancing, req *http.Request) (string, bool) {
	switch {
	case bal.HashHeader != "":
		v := req.Header.Get(bal.HashHeader)
		return v, v != ""
	case bal.HashCookie != "":
		c, err := req.Cookie(bal.HashCookie)
		if err != nil {
			return "", false
		}
		return c.Value, true
	case bal.HashSourceIP:
		return remoteIP(req.RemoteAddr).String(), true
	}
	return "", false
}

// rendezvous returns the index of the endpoint with the highest hash of
// (key, address).
func rendezvous(eps []Endpoint, key string) uint32 {
	var best uint64
	idx := uint32(0)
	for i, ep := range eps {
		h := fnv.New64a()
		h.Write([]byte(key))
		h.Write([]byte{0})
		h.Write([]byte(ep.Address))
		if s := h.Sum64(); i == 0 || s > best {
			best, idx = s, uint32(i)
		}
	}
	return idx
}
