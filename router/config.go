package router

import (
	"strconv"
	"strings"
	"time"
)

// Config is the complete, plain-data description of what the proxy serves.
// Translation produces it; Compile turns it into a Table. A Config holds no
// Kubernetes types, and Compile never modifies it.
type Config struct {
	// Routes are the HTTP routes of every host. Compile orders them by
	// match precedence (see the package doc); their order here decides
	// only ties: of routes with the same match the first wins, and
	// regular-expression routes are tried in this order.
	Routes []Route `json:"routes"`
	// Default, when set, serves requests that match no route of the host
	// table selected for them (for Ingress: spec.defaultBackend or the
	// controller-wide default backend).
	Default *Route `json:"default,omitempty"`
	// Passthrough routes TLS connections by SNI, unterminated, to backends.
	// They are matched before the HTTPS server sees a connection.
	Passthrough []L4Route `json:"passthrough,omitempty"`
	// Hosts reserve a host on a listener even with no routes, so a request
	// for it is not served by a less specific host's routes (Gateway
	// listener isolation).
	Hosts []HostClaim `json:"hosts,omitempty"`
	// TCP routes forward every connection of a listener to backends.
	TCP []L4Route `json:"tcp,omitempty"`
}

// HostClaim is a host of a listener.
type HostClaim struct {
	Listener  string    `json:"listener"`
	Host      string    `json:"host"`
	HostMatch HostMatch `json:"hostMatch"`
}

// L4Route forwards whole connections: by SNI host for TLS passthrough, or
// every connection of a TCP listener.
type L4Route struct {
	// Listener names the listener: "" is the shared HTTPS listener (Ingress
	// passthrough); Gateway TLS and TCP listeners have their own keys.
	Listener  string            `json:"listener,omitempty"`
	Host      string            `json:"host,omitempty"`
	HostMatch HostMatch         `json:"hostMatch"`
	Backends  []WeightedBackend `json:"backends"`
	Source    Source            `json:"source"`
}

// HostMatch says how Route.Host is compared with a request's host.
type HostMatch uint8

const (
	// HostAny matches every host; Route.Host is empty.
	HostAny HostMatch = iota
	// HostExact matches the host name exactly, ignoring case.
	HostExact
	// HostWildcardOneLabel matches "*.foo.com" against exactly one extra
	// label (bar.foo.com, not baz.bar.foo.com), as Ingress specifies.
	HostWildcardOneLabel
	// HostWildcardAnyLabels matches "*.foo.com" against one or more extra
	// labels, as the Gateway API specifies.
	HostWildcardAnyLabels
)

// PathMatch says how Route.Path is compared with a request's path.
type PathMatch uint8

const (
	// PathPrefix matches element-wise: /foo matches /foo, /foo/ and /foo/bar
	// but not /foobar. A trailing slash in the rule is ignored.
	PathPrefix PathMatch = iota
	// PathExact matches the canonical path exactly.
	PathExact
	// PathRegularExpression matches when the regular expression (RE2)
	// matches the whole canonical path. Regex routes are tried after exact
	// routes and before prefix routes, in configuration order.
	PathRegularExpression
)

