package router

import "time"

// LBPolicy is how a backend's endpoints share its requests.
type LBPolicy uint8

// Load-balancing policies.
const (
	// RoundRobin (the default) takes the endpoints in turn.
	RoundRobin LBPolicy = iota
	// LeastRequest takes the less busy of two random endpoints.
	LeastRequest
	// Random takes an endpoint at random.
	Random
	// ConsistentHash sends equal keys to the same endpoint while the
	// endpoint set allows (rendezvous hashing: a removed endpoint moves
	// only its own keys).
	ConsistentHash
)

// Balancing configures how a backend picks endpoints and protects them.
type Balancing struct {
	Policy LBPolicy `json:"policy,omitempty"`
	// HashHeader, HashCookie or HashSourceIP give the ConsistentHash key.
	HashHeader   string `json:"hashHeader,omitempty"`
	HashCookie   string `json:"hashCookie,omitempty"`
	HashSourceIP bool   `json:"hashSourceIP,omitempty"`
	// HashRequestURI hashes the request's path and query as sent;
	// HashHost its host; HashQuery one query parameter (nginx's
	// $request_uri, $host and $arg_name keys).
	HashRequestURI bool   `json:"hashRequestURI,omitempty"`
	HashHost       bool   `json:"hashHost,omitempty"`
	HashQuery      string `json:"hashQuery,omitempty"`
	// MaxRequests, when set, bounds the requests in flight to the backend;
	// beyond it requests are answered 503 at once (circuit breaking).
	MaxRequests int32 `json:"maxRequests,omitempty"`
	// Outlier, when set, ejects endpoints that keep failing.
	Outlier *Outlier `json:"outlier,omitempty"`
}

// Outlier is passive health checking: an endpoint answering Consecutive5xx
// 5xx responses in a row (or ConsecutiveGatewayErrors 502/503/504 or
// connect failures) is left out for BaseEjection times the number of its
// ejections, while at most MaxEjectionPercent of the endpoints are out.
type Outlier struct {
	Consecutive5xx           int32         `json:"consecutive5xx,omitempty"`
	ConsecutiveGatewayErrors int32         `json:"consecutiveGatewayErrors,omitempty"`
	BaseEjection             time.Duration `json:"baseEjection"`
	MaxEjectionPercent       int           `json:"maxEjectionPercent"`
}
