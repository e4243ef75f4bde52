package router

import (
	"sync"
	"time"
)

// verifiedCache remembers credentials that verified, so that an expensive
// check (bcrypt, a signature) runs once per credential rather than once
// per request. Only successes are stored: a client cannot fill it without
// valid credentials. It holds at most max entries, each until its expiry;
// when full, an arbitrary entry makes room. Lookups do not allocate.
type verifiedCache[V any] struct {
	mu  sync.RWMutex
	m   map[string]cacheEntry[V]
	max int
}

type cacheEntry[V any] struct {
	v       V
	expires time.Time
}

// verifiedCacheSize bounds each cache.
const verifiedCacheSize = 4096

func newVerifiedCache[V any]() *verifiedCache[V] {
	return &verifiedCache[V]{m: map[string]cacheEntry[V]{}, max: verifiedCacheSize}
}

// get returns the value stored for k if it has not expired at now.
func (c *verifiedCache[V]) get(k string, now time.Time) (V, bool) {
	c.mu.RLock()
	e, ok := c.m[k]
	c.mu.RUnlock()
	if !ok || !now.Before(e.expires) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// put stores v for k until expires.
func (c *verifiedCache[V]) put(k string, v V, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; !ok && len(c.m) >= c.max {
		now := time.Now()
		for old, e := range c.m {
			if !now.Before(e.expires) {
				delete(c.m, old)
			}
		}
		for old := range c.m {
			if len(c.m) < c.max {
				break
			}
			delete(c.m, old)
		}
	}
	c.m[k] = cacheEntry[V]{v, expires}
}
