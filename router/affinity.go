package router

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
)

// SessionPersistence keeps a client on one endpoint: the first answer
// carries a session token (in a cookie, or a header), and later requests
// presenting it go to the same endpoint while it exists. A token naming
// an endpoint that is gone is ignored: the request is balanced as usual
// and its answer carries a new token. Tokens are opaque: a hash of the
// backend's name and the endpoint's address (Persistent), or a random key
// (Balanced), never the address itself.
type SessionPersistence struct {
	// Cookie carries the token in a cookie; Header in a request header
	// of that name, which answers carry back. Exactly one is set.
	Cookie *SessionCookie `json:"cookie,omitempty"`
	Header string         `json:"header,omitempty"`
	// Mode says what the token names (default Persistent).
	Mode SessionMode `json:"mode,omitempty"`
	// ChangeOnFailure sends a retried attempt to another endpoint and
	// moves the session there; without it every attempt goes to the
	// session's endpoint (as ingress-nginx's
	// session-cookie-change-on-failure).
	ChangeOnFailure bool `json:"changeOnFailure,omitempty"`
}

// SessionMode is what a session token names.
type SessionMode string

const (
	// SessionPersistent tokens name an endpoint: a session stays on it
	// for as long as it exists, whatever the scaling.
	SessionPersistent SessionMode = "Persistent"
	// SessionBalanced tokens are keys hashed onto the current endpoints
	// (rendezvous hashing): adding endpoints moves a fair share of the
	// sessions to them, removing one moves only its own (ingress-nginx's
	// affinity-mode: balanced).
	SessionBalanced SessionMode = "Balanced"
)

// SessionCookie is the cookie a session token travels in.
type SessionCookie struct {
	// Name defaults to "portico-session".
	Name string `json:"name,omitempty"`
	// Path defaults to "/"; Domain to none (the request's host).
	Path   string `json:"path,omitempty"`
	Domain string `json:"domain,omitempty"`
	// MaxAge, when positive, is the cookie's Max-Age; Expires, when
	// positive, sets Expires that far ahead of the answer. Neither: a
	// session cookie, gone when the browser closes.
	MaxAge  time.Duration `json:"maxAge,omitempty"`
	Expires time.Duration `json:"expires,omitempty"`
	// SameSite is Strict, Lax, None or "" (not sent).
	SameSite string `json:"sameSite,omitempty"`
	Secure   bool   `json:"secure,omitempty"`
	HTTPOnly bool   `json:"httpOnly,omitempty"`
}

// DefaultSessionCookie is SessionCookie.Name's default.
const DefaultSessionCookie = "portico-session"

// Check reports what makes the session persistence unusable.
func (s *SessionPersistence) Check() error {
	var errs []error
	if (s.Cookie == nil) == (s.Header == "") {
		errs = append(errs, errors.New("set exactly one of cookie and header"))
	}
	if s.Mode != "" && s.Mode != SessionPersistent && s.Mode != SessionBalanced {
		errs = append(errs, errors.New("mode: want Persistent or Balanced, not "+strconv.Quote(string(s.Mode))))
	}
	if c := s.Cookie; c != nil {
		switch c.SameSite {
		case "", "Strict", "Lax", "None":
		default:
			errs = append(errs, errors.New("cookie.sameSite: want Strict, Lax or None, not "+strconv.Quote(c.SameSite)))
		}
		if c.MaxAge < 0 || c.Expires < 0 {
			errs = append(errs, errors.New("cookie: maxAge and expires must not be negative"))
		}
		if strings.ContainsAny(c.Name+c.Path+c.Domain, ";, \t\r\n\"=") && !validCookieParts(c) {
			errs = append(errs, errors.New("cookie: name, path and domain must be cookie tokens"))
		}
	}
	return errors.Join(errs...)
}

func validCookieParts(c *SessionCookie) bool {
	return !strings.ContainsAny(c.Name, ";, \t\r\n\"=()<>@:\\/[]?{}") && !strings.ContainsAny(c.Path+c.Domain, "; \t\r\n\"")
}

func (s *SessionPersistence) cookieName() string {
	if s.Cookie.Name != "" {
		return s.Cookie.Name
	}
	return DefaultSessionCookie
}

// sessionIndex is a backend's endpoints as session tokens, built on first
// use (a Table's backends never change their endpoints).
type sessionIndex struct {
	tokens  []string       // Persistent token per endpoint
	byToken map[string]int // endpoint index per token
}

// sessionIndex returns b's session tokens, computing them once per backend.
func (b *compiledBackend) sessionIndex() *sessionIndex {
	if si := b.sessions.Load(); si != nil {
		return si
	}
	si := &sessionIndex{tokens: make([]string, len(b.Endpoints)), byToken: make(map[string]int, len(b.Endpoints))}
	for i, ep := range b.Endpoints {
		sum := sha256.Sum256([]byte(b.Name + "\x00" + ep.Address))
		tok := hex.EncodeToString(sum[:12])
		si.tokens[i] = tok
		si.byToken[tok] = i
	}
	if !b.sessions.CompareAndSwap(nil, si) {
		return b.sessions.Load()
	}
	return si
}

// sessionToken reads the request's token ("" when it sends none).
func (s *SessionPersistence) sessionToken(x *Exchange) string {
	if s.Header != "" {
		return x.Header.Get(s.Header)
	}
	v, _ := cookieValue(x.Header, s.cookieName())
	return v
}