// Route sends requests that match Host and Path to one of Backends.
type Route struct {
	// Listener names the client-facing listener the route is served on:
	// "" for the shared Ingress listeners, else a Gateway listener key.
	Listener  string    `json:"listener,omitempty"`
	Host      string    `json:"host,omitempty"`
	HostMatch HostMatch `json:"hostMatch"`
	// Path is canonical (see CanonicalPath). For PathPrefix a trailing slash
	// is dropped at compile time.
	Path      string    `json:"path"`
	PathMatch PathMatch `json:"pathMatch"`
	// Backends share the traffic by Weight. An empty list, or a list whose
	// weights are all zero, answers 503.
	Backends []WeightedBackend `json:"backends"`
	// Source names the object and rule the route came from, for errors,
	// metrics and `portico routes`.
	Source Source `json:"source"`
	// Method, when set, must equal the request method.
	Method string `json:"method,omitempty"`
	// Headers and QueryParams must all match. Among routes for the same
	// path, those with a method, then more header matches, then more query
	// matches are tried first (the Gateway API's precedence).
	Headers     []ValueMatch `json:"headers,omitempty"`
	QueryParams []ValueMatch `json:"queryParams,omitempty"`
	// ListenerPort is the client-facing port of a Gateway listener, used
	// when a redirect keeps the scheme (0 for Ingress routes).
	ListenerPort int32 `json:"listenerPort,omitempty"`
	// RequestHeaders and ResponseHeaders modify headers on the way in and
	// out; Redirect answers instead of proxying; Rewrite changes the
	// forwarded host and path.
	RequestHeaders  *HeaderOps `json:"requestHeaders,omitempty"`
	ResponseHeaders *HeaderOps `json:"responseHeaders,omitempty"`
	Redirect        *Redirect  `json:"redirect,omitempty"`
	Rewrite         *Rewrite   `json:"rewrite,omitempty"`
	// CORS, when set, answers CORS preflight requests and adds CORS
	// headers to responses for allowed origins.
	CORS *CORS `json:"cors,omitempty"`
	// Mirrors receive a copy of a share of the requests; their responses
	// are discarded.
	Mirrors []Mirror `json:"mirrors,omitempty"`
	// Timeout, when set, bounds the whole request, retries included: a
	// response not complete in time is answered 504 (if nothing was sent
	// yet) or cut off. BackendTimeout bounds each attempt.
	Timeout        time.Duration `json:"timeout,omitempty"`
	BackendTimeout time.Duration `json:"backendTimeout,omitempty"`
	// Retry, when set, retries failed attempts and retriable status codes
	// on other endpoints (requests whose body was not yet sent only).
	Retry *Retry `json:"retry,omitempty"`
	// HTTPSRedirect answers plain-HTTP requests with a 308 to https.
	HTTPSRedirect bool `json:"httpsRedirect,omitempty"`
	// ForwardedProto makes the scheme a trusted proxy names in
	// X-Forwarded-Proto the request's scheme for HTTPSRedirect: from a
	// peer in Options.TrustedProxies, a request with that header is
	// redirected only when it says "http", whatever the connection
	// (ingress-nginx's use-forwarded-headers).
	ForwardedProto bool `json:"forwardedProto,omitempty"`
	// Fault injects delays and aborts into a share of the requests.
	Fault *Fault `json:"fault,omitempty"`
	// HSTS, when set, is the Strict-Transport-Security header value added
	// to responses served over TLS.
	HSTS string `json:"hsts,omitempty"`
	// Policy, when set, authenticates, authorizes and limits requests
	// before they are proxied (see Policy).
	Policy *Policy `json:"policy,omitempty"`
	// Compression compresses responses; ResponseOverrides replace their
	// bodies by status; Session keeps a client on one endpoint.
	Compression       *Compression        `json:"compression,omitempty"`
	ResponseOverrides []ResponseOverride  `json:"responseOverrides,omitempty"`
	Session           *SessionPersistence `json:"session,omitempty"`
	// NoAccessLog leaves the route's requests out of the access log
	// (ingress-nginx's enable-access-log: "false").
	NoAccessLog bool `json:"noAccessLog,omitempty"`
	// ErrorPages replaces backend answers by status with another
	// backend's (ingress-nginx's custom-http-errors and default-backend).
	ErrorPages *ErrorPages `json:"errorPages,omitempty"`

	// regexes are the expressions Validate compiled, reused by Compile.
	regexes *routeRegexes
}

// HeaderOps modify headers: Set replaces, Add appends, Remove deletes
// (names case-insensitive), applied in that order.
type HeaderOps struct {
	Set    []Header `json:"set,omitempty"`
	Add    []Header `json:"add,omitempty"`
	Remove []string `json:"remove,omitempty"`
}

// Header is one header name and value.
type Header struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// PathModifier replaces the whole path, or the part a PathPrefix route
// matched.
type PathModifier struct {
	// ReplacePrefix is true for ReplacePrefixMatch, false for
	// ReplaceFullPath.
	ReplacePrefix bool   `json:"replacePrefix,omitempty"`
	Value         string `json:"value"`
	// StringPrefix, when set, is replaced by Value as a plain string
	// prefix (Istio's rewrite after a prefix match) instead of by path
	// elements.
	StringPrefix string `json:"stringPrefix,omitempty"`
	// Regex, when set, rewrites the path by regular expression: every
	// match is replaced by Value, which may refer to groups as $1.
	Regex string `json:"regex,omitempty"`
}

// Redirect answers with a redirect built from the request. Empty fields
// keep the request's value.
type Redirect struct {
	Scheme   string        `json:"scheme,omitempty"`
	Hostname string        `json:"hostname,omitempty"`
	Port     int32         `json:"port,omitempty"`
	Path     *PathModifier `json:"path,omitempty"`
	// StatusCode defaults to 302.
	StatusCode int `json:"statusCode,omitempty"`
	// Location, when set, is answered as it is (an absolute URL checked by
	// the translation) and the other fields are ignored.
	Location string `json:"location,omitempty"`
}

// CORS is a cross-origin resource sharing policy. Origins are
// scheme://host[:port] with "*" in the host matching any labels to its
// left; "*" alone allows every origin. Methods, headers and exposed headers
// may be "*".
type CORS struct {
	AllowOrigins     []string `json:"allowOrigins,omitempty"`
	AllowCredentials bool     `json:"allowCredentials,omitempty"`
	AllowMethods     []string `json:"allowMethods,omitempty"`
	AllowHeaders     []string `json:"allowHeaders,omitempty"`
	ExposeHeaders    []string `json:"exposeHeaders,omitempty"`
	// MaxAge in seconds for caching preflight results (0 means 5).
	MaxAge int32 `json:"maxAge,omitempty"`
	// PreflightStatus answers preflight requests (0 means 200;
	// ingress-nginx answers 204).
	PreflightStatus int `json:"preflightStatus,omitempty"`
	// WildcardOneLabel makes "*." in an origin match exactly one label
	// (ingress-nginx), not any number.
	WildcardOneLabel bool `json:"wildcardOneLabel,omitempty"`
}

