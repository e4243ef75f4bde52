package router

import (
	"sync"
	"sync/atomic"
)

// endpointHealth is what Portico tracks per endpoint of a balanced backend
// (one with Balancing that needs it: least request or outlier ejection).
type endpointHealth struct {
	inflight     atomic.Int32
	errors5xx    atomic.Int32
	errorsGW     atomic.Int32
	ejections    atomic.Int32
	ejectedUntil atomic.Int64 // unix nanoseconds
}

// healthRegistry keeps endpoint health by address across tables, so an
// ejection outlives the configuration change that follows it. It is
// touched only when a table is published, never on a request: each
// table's pickers hold their endpoints' entries directly. Publishing a
// table prunes the addresses it no longer balances.
type healthRegistry struct {
	mu sync.Mutex
	m  map[string]*endpointHealth
}

// bind gives every balanced backend of t its endpoints' health entries and
// forgets the addresses t does not use. Requests still running on an older
// table keep their entries; only the registry lets go of them.
func (h *healthRegistry) bind(t *Table) {
	h.mu.Lock()
	defer h.mu.Unlock()
	next := make(map[string]*endpointHealth, len(h.m))
	for _, b := range t.balanced {
		p := &b.picker
		health := make([]*endpointHealth, len(b.Endpoints))
		for i, ep := range b.Endpoints {
			e := next[ep.Address]
			if e == nil {
				if e = h.m[ep.Address]; e == nil {
					e = &endpointHealth{}
				}
				next[ep.Address] = e
			}
			health[i] = e
		}
		p.health = health
	}
	h.m = next
}

// size is the number of addresses tracked (tests).
func (h *healthRegistry) size() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.m)
}
