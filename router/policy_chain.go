package router

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// policyChain is a compiled Policy: the checks it configures, in order,
// each with what it parsed and precomputed at compile time and the state
// it keeps across requests (verification caches, token buckets).
type policyChain struct {
	maxBody  int64
	clientIP *ClientIPDetection
	steps    []policyStep
	// needsClient is set when a step reads the client's address.
	needsClient bool
	// authBody is the number of body bytes an auth step sends (0: none).
	authBody int64
}

// policyStep is one check of a chain. check returns 0 to let the request
// on, else the status to answer and the answer's text ("" for no body),
// having set the answer's headers in resp. It may change the request's
// headers (identity headers for the backend) and record what it learnt
// in ps for the steps after it. check must be safe for concurrent use.
type policyStep interface {
	check(ctx context.Context, x *Exchange, resp Headers, ps *policyState) (int, string)
}

// policyState is what a chain's steps learn about one request.
type policyState struct {
	// client is the client's address (see ClientIPDetection).
	client netip.Addr
	// jwt is the verified token's cache entry, when a JWT step passed.
	jwt *jwtEntry
	// maxBody bounds a body of unknown length as it is read (0: no bound).
	maxBody int64
	// bodyTooLarge is set when the body read passed maxBody.
	bodyTooLarge bool
	// conns and connAddr are the connection limit slot the request holds
	// (see done).
	conns    *connCounter
	connAddr netip.Addr
	// authCookies are the Set-Cookie values of an admitting auth_request
	// answer, for the client's answer (see policyState.respond).
	authCookies       []string
	authCookiesAlways bool
	// peek, set by the engine when the chain sends the body to an auth
	// service, reads its start; peeked, peekData, peekWhole and peekCode
	// keep what it read (see authBody).
	peek      bodyPeeker
	peeked    bool
	peekWhole bool
	peekCode  int
	peekData  []byte
}

// Check compiles the policy, reporting what makes it unusable (with the
// field at fault); translation calls it to report bad policies on their
// objects. It keeps nothing (Compile compiles again, once per Policy).
func (p *Policy) Check() error {
	if p.Invalid != "" {
		return errors.New(p.Invalid)
	}
	_, err := compilePolicy(p)
	return err
}

// chain returns the compiled chain, compiling it on first use.
func (p *Policy) chain() (*policyChain, error) {
	if c := p.compiled.Load(); c != nil {
		return c, nil
	}
	c, err := compilePolicy(p)
	if err != nil {
		return nil, err
	}
	if !p.compiled.CompareAndSwap(nil, c) {
		return p.compiled.Load(), nil // compiled concurrently: share one
	}
	return c, nil
}

