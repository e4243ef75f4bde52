package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	// go-jose verifies the tokens and reads the key sets: a maintained
	// JOSE implementation that refuses "none", checks that the key type
	// fits the algorithm (no RSA-key-as-HMAC-secret confusion) and takes
	// the algorithm allow-list at parse time.
	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// jwtStep requires a token valid for one of its providers.
type jwtStep struct {
	providers []*jwtProvider
	// headers are every provider's claim headers, removed from each
	// request before the verified token's are set.
	headers []string
}

type jwtProvider struct {
	*JWTProvider
	algs []jose.SignatureAlgorithm
	keys keySource
	from tokenSources
	// ok caches the tokens that verified.
	ok *verifiedCache[*jwtEntry]
}

// jwtEntry is a verified token: its claims, the headers they give and,
// when the token lacks a required claim or scope, why it is refused.
type jwtEntry struct {
	claims    map[string]any
	headers   []Header
	forbidden string
}

// jwtCacheTTL bounds how long a verified token is trusted without a new
// signature check (so also how long a removed key's tokens still pass).
const jwtCacheTTL = 5 * time.Minute

// defaultAlgorithms are accepted when a provider names none.
var defaultAlgorithms = []jose.SignatureAlgorithm{jose.RS256, jose.ES256}

var knownAlgorithms = []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA, jose.HS256, jose.HS384, jose.HS512}

func compileJWT(j *JWTAuth) (*jwtStep, error) {
	if len(j.Providers) == 0 {
		return nil, errors.New("jwt.providers: at least one")
	}
	s := &jwtStep{}
	names := map[string]bool{}
	for i := range j.Providers {
		p := &j.Providers[i]
		field := "jwt.providers[" + strconv.Itoa(i) + "]"
		if names[p.Name] {
			return nil, fmt.Errorf("%s.name: %q used twice", field, p.Name)
		}
		names[p.Name] = true
		cp := &jwtProvider{JWTProvider: p, ok: newVerifiedCache[*jwtEntry]()}
		var err error
		if cp.algs, err = compileAlgorithms(field+".algorithms", p.Algorithms); err != nil {
			return nil, err
		}
		if cp.from, err = compileSources(field+".from", p.From, TokenSource{Header: "Authorization", Prefix: "Bearer "}); err != nil {
			return nil, err
		}
		switch {
		case p.LocalJWKS != "" && p.RemoteJWKS != nil:
			return nil, fmt.Errorf("%s: set one of localJWKS, remoteJWKS", field)
		case p.LocalJWKS != "":
			set, err := parseJWKS([]byte(p.LocalJWKS))
			if err != nil {
				return nil, fieldErr(field+".localJWKS", err)
			}
			cp.keys = localKeys{set}
		case p.RemoteJWKS != nil:
			if cp.keys, err = remoteKeys(p.RemoteJWKS); err != nil {
				return nil, fieldErr(field+".remoteJWKS", err)
			}
		default:
			return nil, fmt.Errorf("%s: set localJWKS or remoteJWKS", field)
		}
		for k, ch := range p.ClaimsToHeaders {
			if ch.Claim == "" || ch.Header == "" {
				return nil, fmt.Errorf("%s.claimsToHeaders[%d]: claim and header are required", field, k)
			}
			if h := canonicalName(ch.Header); !slices.Contains(s.headers, h) {
				s.headers = append(s.headers, h)
			}
		}
		for k, c := range p.RequiredClaims {
			if c.Name == "" {
				return nil, fmt.Errorf("%s.requiredClaims[%d].name: %w", field, k, errNoHeader)
			}
		}
		if p.Leeway < 0 {
			return nil, fmt.Errorf("%s.leeway: must not be negative", field)
		}
		s.providers = append(s.providers, cp)
	}
	return s, nil
}

func compileAlgorithms(field string, names []string) ([]jose.SignatureAlgorithm, error) {
	if len(names) == 0 {
		return defaultAlgorithms, nil
	}
	var out []jose.SignatureAlgorithm
	for i, n := range names {
		a := jose.SignatureAlgorithm(n)
		if !slices.Contains(knownAlgorithms, a) {
			return nil, fmt.Errorf("%s[%d]: %q is not a supported signature algorithm", field, i, n)
		}
		out = append(out, a)
	}
	return out, nil
}

func (s *jwtStep) check(ctx context.Context, x *Exchange, resp Headers, ps *policyState) (int, string) {
	for _, h := range s.headers {
		x.Header.Del(h)
	}
	found := false
	now := time.Now()
	for _, p := range s.providers {
		raw, ok := p.from.find(x)
		if !ok {
			continue
		}
		found = true
		e, ok := p.ok.get(raw, now)
		if !ok {
			var exp time.Time
			var err error
			if e, exp, err = p.verify(ctx, raw, now); err != nil {
				continue
			}
			p.ok.put(raw, e, exp)
		}
		if e.forbidden != "" {
			resp.Set("WWW-Authenticate", `Bearer error="insufficient_scope"`)
			return http.StatusForbidden, e.forbidden
		}
		for _, h := range e.headers {
			x.Header.Set(h.Name, h.Value)
		}
		ps.jwt = e
		return 0, ""
	}
	if !found {
		resp.Set("WWW-Authenticate", `Bearer`)
		return http.StatusUnauthorized, "bearer token required"
	}
	resp.Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	return http.StatusUnauthorized, "invalid bearer token"
}

