package router

import (
	"net/netip"
	"strconv"
	"sync/atomic"
	"time"
)

// Policy is the API-gateway policy of a route, as plain data: who may ask
// (authentication, authorization), how much (rate limits, body size).
// Translation builds one Policy per effective set of policy objects and
// may share it between routes; Compile turns it into a chain of checks
// once (kept in the Policy, so routes sharing it share its caches and
// token buckets) and the chain runs on every request of those routes,
// before the request's body is read. Checks run in a fixed order: body
// size, client address, basic auth, API key, JWT, external auth,
// authorization, local rate limit, global rate limit. Every configured
// check must pass.
//
// A Policy is immutable once compiled: change a copy.
type Policy struct {
	// Source names the policy objects it came from, for errors and
	// `portico routes` ("SecurityPolicy/ns/name, TrafficPolicy/ns/other").
	Source string `json:"source,omitempty"`
	// Invalid, when set, says the policy could not be built (a missing
	// Secret, a bad field): every request of its routes is answered 500,
	// so they are never served unchecked. It is the reason, for tools.
	Invalid string `json:"invalid,omitempty"`
	// InvalidStatus, when set, answers the requests of an Invalid policy
	// instead of 500 (ingress-nginx answers 503).
	InvalidStatus int `json:"invalidStatus,omitempty"`
	// MaxRequestBody, when positive, answers 413 to requests whose body
	// is longer (by Content-Length, or as it is read).
	MaxRequestBody int64 `json:"maxRequestBody,omitempty"`
	// ClientIP says how the client's address is found, for authorization
	// and rate limits; nil: the connection's peer.
	ClientIP      *ClientIPDetection `json:"clientIP,omitempty"`
	BasicAuth     *BasicAuth         `json:"basicAuth,omitempty"`
	APIKey        *APIKeyAuth        `json:"apiKey,omitempty"`
	JWT           *JWTAuth           `json:"jwt,omitempty"`
	ExtAuth       *ExtAuth           `json:"extAuth,omitempty"`
	Authorization *Authorization     `json:"authorization,omitempty"`
	RateLimit     *LocalRateLimit    `json:"rateLimit,omitempty"`
	// MoreRateLimits are further local limits, checked after RateLimit
	// (ingress-nginx's limit-rps and limit-rpm together).
	MoreRateLimits []*LocalRateLimit `json:"moreRateLimits,omitempty"`
	// ConnLimit bounds the requests in progress per client address.
	ConnLimit   *ConnLimit       `json:"connLimit,omitempty"`
	GlobalLimit *GlobalRateLimit `json:"globalRateLimit,omitempty"`

	// NginxOrder runs the checks in ingress-nginx's order instead: the
	// local rate and connection limits (nginx's preaccess phase), then
	// authorization (its rules must not match JWT claims), then
	// authentication.
	NginxOrder bool `json:"nginxOrder,omitempty"`

	// compiled is the chain Compile (or Check) built.
	compiled atomic.Pointer[policyChain]
}

// ClientIPDetection finds the client's address behind trusted proxies:
// the X-Forwarded-For entries are read right to left, skipping those of
// trusted proxies, and the first untrusted one is the client. Only a
// connection from a trusted proxy has its X-Forwarded-For read at all.
type ClientIPDetection struct {
	// TrustedProxies are the networks of the proxies in front.
	TrustedProxies []netip.Prefix `json:"trustedProxies,omitempty"`
	// Hops, when positive, trusts exactly that many proxies: the client
	// is the Hops-th address from the right of X-Forwarded-For (and the
	// peer must be in TrustedProxies when that list is set).
	Hops int `json:"hops,omitempty"`
}