// Retry says how often and on what an attempt is retried: connection
// errors and timeouts always, responses with one of Codes.
type Retry struct {
	Attempts int           `json:"attempts"`
	Codes    []int         `json:"codes,omitempty"`
	Backoff  time.Duration `json:"backoff,omitempty"`
}

// Mirror sends copies of requests to Backend: Fraction of them (0 to 1).
type Mirror struct {
	Backend  *Backend `json:"backend"`
	Fraction float64  `json:"fraction"`
}

// Rewrite changes what is forwarded: the Host header and the path.
type Rewrite struct {
	Hostname string        `json:"hostname,omitempty"`
	Path     *PathModifier `json:"path,omitempty"`
}

// ValueMatch matches a header or query parameter by name: its first value
// must equal Value, or, with Regex, match Value as an RE2 expression
// anywhere in the value. Header names compare case-insensitively; query
// parameter names exactly.
type ValueMatch struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	Regex bool   `json:"regex,omitempty"`
	// Invert, for headers, makes the match succeed when the header is
	// absent or does not match (Istio's withoutHeaders).
	Invert bool `json:"invert,omitempty"`
}

// WeightedBackend is one Backend with its share of a route's traffic.
type WeightedBackend struct {
	Backend *Backend `json:"backend"`
	Weight  uint32   `json:"weight"`
	// RequestHeaders and ResponseHeaders apply only to requests sent to
	// this backend, after the route's own.
	RequestHeaders  *HeaderOps `json:"requestHeaders,omitempty"`
	ResponseHeaders *HeaderOps `json:"responseHeaders,omitempty"`
}

// Protocol is the protocol spoken to a backend.
type Protocol uint8

const (
	// HTTP1 speaks HTTP/1.1 (with upgrades such as WebSocket) to the backend.
	HTTP1 Protocol = iota
	// H2C speaks cleartext HTTP/2 (prior knowledge) to the backend.
	H2C
)

// Backend is a set of endpoints serving one Service port. Several routes may
// point at the same *Backend.
type Backend struct {
	// Name identifies the backend in metrics and tools, e.g. "ns/svc:80".
	Name      string     `json:"name"`
	Protocol  Protocol   `json:"protocol"`
	Endpoints []Endpoint `json:"endpoints"`
	// Status, when set, is answered instead of proxying: a backend that a
	// route names but that is invalid (the Gateway API requires 500 for
	// its share of the traffic).
	Status int `json:"status,omitempty"`
	// Reason explains Status to the client.
	Reason string `json:"reason,omitempty"`
	// TLS, when set, makes connections to the endpoints TLS (HTTP/2 over
	// TLS when Protocol is H2C).
	TLS *UpstreamTLS `json:"tls,omitempty"`
	// Balancing, when set, replaces round-robin and adds circuit breaking
	// and outlier ejection.
	Balancing *Balancing `json:"balancing,omitempty"`
}

// Endpoint is one address serving a Backend.
type Endpoint struct {
	// Address is host:port, ready to dial.
	Address string `json:"address"`
}

// Source names the configuration object a route came from.
type Source struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	// Rule and Path index the rule and path inside the object; -1 when the
	// route is not from a rule (a default backend).
	Rule int `json:"rule"`
	Path int `json:"path"`
}

// String renders the source as Kind/namespace/name[rule][path].
func (s Source) String() string {
	out := s.Kind + "/"
	if s.Namespace != "" {
		out += s.Namespace + "/"
	}
	out += s.Name
	if s.Rule >= 0 {
		out += "#rule" + strconv.Itoa(s.Rule)
		if s.Path >= 0 {
			out += ".path" + strconv.Itoa(s.Path)
		}
	}
	return out
}

// Fault is fault injection: a share of requests waits Delay before being
// handled, and a share is answered AbortStatus without being proxied.
// Percentages are 0-100.
type Fault struct {
	DelayPercent float64       `json:"delayPercent,omitempty"`
	Delay        time.Duration `json:"delay,omitempty"`
	AbortPercent float64       `json:"abortPercent,omitempty"`
	AbortStatus  int           `json:"abortStatus,omitempty"`
}

// ListenerKey names the listener serving one port of a gateway object
// (kind "Gateway" or "IstioGateway"): "Kind/namespace/name:port". Routes,
// certificates and the data plane's listener sets all use it.
func ListenerKey(kind, namespace, name string, port int32) string {
	return kind + "/" + namespace + "/" + name + ":" + strconv.Itoa(int(port))
}

// ParseListenerKey splits a key made by ListenerKey; ok is false for
// anything else (such as "", the shared listeners).
func ParseListenerKey(key string) (kind, namespace, name string, port int32, ok bool) {
	rest, p, found := strings.Cut(key, ":")
	parts := strings.Split(rest, "/")
	n, err := strconv.ParseInt(p, 10, 32)
	if !found || err != nil || len(parts) != 3 {
		return "", "", "", 0, false
	}
	return parts[0], parts[1], parts[2], int32(n), true
}