// verify checks a token's signature and claims, returning its entry and
// until when it may be cached.
func (p *jwtProvider) verify(ctx context.Context, raw string, now time.Time) (*jwtEntry, time.Time, error) {
	tok, err := jwt.ParseSigned(raw, p.algs)
	if err != nil {
		return nil, time.Time{}, err
	}
	if len(tok.Headers) != 1 {
		return nil, time.Time{}, errors.New("one signature expected")
	}
	hdr := tok.Headers[0]
	keys, err := p.keys.keys(ctx, hdr.KeyID)
	if err != nil {
		return nil, time.Time{}, err
	}
	var std jwt.Claims
	var all map[string]any
	verified := false
	for _, k := range keys {
		if k.Algorithm != "" && k.Algorithm != hdr.Algorithm {
			continue
		}
		if err = tok.Claims(k.Key, &std, &all); err == nil {
			verified = true
			break
		}
	}
	if !verified {
		return nil, time.Time{}, errors.New("no key verifies the signature")
	}
	exp := jwt.Expected{Issuer: p.Issuer, Time: now}
	if len(p.Audiences) > 0 {
		exp.AnyAudience = p.Audiences
	}
	if err := std.ValidateWithLeeway(exp, p.Leeway); err != nil {
		return nil, time.Time{}, err
	}
	until := now.Add(jwtCacheTTL)
	if std.Expiry != nil {
		if t := std.Expiry.Time().Add(p.Leeway); t.Before(until) {
			until = t
		}
	}
	e := &jwtEntry{claims: all}
	for _, ch := range p.ClaimsToHeaders {
		if v, ok := claimText(all, ch.Claim); ok {
			if !validHeaderValue(v) {
				e.forbidden = "claim " + ch.Claim + " cannot be sent in a header"
				return e, until, nil
			}
			e.headers = append(e.headers, Header{Name: canonicalName(ch.Header), Value: v})
		}
	}
	e.forbidden = p.refusal(all)
	return e, until, nil
}

// refusal says which required claim or scope the claims lack ("" for
// none).
func (p *jwtProvider) refusal(claims map[string]any) string {
	for _, c := range p.RequiredClaims {
		if !claimMatches(claims, c) {
			return "token lacks required claim " + c.Name
		}
	}
	if len(p.RequiredScopes) > 0 {
		have := scopes(claims)
		for _, sc := range p.RequiredScopes {
			if !slices.Contains(have, sc) {
				return "token lacks required scope " + sc
			}
		}
	}
	return ""
}

// scopes lists a token's scopes: "scope" (space-separated) and "scp" (a
// list or a space-separated string).
func scopes(claims map[string]any) []string {
	var out []string
	for _, name := range []string{"scope", "scp"} {
		switch v := claims[name].(type) {
		case string:
			out = append(out, strings.Fields(v)...)
		case []any:
			for _, s := range v {
				if str, ok := s.(string); ok {
					out = append(out, str)
				}
			}
		}
	}
	return out
}

// claim finds a claim by dotted path.
func claim(claims map[string]any, path string) (any, bool) {
	var cur any = claims
	for part := range strings.SplitSeq(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// claimMatches reports whether a claim (any element of a list claim) has
// one of m.Values, or exists when m has none.
func claimMatches(claims map[string]any, m ClaimMatch) bool {
	v, ok := claim(claims, m.Name)
	if !ok {
		return false
	}
	if len(m.Values) == 0 {
		return true
	}
	if list, isList := v.([]any); isList {
		for _, item := range list {
			if s, ok := scalarText(item); ok && slices.Contains(m.Values, s) {
				return true
			}
		}
		return false
	}
	s, ok := scalarText(v)
	return ok && slices.Contains(m.Values, s)
}

// claimText renders a claim for a header: scalars as text, lists joined
// with commas, objects as JSON.
func claimText(claims map[string]any, path string) (string, bool) {
	v, ok := claim(claims, path)
	if !ok {
		return "", false
	}
	if s, ok := scalarText(v); ok {
		return s, true
	}
	if list, ok := v.([]any); ok {
		parts := make([]string, 0, len(list))
		for _, item := range list {
			s, ok := scalarText(item)
			if !ok {
				b, _ := json.Marshal(item)
				s = string(b)
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, ","), true
	}
	b, err := json.Marshal(v)
	return string(b), err == nil
}

func scalarText(v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case bool:
		return strconv.FormatBool(t), true
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64), true
	}
	return "", false
}

// validHeaderValue reports whether v may be sent as a header value as it
// is (no control characters but tab).
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