// BasicAuth is HTTP Basic authentication against htpasswd entries.
type BasicAuth struct {
	// Htpasswd holds "user:hash" lines: bcrypt ($2y$), SHA1 ({SHA}),
	// salted SHA ({SSHA}), apr1 MD5 ($apr1$) and crypt SHA-256/512 ($5$,
	// $6$). Plain-text passwords are refused.
	Htpasswd string `json:"-"`
	// Realm is sent in the WWW-Authenticate challenge.
	Realm string `json:"realm,omitempty"`
	// UserHeader, when set, carries the authenticated user name to the
	// backend (a client's own value is always replaced or removed).
	UserHeader string `json:"userHeader,omitempty"`
	// StripAuthorization removes the Authorization header from requests
	// that passed, as ingress-nginx does.
	StripAuthorization bool `json:"stripAuthorization,omitempty"`
}

// TokenSource says where a credential is read from: one of Header (with
// an optional Prefix such as "Bearer "), Cookie or Query.
type TokenSource struct {
	Header string `json:"header,omitempty"`
	Prefix string `json:"prefix,omitempty"`
	Cookie string `json:"cookie,omitempty"`
	Query  string `json:"query,omitempty"`
}

// APIKeyAuth admits requests carrying one of Keys.
type APIKeyAuth struct {
	Keys []APIKey `json:"-"`
	// From lists where the key is looked for, in order (default: the
	// X-API-Key header).
	From []TokenSource `json:"from,omitempty"`
	// ClientIDHeader, when set, carries the key's client id to the
	// backend.
	ClientIDHeader string `json:"clientIDHeader,omitempty"`
}

// APIKey is one accepted key and the client it identifies.
type APIKey struct {
	ClientID string `json:"clientID"`
	Key      string `json:"-"`
}

// JWTAuth requires a JSON Web Token valid for one of Providers.
type JWTAuth struct {
	Providers []JWTProvider `json:"providers"`
}

// JWTProvider is one token issuer and how its tokens are checked.
type JWTProvider struct {
	Name string `json:"name"`
	// Issuer, when set, must equal the token's iss claim.
	Issuer string `json:"issuer,omitempty"`
	// Audiences, when set, must contain one of the token's aud values.
	Audiences []string `json:"audiences,omitempty"`
	// LocalJWKS is a JSON Web Key Set (JSON); RemoteJWKS fetches one.
	// Exactly one is set.
	LocalJWKS  string      `json:"-"`
	RemoteJWKS *RemoteJWKS `json:"remoteJWKS,omitempty"`
	// From lists where the token is looked for, in order (default: the
	// Authorization header with prefix "Bearer ").
	From []TokenSource `json:"from,omitempty"`
	// ClaimsToHeaders copies claims to request headers (a client's own
	// values of those headers are always replaced or removed).
	ClaimsToHeaders []ClaimToHeader `json:"claimsToHeaders,omitempty"`
	// RequiredClaims must all match; RequiredScopes must all be in the
	// token's scope (space-separated) or scp (list) claim.
	RequiredClaims []ClaimMatch `json:"requiredClaims,omitempty"`
	RequiredScopes []string     `json:"requiredScopes,omitempty"`
	// Leeway is the clock skew allowed on exp, nbf and iat.
	Leeway time.Duration `json:"leeway,omitempty"`
	// Algorithms are the signature algorithms accepted (default: RS256,
	// ES256); "none" is never accepted.
	Algorithms []string `json:"algorithms,omitempty"`
}

// RemoteJWKS is a key set fetched over HTTP(S), cached, refreshed every
// Refresh and, on failure, retried with back-off while the last good keys
// stay in use.
type RemoteJWKS struct {
	URL string `json:"url"`
	// Refresh defaults to 5 minutes; Timeout (per fetch) to 5 seconds.
	Refresh time.Duration `json:"refresh,omitempty"`
	Timeout time.Duration `json:"timeout,omitempty"`
}

// ClaimToHeader copies one claim (a dotted path into nested objects) to a
// header. Lists are joined with commas, objects sent as JSON.
type ClaimToHeader struct {
	Claim  string `json:"claim"`
	Header string `json:"header"`
}

// ClaimMatch requires a claim (a dotted path) to have one of Values (any
// of them, for a list claim). With no Values the claim must be present.
type ClaimMatch struct {
	Name   string   `json:"name"`
	Values []string `json:"values,omitempty"`
}