// chooseSessionBackend picks the route's backend for the request's
// session and remembers the endpoint it names (st.sticky). It returns
// false when the request has no usable session: the caller picks as usual.
func (st *proxyState) chooseSessionBackend() bool {
	s, route := st.route.Session, st.route
	tok := s.sessionToken(&st.x)
	if tok == "" || len(tok) > 64 {
		return false
	}
	if s.Mode == SessionBalanced {
		i := route.pickIndexByKey(xxhash.Sum64String(tok))
		if i < 0 || len(route.backends[i].Endpoints) == 0 {
			return false
		}
		st.setSessionBackend(i)
		st.sessionKey = tok
		st.sticky = int32(rendezvousIndex(route.backends[i].Endpoints, xxhash.Sum64String(tok))) + 1
		return true
	}
	for i, b := range route.backends {
		if ep, ok := b.sessionIndex().byToken[tok]; ok {
			st.setSessionBackend(i)
			st.sessionKey = tok
			st.sticky = int32(ep) + 1
			return true
		}
	}
	return false
}

func (st *proxyState) setSessionBackend(i int) {
	st.backend = st.route.backends[i]
	if st.route.filters != nil {
		st.backendFilters = st.route.filters[i]
	}
}

// pickIndexByKey chooses a backend by weight from a key, the same one for
// the same key and weights.
func (r *weighted) pickIndexByKey(key uint64) int {
	switch len(r.backends) {
	case 0:
		return -1
	case 1:
		return 0
	}
	n := uint32(mix64(key) % uint64(r.totalWeight))
	for i, cw := range r.cumWeights {
		if n < cw {
			return i
		}
	}
	return len(r.backends) - 1
}

// rendezvousIndex ranks endpoints for key by hashing key with each
// address; the highest score wins.
func rendezvousIndex(eps []Endpoint, key uint64) int {
	best, idx := uint64(0), 0
	for i, ep := range eps {
		if s := mix64(key ^ xxhash.Sum64String(ep.Address)); i == 0 || s > best {
			best, idx = s, i
		}
	}
	return idx
}

// pickEndpoint chooses the endpoint for an attempt: the session's, unless
// a retry moves the session (ChangeOnFailure), else the backend's Picker.
func (st *proxyState) pickEndpoint(b *compiledBackend, first uint32, attempt int) int {
	var ep int
	if st.sticky > 0 && (attempt == 0 || !st.route.Session.ChangeOnFailure) {
		ep = int(st.sticky - 1)
	} else {
		ep = b.picker.Pick(&st.x, first, attempt)
		if n := len(b.Endpoints); st.sticky > 0 && ep == int(st.sticky-1) && n > 1 {
			ep = (ep + 1) % n // a retry moving the session: not where it failed
		}
	}
	st.picked = int32(ep) + 1
	return ep
}

// sessionResponse adds the session token to an answer when the client
// does not have the one for the endpoint that answered.
func (st *proxyState) sessionResponse(h Headers) {
	s := st.route.Session
	if s == nil || st.picked == 0 || st.backend == nil {
		return
	}
	ep := int(st.picked - 1)
	var tok string
	if s.Mode == SessionBalanced {
		if st.sticky == st.picked && st.sessionKey != "" {
			return // the key still leads here
		}
		tok = balancedKeyFor(st.route, st.backend, ep)
		if tok == "" {
			return
		}
	} else {
		tok = st.backend.sessionIndex().tokens[ep]
		if tok == st.sessionKey {
			return
		}
	}
	if s.Header != "" {
		h.Set(s.Header, tok)
		return
	}
	h.Add("Set-Cookie", s.cookie(tok, st.x.TLS))
}

// balancedKeyFor draws random keys until one leads to endpoint ep of b
// (through the route's weights and b's endpoints); "" if none is found
// in a bounded number of draws.
func balancedKeyFor(route *CompiledRoute, b *compiledBackend, ep int) string {
	var raw [12]byte
	for range 64 * (len(b.Endpoints) + len(route.backends)) {
		_, _ = rand.Read(raw[:])
		tok := hex.EncodeToString(raw[:])
		k := xxhash.Sum64String(tok)
		if i := route.pickIndexByKey(k); i >= 0 && route.backends[i] == b && rendezvousIndex(b.Endpoints, k) == ep {
			return tok
		}
	}
	return ""
}

// cookie renders the Set-Cookie value for a token.
func (s *SessionPersistence) cookie(tok string, tls bool) string {
	c := s.Cookie
	var b strings.Builder
	b.WriteString(s.cookieName())
	b.WriteByte('=')
	b.WriteString(tok)
	path := c.Path
	if path == "" {
		path = "/"
	}
	b.WriteString("; Path=")
	b.WriteString(path)
	if c.Domain != "" {
		b.WriteString("; Domain=")
		b.WriteString(c.Domain)
	}
	if c.MaxAge > 0 {
		b.WriteString("; Max-Age=")
		b.WriteString(strconv.FormatInt(int64(c.MaxAge/time.Second), 10))
	}
	if c.Expires > 0 {
		b.WriteString("; Expires=")
		b.WriteString(time.Now().Add(c.Expires).UTC().Format(http.TimeFormat))
	}
	if c.HTTPOnly {
		b.WriteString("; HttpOnly")
	}
	if c.Secure || c.SameSite == "None" && tls {
		b.WriteString("; Secure")
	}
	if c.SameSite != "" {
		b.WriteString("; SameSite=")
		b.WriteString(c.SameSite)
	}
	return b.String()
}
