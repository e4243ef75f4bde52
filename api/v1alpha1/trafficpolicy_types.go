package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// TrafficPolicy limits the requests of what it targets (rate, body size,
// how the client's address is found) and shapes their answers
// (compression, response overrides, session persistence). Attachment and precedence are
// as for SecurityPolicy.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=portico,shortName=trafpol
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type TrafficPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec TrafficPolicySpec `json:"spec"`
	// +optional
	Status gatewayv1.PolicyStatus `json:"status,omitempty"`
}

// TrafficPolicyList is a list of TrafficPolicies.
//
// +kubebuilder:object:root=true
type TrafficPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []TrafficPolicy `json:"items"`
}

// TrafficPolicySpec is what a TrafficPolicy sets.
//
// +kubebuilder:validation:XValidation:rule="has(self.rateLimit) || has(self.requestBody) || has(self.clientIPDetection) || has(self.compression) || has(self.responseOverride) || has(self.sessionPersistence)",message="set at least one of rateLimit, requestBody, clientIPDetection, compression, responseOverride, sessionPersistence"
type TrafficPolicySpec struct {
	// TargetRefs as for SecurityPolicy; an Ingress can also name the
	// policy in its portico.dev/traffic-policy annotation.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:XValidation:rule="self.all(r, (r.group == 'gateway.networking.k8s.io' && r.kind in ['Gateway', 'HTTPRoute', 'GRPCRoute']) || (r.group == 'networking.k8s.io' && r.kind == 'Ingress'))",message="targets are Gateways, HTTPRoutes, GRPCRoutes (gateway.networking.k8s.io) or Ingresses (networking.k8s.io)"
	TargetRefs []gatewayv1.LocalPolicyTargetReferenceWithSectionName `json:"targetRefs,omitempty"`

	// +optional
	RateLimit *RateLimit `json:"rateLimit,omitempty"`
	// +optional
	RequestBody *RequestBody `json:"requestBody,omitempty"`
	// +optional
	ClientIPDetection *ClientIPDetection `json:"clientIPDetection,omitempty"`
	// +optional
	Compression *Compression `json:"compression,omitempty"`
	// ResponseOverride replaces response bodies by status.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	ResponseOverride []ResponseOverride `json:"responseOverride,omitempty"`
	// +optional
	SessionPersistence *SessionPersistence `json:"sessionPersistence,omitempty"`
}

// RateLimit limits request rates: local (per replica), global (across
// replicas, through Redis), or both (both must admit).
//
// +kubebuilder:validation:XValidation:rule="has(self.local) || has(self.global)",message="set local or global"
type RateLimit struct {
	// Local is a token bucket per key in each replica.
	// +optional
	Local *LocalRateLimit `json:"local,omitempty"`
	// Global is one limit shared by all replicas.
	// +optional
	Global *GlobalRateLimit `json:"global,omitempty"`
}

// GlobalRateLimit is requests per fixed window (unit) per key, counted in
// Redis across every replica. Replicas lease tokens in batches of 2% of
// the limit, so a request waits for Redis about once per key and window;
// the sum admitted never exceeds the limit. When Redis cannot be reached,
// requests get 503, unless failOpen.
type GlobalRateLimit struct {
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000000000
	Requests int32         `json:"requests"`
	Unit     RateLimitUnit `json:"unit"`
	// Key says what is counted separately (default: one counter for the
	// target).
	// +optional
	Key *RateLimitKey `json:"key,omitempty"`
	// Redis is the server's address, host:port.
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=253
	Redis string `json:"redis"`
	// FailOpen admits requests when Redis cannot decide (default false:
	// 503).
	// +optional
	FailOpen bool `json:"failOpen,omitempty"`
}

// RateLimitUnit is the period requests are counted over.
// +kubebuilder:validation:Enum=Second;Minute;Hour
type RateLimitUnit string

// LocalRateLimit is a token bucket per key: requests per unit refill it,
// burst (default requests) is its size. Refused requests get 429 with
// Retry-After and RateLimit-Limit/Remaining/Reset/Policy headers.
type LocalRateLimit struct {
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000000000
	Requests int32         `json:"requests"`
	Unit     RateLimitUnit `json:"unit"`
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000000000
	Burst *int32 `json:"burst,omitempty"`
	// Key says what is counted separately (default: one bucket for the
	// target).
	// +optional
	Key *RateLimitKey `json:"key,omitempty"`
	// Shadow counts refusals without refusing.
	// +optional
	Shadow bool `json:"shadow,omitempty"`
}

// RateLimitKey is what a limit counts by.
//
// +kubebuilder:validation:XValidation:rule="(self.type in ['Header', 'Claim']) == has(self.name)",message="name is required for Header and Claim keys, and only for them"
type RateLimitKey struct {
	// +kubebuilder:validation:Enum=Route;ClientIP;Header;Claim
	Type string `json:"type"`
	// Name of the header or JWT claim.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Name string `json:"name,omitempty"`
}

// RequestBody bounds request bodies: longer ones get 413.
type RequestBody struct {
	// MaxSize such as 1Mi.
	MaxSize resource.Quantity `json:"maxSize"`
}

// ClientIPDetection finds the client behind proxies from
// X-Forwarded-For, read right to left. The proxies must also be trusted by
// the controller (--trusted-proxies), or their X-Forwarded-For never
// arrives.
//
// +kubebuilder:validation:XValidation:rule="has(self.trustedCIDRs) || has(self.numTrustedHops) || has(self.proxyProtocol)",message="set trustedCIDRs, numTrustedHops or proxyProtocol"
type ClientIPDetection struct {
	// TrustedCIDRs are the proxies' networks: entries from them are
	// skipped.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	TrustedCIDRs []string `json:"trustedCIDRs,omitempty"`
	// NumTrustedHops takes the n-th address from the right.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=16
	NumTrustedHops *int32 `json:"numTrustedHops,omitempty"`
	// ProxyProtocol requires every connection to the targeted Gateway's
	// listeners (or the one listener named by sectionName) to start with
	// a PROXY protocol v1 or v2 header; its source address becomes the
	// client's. It applies to Gateway targets only: a header is read per
	// connection, before any route is chosen.
	// +optional
	ProxyProtocol *ProxyProtocol `json:"proxyProtocol,omitempty"`
}

// ProxyProtocol says which peers may send PROXY protocol headers.
// Connections from other peers, or without a valid header in time, are
// closed.
type ProxyProtocol struct {
	// TrustedCIDRs are the networks of the peers allowed to send a header
	// (a load balancer's).
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=64
	TrustedCIDRs []string `json:"trustedCIDRs"`
	// Timeout bounds the wait for the header (default 5s, 100ms to 60s).
	// +optional
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('100ms') && duration(self) <= duration('60s')",message="timeout must be between 100ms and 60s"
	Timeout *metav1.Duration `json:"timeout,omitempty"`
}
