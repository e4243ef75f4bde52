package router

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash/maphash"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	// go-redis is the Redis project's own Go client: pooled connections,
	// per-call timeouts and scripts by SHA (EVALSHA, loading on NOSCRIPT).
	"github.com/redis/go-redis/v9"
)

// leaseScript takes up to ARGV[1] tokens from the counter KEYS[1] of one
// window, limited to ARGV[2], the counter expiring after ARGV[3] ms; it
// returns how many it granted.
var leaseScript = redis.NewScript(`
local want = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local grant = math.min(want, limit - used)
if grant <= 0 then return 0 end
local now = redis.call('INCRBY', KEYS[1], grant)
if now == grant then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return grant`)

// globalStep is a GlobalRateLimit's check.
type globalStep struct {
	cfg    *GlobalRateLimit
	rdb    *redis.Client
	batch  int64
	header string
	now    func() time.Time

	mu   sync.Mutex
	keys map[uint64]*globalKey
	seed maphash.Seed

	// Counters, for tests and tools: Redis calls made, requests that
	// waited for one, Redis failures.
	calls, waits, failures atomic.Int64
}

// globalKey is one key's state in this replica.
type globalKey struct {
	mu       sync.Mutex
	redisKey string // without the window
	window   int64
	tokens   int64 // leased, not yet used
	drained  bool  // Redis granted less than asked: the window is spent
	fetching bool  // a background lease is under way
}

// redisClients shares one client (pool) per Redis address.
var redisClients sync.Map

// quietRedis silences go-redis's own logger (the router logs nothing; a
// Redis failure shows in the answers and the step's counters).
var quietRedis sync.Once

type discardRedisLog struct{}

func (discardRedisLog) Printf(context.Context, string, ...any) {}

// redisTimeout bounds every Redis call: a Redis outage costs a request
// at most this long, never a hang.
const redisTimeout = 250 * time.Millisecond

func compileGlobalLimit(g *GlobalRateLimit) (*globalStep, error) {
	switch {
	case g.Requests == 0:
		return nil, errors.New("rateLimit.global.requests: must be positive")
	case g.Per < time.Millisecond:
		return nil, errors.New("rateLimit.global.unit: at least a millisecond")
	case (g.Key == RateKeyHeader || g.Key == RateKeyClaim) && g.KeyName == "":
		return nil, errors.New("rateLimit.global.key: the header or claim name is required")
	case g.Key > RateKeyClaim:
		return nil, errors.New("rateLimit.global.key: unknown")
	case g.Scope == "":
		return nil, errors.New("rateLimit.global: a scope is required")
	}
	if _, _, err := net.SplitHostPort(g.Redis); err != nil {
		return nil, errors.New("rateLimit.global.redis: want host:port, not " + strconv.Quote(g.Redis))
	}
	quietRedis.Do(func() { redis.SetLogger(discardRedisLog{}) })
	v, ok := redisClients.Load(g.Redis)
	if !ok {
		v, _ = redisClients.LoadOrStore(g.Redis, redis.NewClient(&redis.Options{Addr: g.Redis, DialTimeout: redisTimeout,
			ReadTimeout: redisTimeout, WriteTimeout: redisTimeout, PoolSize: 32, MaxRetries: -1,
			ContextTimeoutEnabled: true, DisableIdentity: true}))
	}
	s := &globalStep{cfg: g, rdb: v.(*redis.Client), batch: max(1, int64(g.Requests)/50), now: time.Now,
		keys: map[uint64]*globalKey{}, seed: maphash.MakeSeed()}
	if g.Key == RateKeyHeader {
		s.header = canonicalName(g.KeyName)
	}
	return s, nil
}