func compilePolicy(p *Policy) (*policyChain, error) {
	c := &policyChain{maxBody: p.MaxRequestBody, clientIP: p.ClientIP}
	if p.Invalid != "" {
		return nil, errors.New(p.Invalid)
	}
	if p.MaxRequestBody < 0 {
		return nil, errors.New("maxRequestBody: must not be negative")
	}
	add := func(s policyStep, err error) error {
		if err != nil {
			return err
		}
		c.steps = append(c.steps, s)
		return nil
	}
	var errs []error
	if p.BasicAuth != nil {
		errs = append(errs, add(compileBasicAuth(p.BasicAuth)))
	}
	if p.APIKey != nil {
		errs = append(errs, add(compileAPIKey(p.APIKey)))
	}
	if p.JWT != nil {
		errs = append(errs, add(compileJWT(p.JWT)))
	}
	if p.ExtAuth != nil {
		errs = append(errs, add(compileExtAuth(p.ExtAuth)))
		c.needsClient = c.needsClient || p.ExtAuth.HTTP != nil && p.ExtAuth.HTTP.AuthRequest != nil
		if p.ExtAuth.HTTP == nil || p.ExtAuth.HTTP.AuthRequest == nil {
			c.authBody = p.ExtAuth.MaxBody
		}
	}
	if p.Authorization != nil {
		s, err := compileAuthorization(p.Authorization)
		errs = append(errs, add(s, err))
		c.needsClient = true
	}
	if p.RateLimit != nil {
		s, err := compileRateLimit(p.RateLimit)
		errs = append(errs, add(s, err))
		c.needsClient = c.needsClient || p.RateLimit.Key == RateKeyClientIP || p.RateLimit.Exempt != ""
	}
	for i, l := range p.MoreRateLimits {
		if l == nil {
			errs = append(errs, fmt.Errorf("moreRateLimits[%d]: unset", i))
			continue
		}
		s, err := compileRateLimit(l)
		errs = append(errs, add(s, err))
		c.needsClient = c.needsClient || l.Key == RateKeyClientIP || l.Exempt != ""
	}
	if p.ConnLimit != nil {
		s, err := compileConnLimit(p.ConnLimit)
		errs = append(errs, add(s, err))
		c.needsClient = true
	}
	if p.GlobalLimit != nil {
		s, err := compileGlobalLimit(p.GlobalLimit)
		errs = append(errs, add(s, err))
		c.needsClient = c.needsClient || p.GlobalLimit.Key == RateKeyClientIP
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if p.NginxOrder {
		if p.Authorization != nil {
			for _, r := range p.Authorization.Rules {
				if len(r.Claims) > 0 {
					return nil, errors.New("authorization: claim rules cannot run before authentication (nginxOrder)")
				}
			}
		}
		rank := func(s policyStep) int {
			switch s.(type) {
			case *rateStep, *connStep:
				return 0
			case *authzStep:
				return 1
			}
			return 2
		}
		slices.SortStableFunc(c.steps, func(a, b policyStep) int { return rank(a) - rank(b) })
	}
	return c, nil
}

// run applies the chain to one request (see policyStep.check).
func (c *policyChain) run(ctx context.Context, x *Exchange, resp Headers, ps *policyState) (int, string) {
	if c.maxBody > 0 {
		cl := x.Header.Get("Content-Length")
		if cl == "" {
			ps.maxBody = c.maxBody // counted as it is read
		} else if n, err := strconv.ParseInt(cl, 10, 64); err != nil {
			ps.maxBody = c.maxBody
		} else if n > c.maxBody {
			return http.StatusRequestEntityTooLarge, "request body larger than " + strconv.FormatInt(c.maxBody, 10) + " bytes"
		}
	}
	if c.needsClient {
		ps.client = c.clientIP.resolve(x)
	}
	for _, s := range c.steps {
		if code, text := s.check(ctx, x, resp, ps); code != 0 {
			return code, text
		}
	}
	return 0, ""
}

// resolve finds the client's address of x (see ClientIPDetection); d may
// be nil.
func (d *ClientIPDetection) resolve(x *Exchange) netip.Addr {
	peer := x.ClientIP()
	if d == nil || !peer.IsValid() {
		return peer
	}
	if len(d.TrustedProxies) > 0 && !inPrefixes(d.TrustedProxies, peer) {
		return peer
	}
	if len(d.TrustedProxies) == 0 && d.Hops <= 0 {
		return peer
	}
	// The X-Forwarded-For lines joined are one list; read right to left.
	hops := 0
	lines := x.Header.Values("X-Forwarded-For")
	client := peer
	for i := len(lines) - 1; i >= 0; i-- {
		list := lines[i]
		for list != "" {
			var item string
			if j := strings.LastIndexByte(list, ','); j >= 0 {
				item, list = list[j+1:], list[:j]
			} else {
				item, list = list, ""
			}
			a, err := netip.ParseAddr(strings.TrimSpace(item))
			if err != nil {
				return client // garbage: stop at the last address trusted
			}
			a = a.Unmap()
			hops++
			client = a
			if d.Hops > 0 {
				if hops == d.Hops {
					return a
				}
				continue
			}
			if !inPrefixes(d.TrustedProxies, a) {
				return a
			}
		}
	}
	return client
}

func inPrefixes(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// policyAnswer is the chain's check on an Exchange: 0 to go on, else the
// status and text to answer with (headers set in resp). A route whose
// policy failed to compile answers 500 and is never served unprotected.
func (route *CompiledRoute) policyAnswer(ctx context.Context, x *Exchange, resp Headers, ps *policyState) (int, string) {
	p := route.Policy
	if p == nil {
		return 0, ""
	}
	c, err := p.chain()
	if err != nil {
		if p.InvalidStatus >= 500 && p.InvalidStatus <= 599 {
			return p.InvalidStatus, "route policy is invalid"
		}
		return http.StatusInternalServerError, "route policy is invalid"
	}
	return c.run(ctx, x, resp, ps)
}

// fieldErr prefixes an error with the field it is about.
func fieldErr(field string, err error) error { return fmt.Errorf("%s: %w", field, err) }