// ExtAuth asks an external service whether a request may pass.
type ExtAuth struct {
	// HTTP is forward auth (the oauth2-proxy / Authelia protocol); GRPC
	// the Envoy ext_authz v3 protocol. Exactly one is set.
	HTTP *HTTPExtAuth `json:"http,omitempty"`
	GRPC *GRPCExtAuth `json:"grpc,omitempty"`
	// Timeout bounds the check (default 10 s).
	Timeout time.Duration `json:"timeout,omitempty"`
	// FailOpen lets requests through when the auth service cannot be
	// asked or answers nonsense; by default (false) they get 403.
	FailOpen bool `json:"failOpen,omitempty"`
	// MaxBody, when positive, buffers up to that many bytes (at most
	// MaxAuthBody) of the request body and sends them with the check, as
	// Envoy's with_request_body does; the backend then gets the whole
	// body. A longer body is answered 413 unless PartialBody, which sends
	// its first MaxBody bytes (the Gateway API filter's forwardBody).
	// The service learns which from X-Envoy-Auth-Partial-Body.
	MaxBody     int64 `json:"maxBody,omitempty"`
	PartialBody bool  `json:"partialBody,omitempty"`
}

// HTTPExtAuth is forward auth: a GET (the original method is sent in
// X-Forwarded-Method) of URL with the original request's headers named in
// HeadersToSend plus X-Forwarded-{Method,Proto,Host,Uri,For}. A 2xx
// answer admits the request, copying HeadersToBackend from it; any other
// answer is returned to the client as it is (status, body, and its
// Location, WWW-Authenticate and Set-Cookie headers).
type HTTPExtAuth struct {
	// URL is the auth service's endpoint (http or https).
	URL string `json:"url"`
	// HeadersToSend default to Authorization and Cookie. HeadersToBackend
	// are never taken from the client: its own values are removed.
	HeadersToSend    []string `json:"headersToSend,omitempty"`
	HeadersToBackend []string `json:"headersToBackend,omitempty"`
	// AuthRequest, when set, gives the check nginx auth_request's
	// semantics instead (HeadersToSend is then unused).
	AuthRequest *AuthRequest `json:"authRequest,omitempty"`
	// OriginalRequest asks as the Gateway API ExternalAuth filter does
	// (Envoy's HTTP ext_authz): the original method, URL's path followed
	// by the original path and query, and Authorization always sent with
	// HeadersToSend; only a 200 admits.
	OriginalRequest bool `json:"originalRequest,omitempty"`
}

// AuthzAction is what an authorization rule does with the requests it
// matches.
type AuthzAction uint8

const (
	// AuthzDeny answers 403.
	AuthzDeny AuthzAction = iota
	// AuthzAllow lets the request on.
	AuthzAllow
)

// Authorization allows or denies requests by the first rule that matches;
// requests no rule matches get Default.
type Authorization struct {
	Rules   []AuthzRule `json:"rules,omitempty"`
	Default AuthzAction `json:"default"`
}

// AuthzRule matches requests by every condition it sets (an unset one
// matches all): the client's address in one of ClientCIDRs, the method
// one of Methods, the path one of Paths, every claim in Claims (the JWT's;
// a request without one matches no claim condition).
type AuthzRule struct {
	Name        string         `json:"name,omitempty"`
	Action      AuthzAction    `json:"action"`
	ClientCIDRs []netip.Prefix `json:"clientCIDRs,omitempty"`
	Methods     []string       `json:"methods,omitempty"`
	Paths       []AuthzPath    `json:"paths,omitempty"`
	Claims      []ClaimMatch   `json:"claims,omitempty"`
}

// AuthzPath matches the canonical request path exactly or, with Prefix,
// element-wise as a path-prefix route does.
type AuthzPath struct {
	Path   string `json:"path"`
	Prefix bool   `json:"prefix,omitempty"`
}

// RateKey says what a local rate limit counts separately.
type RateKey uint8

const (
	// RateKeyRoute shares one bucket among all requests of the policy.
	RateKeyRoute RateKey = iota
	// RateKeyClientIP keeps a bucket per client address.
	RateKeyClientIP
	// RateKeyHeader keeps a bucket per value of a header (requests
	// without it share one).
	RateKeyHeader
	// RateKeyClaim keeps a bucket per value of a JWT claim (requests
	// without it share one).
	RateKeyClaim
)