func (s *globalStep) check(_ context.Context, x *Exchange, resp Headers, ps *policyState) (int, string) {
	k := s.key(x, ps)
	window := s.now().UnixNano() / int64(s.cfg.Per)
	k.mu.Lock()
	if k.window != window {
		k.window, k.tokens, k.drained = window, 0, false
	}
	if k.tokens == 0 && !k.drained {
		// The first request of the window (or the lease ran out before
		// the one fetched ahead arrived): wait for Redis.
		k.mu.Unlock()
		s.waits.Add(1)
		granted, err := s.lease(k, window)
		k.mu.Lock()
		if err != nil {
			k.mu.Unlock()
			return s.failed(resp)
		}
		if k.window == window {
			k.tokens += granted
			k.drained = k.drained || granted < s.batch
		}
	}
	if k.window != window || k.tokens == 0 {
		k.mu.Unlock()
		return s.refuse(resp, window)
	}
	k.tokens--
	ahead := !k.drained && !k.fetching && k.tokens <= s.batch/2
	if ahead {
		k.fetching = true
	}
	k.mu.Unlock()
	if ahead {
		go s.fetchAhead(k, window)
	}
	return 0, ""
}

// fetchAhead leases the next tokens of a key in the background.
func (s *globalStep) fetchAhead(k *globalKey, window int64) {
	granted, err := s.lease(k, window)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.fetching = false
	if err != nil || k.window != window {
		return
	}
	k.tokens += granted
	k.drained = k.drained || granted < s.batch
}

// lease asks Redis for a batch of tokens of the window.
func (s *globalStep) lease(k *globalKey, window int64) (int64, error) {
	s.calls.Add(1)
	// Not derived from the request's context (see extAuthStep.check).
	ctx, cancel := context.WithTimeout(context.Background(), redisTimeout)
	defer cancel()
	ttl := (2 * s.cfg.Per).Milliseconds()
	n, err := leaseScript.Run(ctx, s.rdb, []string{k.redisKey + strconv.FormatInt(window, 10)},
		s.batch, s.cfg.Requests, ttl).Int64()
	if err != nil || n < 0 || n > s.batch {
		s.failures.Add(1)
		if err == nil {
			err = errors.New("lease script answered " + strconv.FormatInt(n, 10))
		}
		return 0, err
	}
	return n, nil
}

// key finds (or makes) the request's key state.
func (s *globalStep) key(x *Exchange, ps *policyState) *globalKey {
	var v string
	switch s.cfg.Key {
	case RateKeyClientIP:
		v = ps.client.String()
	case RateKeyHeader:
		v = x.Header.Get(s.header)
	case RateKeyClaim:
		if ps.jwt != nil {
			v, _ = claimText(ps.jwt.claims, s.cfg.KeyName)
		}
	}
	h := maphash.String(s.seed, v)
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.keys[h]
	if k == nil {
		if len(s.keys) >= maxBuckets {
			for old := range s.keys {
				delete(s.keys, old)
				if len(s.keys) < maxBuckets {
					break
				}
			}
		}
		// The Redis key names the value by a hash every replica computes
		// alike, of fixed size whatever the client sent.
		sum := sha256.Sum256([]byte(v))
		k = &globalKey{redisKey: "portico:rl:" + s.cfg.Scope + ":" + hex.EncodeToString(sum[:12]) + ":", window: -1}
		s.keys[h] = k
	}
	return k
}

// refuse answers a request over the limit: 429 until the window ends.
func (s *globalStep) refuse(resp Headers, window int64) (int, string) {
	end := time.Unix(0, (window+1)*int64(s.cfg.Per))
	secs := strconv.FormatInt(max(1, int64(time.Until(end).Seconds()+0.999)), 10)
	resp.Set("Retry-After", secs)
	resp.Set("RateLimit-Limit", strconv.FormatUint(uint64(s.cfg.Requests), 10))
	resp.Set("RateLimit-Remaining", "0")
	resp.Set("RateLimit-Reset", secs)
	return http.StatusTooManyRequests, "rate limit exceeded"
}

// failed answers when Redis could not decide.
func (s *globalStep) failed(resp Headers) (int, string) {
	if s.cfg.FailOpen {
		return 0, ""
	}
	resp.Set("Retry-After", "1")
	return http.StatusServiceUnavailable, "rate limit service unavailable"
}
