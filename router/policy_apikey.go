package router

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
)

// apiKeyStep admits requests carrying a known key. Keys are held by their
// SHA-256 so that finding one takes the same path whatever its bytes (no
// comparison that stops at the first differing byte of a secret).
type apiKeyStep struct {
	keys     map[[32]byte]string // key hash → client id
	from     tokenSources
	idHeader string
	// strip are the header sources, removed before forwarding so the key
	// does not travel on.
	strip []string
}

func compileAPIKey(a *APIKeyAuth) (*apiKeyStep, error) {
	if len(a.Keys) == 0 {
		return nil, errors.New("apiKey.keys: at least one")
	}
	s := &apiKeyStep{keys: map[[32]byte]string{}, idHeader: canonicalName(a.ClientIDHeader)}
	for i, k := range a.Keys {
		if k.Key == "" {
			return nil, fmt.Errorf("apiKey.keys[%d] (client %q): empty key", i, k.ClientID)
		}
		h := sha256.Sum256([]byte(k.Key))
		if other, dup := s.keys[h]; dup {
			return nil, fmt.Errorf("apiKey.keys[%d]: the key of client %q is also client %q's", i, k.ClientID, other)
		}
		s.keys[h] = k.ClientID
	}
	var err error
	if s.from, err = compileSources("apiKey.from", a.From, TokenSource{Header: "X-API-Key"}); err != nil {
		return nil, err
	}
	for _, src := range s.from {
		if src.Header != "" {
			s.strip = append(s.strip, src.Header)
		}
	}
	return s, nil
}

func (s *apiKeyStep) check(_ context.Context, x *Exchange, _ Headers, _ *policyState) (int, string) {
	if s.idHeader != "" {
		x.Header.Del(s.idHeader)
	}
	key, ok := s.from.find(x)
	if !ok {
		return http.StatusUnauthorized, "API key required"
	}
	id, ok := s.keys[sha256.Sum256([]byte(key))]
	if !ok {
		return http.StatusUnauthorized, "invalid API key"
	}
	for _, h := range s.strip {
		x.Header.Del(h)
	}
	if s.idHeader != "" {
		x.Header.Set(s.idHeader, id)
	}
	return 0, ""
}
