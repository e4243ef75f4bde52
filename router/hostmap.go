package router

import (
	"hash/maphash"
	"maps"
	"slices"
)

// hostShards is the number of maps a hostMap splits its hosts into. A
// Patch copies only the shards holding the hosts it changes: at 50,000
// hosts one changed host copies a shard of ~200 entries and the shard
// array (2 KiB), not a map of 50,000 entries (1.7 MB).
const hostShards = 256

// hostSeed hashes host names to shards; one per process, so every Table
// agrees on where a host is.
var hostSeed = maphash.MakeSeed()

// hostMap maps normalised host names to their host tables, split into
// shards by a hash of the name. Tables share a hostMap's shards (and the
// array holding them) copy-on-write: a Table being built owns only what it
// copied or made, and copies a shard before its first change.
type hostMap struct {
	shards *[hostShards]map[string]*hostTable // nil while empty
	// owned has a bit per shard this hostMap may change; nil means the
	// shard array itself is shared with another Table.
	owned *[hostShards / 64]uint64
	n     int
}

func shardOf(h []byte) int     { return int(maphash.Bytes(hostSeed, h) & (hostShards - 1)) }
func shardOfS(h string) int    { return int(maphash.String(hostSeed, h) & (hostShards - 1)) }
func (m *hostMap) len() int    { return m.n }
func (m *hostMap) share()      { m.owned = nil }
func (m *hostMap) empty() bool { return m.n == 0 }

// lookup finds the host table of h without allocating.
func (m *hostMap) lookup(h []byte) (*hostTable, bool) {
	if m.n == 0 {
		return nil, false
	}
	ht, ok := m.shards[shardOf(h)][string(h)]
	return ht, ok
}

// get is lookup for a string.
func (m *hostMap) get(h string) *hostTable {
	if m.n == 0 {
		return nil
	}
	return m.shards[shardOfS(h)][h]
}

// writable returns shard i, copied first unless this hostMap owns it.
func (m *hostMap) writable(i int) map[string]*hostTable {
	if m.owned == nil {
		old := m.shards
		m.shards = new([hostShards]map[string]*hostTable)
		if old != nil {
			*m.shards = *old
		}
		m.owned = new([hostShards / 64]uint64)
	}
	if m.owned[i/64]&(1<<(i%64)) == 0 {
		if s := m.shards[i]; s != nil {
			m.shards[i] = maps.Clone(s)
		} else {
			m.shards[i] = map[string]*hostTable{}
		}
		m.owned[i/64] |= 1 << (i % 64)
	}
	return m.shards[i]
}

// set files ht under h.
func (m *hostMap) set(h string, ht *hostTable) {
	s := m.writable(shardOfS(h))
	if _, ok := s[h]; !ok {
		m.n++
	}
	s[h] = ht
}

// remove drops h, copying its shard only when h is there.
func (m *hostMap) remove(h string) {
	if m.get(h) == nil {
		return
	}
	delete(m.writable(shardOfS(h)), h)
	m.n--
}

// sortedKeys lists the hosts in order, for tools.
func (m *hostMap) sortedKeys() []string {
	out := make([]string, 0, m.n)
	if m.shards != nil {
		for _, s := range m.shards {
			for h := range s {
				out = append(out, h)
			}
		}
	}
	slices.Sort(out)
	return out
}
