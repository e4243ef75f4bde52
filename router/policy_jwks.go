package router

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// keySource gives the verification keys for a key id ("": every key).
type keySource interface {
	keys(ctx context.Context, kid string) ([]jose.JSONWebKey, error)
}

// localKeys is a key set given in the configuration.
type localKeys struct{ set *jose.JSONWebKeySet }

func (l localKeys) keys(_ context.Context, kid string) ([]jose.JSONWebKey, error) {
	return lookupKeys(l.set, kid), nil
}

// lookupKeys returns the keys with id kid, or all keys for kid "".
func lookupKeys(set *jose.JSONWebKeySet, kid string) []jose.JSONWebKey {
	if kid == "" {
		return set.Keys
	}
	return set.Key(kid)
}

// maxJWKSBytes bounds a key set document.
const maxJWKSBytes = 1 << 20

// parseJWKS reads a key set, keeping the public signature keys (a private
// key given by mistake counts as its public half).
func parseJWKS(b []byte) (*jose.JSONWebKeySet, error) {
	var raw jose.JSONWebKeySet
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("not a JSON Web Key Set: %w", err)
	}
	out := &jose.JSONWebKeySet{}
	for _, k := range raw.Keys {
		if !k.Valid() || k.Use != "" && k.Use != "sig" {
			continue
		}
		if !k.IsPublic() {
			if _, symmetric := k.Key.([]byte); !symmetric {
				k = k.Public()
			}
		}
		out.Keys = append(out.Keys, k)
	}
	if len(out.Keys) == 0 {
		return nil, errors.New("no usable signature key")
	}
	return out, nil
}

// remoteKeySet is a key set fetched from a URL. The last good set stays
// in use while fetches fail; a fetch is due every refresh, retried after
// failures with a back-off doubling from jwksMinBackoff up to refresh. A
// token naming an unknown key id triggers a fetch (at most one per
// jwksRefetchInterval) so rotated keys are picked up at once. At most one
// fetch runs at a time; requests that need one wait for it, bounded by
// their context and the fetch timeout.
type remoteKeySet struct {
	url              string
	refresh, timeout time.Duration
	client           *http.Client

	set atomic.Pointer[jose.JSONWebKeySet]

	mu        sync.Mutex
	next      time.Time     // when the next background fetch is due
	lastFetch time.Time     // when the last fetch started
	backoff   time.Duration // the wait after the next failure
	lastErr   error
	inflight  chan struct{} // closed when the running fetch ends
}

// Tunables of remote key sets (variables for tests).
var (
	jwksMinBackoff      = time.Second
	jwksRefetchInterval = 10 * time.Second
)

// remoteSets shares one remoteKeySet per URL and timing among all
// policies and tables, so a new routing table keeps the fetched keys.
var remoteSets sync.Map

func remoteKeys(r *RemoteJWKS) (*remoteKeySet, error) {
	u, err := url.Parse(r.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("url: want an http(s) URL, not %q", r.URL)
	}
	refresh, timeout := r.Refresh, r.Timeout
	if refresh <= 0 {
		refresh = 5 * time.Minute
	}
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	key := r.URL + "|" + refresh.String() + "|" + timeout.String()
	if v, ok := remoteSets.Load(key); ok {
		return v.(*remoteKeySet), nil
	}
	ks := &remoteKeySet{url: r.URL, refresh: refresh, timeout: timeout, backoff: jwksMinBackoff,
		client: &http.Client{Timeout: timeout, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}, Proxy: nil,
			ResponseHeaderTimeout: timeout, MaxIdleConnsPerHost: 1, IdleConnTimeout: time.Minute}}}
	v, _ := remoteSets.LoadOrStore(key, ks)
	return v.(*remoteKeySet), nil
}

func (r *remoteKeySet) keys(ctx context.Context, kid string) ([]jose.JSONWebKey, error) {
	now := time.Now()
	if set := r.set.Load(); set != nil {
		if ks := lookupKeys(set, kid); len(ks) > 0 {
			r.mu.Lock()
			if !now.Before(r.next) {
				r.startLocked(now)
			}
			r.mu.Unlock()
			return ks, nil
		}
	}
	// No keys yet, or an unknown key id: fetch now (unless one just ran).
	r.mu.Lock()
	done := r.inflight
	if done == nil && (r.set.Load() == nil || now.Sub(r.lastFetch) >= jwksRefetchInterval) {
		done = r.startLocked(now)
	}
	r.mu.Unlock()
	if done != nil {
		select {
		case <-done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	set := r.set.Load()
	if set == nil {
		r.mu.Lock()
		err := r.lastErr
		r.mu.Unlock()
		return nil, fmt.Errorf("JWKS %s unavailable: %w", r.url, err)
	}
	if ks := lookupKeys(set, kid); len(ks) > 0 {
		return ks, nil
	}
	return nil, fmt.Errorf("no key %q in JWKS %s", kid, r.url)
}

// startLocked starts a fetch unless one runs, returning the channel
// closed when it ends. r.mu is held.
func (r *remoteKeySet) startLocked(now time.Time) chan struct{} {
	if r.inflight != nil {
		return r.inflight
	}
	done := make(chan struct{})
	r.inflight, r.lastFetch = done, now
	r.next = now.Add(r.timeout + jwksMinBackoff) // no second start while this one runs late
	go r.fetch(done)
	return done
}

func (r *remoteKeySet) fetch(done chan struct{}) {
	set, err := r.get()
	r.mu.Lock()
	now := time.Now()
	if err != nil {
		r.lastErr = err
		r.next = now.Add(r.backoff)
		r.backoff = min(2*r.backoff, r.refresh)
	} else {
		r.set.Store(set)
		r.lastErr, r.backoff = nil, jwksMinBackoff
		r.next = now.Add(r.refresh)
	}
	r.inflight = nil
	r.mu.Unlock()
	close(done)
}

// get fetches and parses the key set once.
func (r *remoteKeySet) get() (*jose.JSONWebKeySet, error) {
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, errors.New("status " + strconv.Itoa(resp.StatusCode))
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxJWKSBytes {
		return nil, errors.New("key set larger than 1 MiB")
	}
	return parseJWKS(b)
}