// LocalRateLimit is a token bucket per key, in this replica: Requests per
// Per refill it, Burst (default Requests) is its size. Requests finding it
// empty get 429 with Retry-After and RateLimit-* headers, unless Shadow,
// which lets them pass and only counts them.
type LocalRateLimit struct {
	Requests uint32        `json:"requests"`
	Per      time.Duration `json:"per"`
	Burst    uint32        `json:"burst,omitempty"`
	Key      RateKey       `json:"key"`
	// KeyName is the header or claim of RateKeyHeader and RateKeyClaim.
	KeyName string `json:"keyName,omitempty"`
	Shadow  bool   `json:"shadow,omitempty"`
	// Scope, when set, names the limit's buckets so that a new Policy
	// with the same Scope and settings (the next translation of the same
	// object) keeps counting in them instead of starting full.
	Scope string `json:"scope,omitempty"`
	// Status, when set, is the answer to refused requests instead of 429
	// (ingress-nginx answers 503), without the RateLimit-* headers.
	Status int `json:"status,omitempty"`
	// Exempt lists client networks the limit does not apply to (a comma
	// separated list of prefixes, to keep the struct comparable).
	Exempt string `json:"exempt,omitempty"`
}

var (
	authzActionNames = []string{AuthzDeny: "Deny", AuthzAllow: "Allow"}
	rateKeyNames     = []string{RateKeyRoute: "Route", RateKeyClientIP: "ClientIP", RateKeyHeader: "Header", RateKeyClaim: "Claim"}
)

// MarshalText names the action (for `portico routes` and golden files).
func (a AuthzAction) MarshalText() ([]byte, error) { return policyEnumText(authzActionNames, int(a)) }

// MarshalText names the key kind.
func (k RateKey) MarshalText() ([]byte, error) { return policyEnumText(rateKeyNames, int(k)) }

func policyEnumText(names []string, i int) ([]byte, error) {
	if i < 0 || i >= len(names) {
		return []byte(strconv.Itoa(i)), nil
	}
	return []byte(names[i]), nil
}

// GlobalRateLimit is one limit shared by every replica through Redis:
// Requests per fixed window of Per, per key. Replicas lease tokens from a
// counter per key and window (an atomic script), a share of the limit at
// a time, and serve from the lease; the first request of a key in a
// window waits for Redis, later leases are fetched ahead in the
// background, and a window found exhausted is refused locally until it
// ends. The sum admitted never exceeds Requests per window; tokens leased
// but unused when the window ends (at most 2% of the limit per replica)
// are lost. When Redis cannot be reached (or answers nonsense) requests
// get 503, unless FailOpen.
type GlobalRateLimit struct {
	Requests uint32        `json:"requests"`
	Per      time.Duration `json:"per"`
	Key      RateKey       `json:"key"`
	KeyName  string        `json:"keyName,omitempty"`
	// Redis is the server's host:port.
	Redis    string `json:"redis"`
	FailOpen bool   `json:"failOpen,omitempty"`
	// Scope prefixes the limit's Redis keys (the policy object's name), so
	// limits of different policies never share counters.
	Scope string `json:"scope"`
}

// GRPCExtAuth is an Envoy ext_authz v3 server (cleartext HTTP/2).
type GRPCExtAuth struct {
	// Address is host:port.
	Address string `json:"address"`
	// HeadersToSend default to Authorization and Cookie.
	HeadersToSend []string `json:"headersToSend,omitempty"`
	// AllHeaders sends every request header instead (the Gateway API
	// filter's empty allowedHeaders).
	AllHeaders bool `json:"allHeaders,omitempty"`
	// PackAsBytes sends the body (see ExtAuth.MaxBody) in raw_body, not
	// body. A body that is not UTF-8 always goes in raw_body: a string
	// field cannot carry it.
	PackAsBytes bool `json:"packAsBytes,omitempty"`
}
