package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// SecurityPolicy authenticates and authorizes the requests of what it
// targets. Of several SecurityPolicies reaching one route, the most
// specific target wins (a rule, then a route, then a listener, then a
// Gateway); among equals the oldest, the others are Conflicted.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=portico,shortName=secpol
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type SecurityPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec SecurityPolicySpec `json:"spec"`
	// +optional
	Status gatewayv1.PolicyStatus `json:"status,omitempty"`
}

// SecurityPolicyList is a list of SecurityPolicies.
//
// +kubebuilder:object:root=true
type SecurityPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SecurityPolicy `json:"items"`
}

// SecurityPolicySpec is what a SecurityPolicy requires. Every method set
// must pass, in the order basicAuth, apiKey, jwt, extAuth, then
// authorization.
//
// +kubebuilder:validation:XValidation:rule="has(self.basicAuth) || has(self.jwt) || has(self.apiKey) || has(self.extAuth) || has(self.authorization)",message="set at least one of basicAuth, jwt, apiKey, extAuth, authorization"
type SecurityPolicySpec struct {
	// TargetRefs are what the policy attaches to (see the package doc).
	// An Ingress can also name the policy in its
	// portico.dev/security-policy annotation.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:XValidation:rule="self.all(r, (r.group == 'gateway.networking.k8s.io' && r.kind in ['Gateway', 'HTTPRoute', 'GRPCRoute']) || (r.group == 'networking.k8s.io' && r.kind == 'Ingress'))",message="targets are Gateways, HTTPRoutes, GRPCRoutes (gateway.networking.k8s.io) or Ingresses (networking.k8s.io)"
	TargetRefs []gatewayv1.LocalPolicyTargetReferenceWithSectionName `json:"targetRefs,omitempty"`

	// +optional
	BasicAuth *BasicAuth `json:"basicAuth,omitempty"`
	// +optional
	JWT *JWT `json:"jwt,omitempty"`
	// +optional
	APIKey *APIKeyAuth `json:"apiKey,omitempty"`
	// +optional
	ExtAuth *ExtAuth `json:"extAuth,omitempty"`
	// +optional
	Authorization *Authorization `json:"authorization,omitempty"`
}

// BasicAuth is HTTP Basic authentication; 401 with WWW-Authenticate
// otherwise.
type BasicAuth struct {
	// Users is a Secret key (default ".htpasswd") in htpasswd format:
	// bcrypt, SHA1, SSHA, apr1, crypt SHA-256/512 (plain text refused).
	Users SecretKeyReference `json:"users"`
	// Realm of the challenge (default "Restricted").
	// +optional
	// +kubebuilder:validation:MaxLength=256
	Realm string `json:"realm,omitempty"`
	// ForwardUsernameHeader, when set, carries the user name to the
	// backend.
	// +optional
	ForwardUsernameHeader *HeaderName `json:"forwardUsernameHeader,omitempty"`
}

// JWT requires a token valid for one of the providers.
type JWT struct {
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=8
	// +listType=map
	// +listMapKey=name
	Providers []JWTProvider `json:"providers"`
}

// JWTAlgorithm is a JWS signature algorithm ("none" is never accepted).
// +kubebuilder:validation:Enum=RS256;RS384;RS512;PS256;PS384;PS512;ES256;ES384;ES512;EdDSA;HS256;HS384;HS512
type JWTAlgorithm string

// JWTProvider is one token issuer.
//
// +kubebuilder:validation:XValidation:rule="has(self.localJWKS) != has(self.remoteJWKS)",message="set exactly one of localJWKS, remoteJWKS"
type JWTProvider struct {
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// Issuer must equal the iss claim when set.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Issuer string `json:"issuer,omitempty"`
	// Audiences: the aud claim must contain one of them when set.
	// +optional
	// +kubebuilder:validation:MaxItems=16
	Audiences []string `json:"audiences,omitempty"`
	// LocalJWKS is a key set in a Secret or ConfigMap key (default
	// "jwks.json").
	// +optional
	LocalJWKS *LocalJWKS `json:"localJWKS,omitempty"`
	// +optional
	RemoteJWKS *RemoteJWKS `json:"remoteJWKS,omitempty"`
	// ExtractFrom lists where the token is looked for (default: the
	// Authorization header, prefix "Bearer ").
	// +optional
	// +kubebuilder:validation:MaxItems=8
	ExtractFrom []CredentialSource `json:"extractFrom,omitempty"`
	// ClaimToHeaders copies claims to request headers.
	// +optional
	// +kubebuilder:validation:MaxItems=16
	ClaimToHeaders []ClaimToHeader `json:"claimToHeaders,omitempty"`
	// RequiredClaims must all match (else 403).
	// +optional
	// +kubebuilder:validation:MaxItems=16
	RequiredClaims []ClaimMatch `json:"requiredClaims,omitempty"`
	// RequiredScopes must all be granted (scope or scp claim; else 403).
	// +optional
	// +kubebuilder:validation:MaxItems=16
	RequiredScopes []string `json:"requiredScopes,omitempty"`
	// ClockSkew allowed on exp, nbf and iat (default 0).
	// +optional
	ClockSkew *metav1.Duration `json:"clockSkew,omitempty"`
	// Algorithms accepted (default RS256, ES256).
	// +optional
	// +kubebuilder:validation:MaxItems=13
	Algorithms []JWTAlgorithm `json:"algorithms,omitempty"`
}

// LocalJWKS names a key set stored in the cluster.
type LocalJWKS struct {
	// Kind is Secret or ConfigMap.
	// +kubebuilder:validation:Enum=Secret;ConfigMap
	Kind               string `json:"kind"`
	SecretKeyReference `json:",inline"`
}

// RemoteJWKS is a key set fetched over HTTP(S), cached, refreshed and,
// on failure, retried with back-off while the last good keys stay in use.
type RemoteJWKS struct {
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.startsWith('https://') || self.startsWith('http://')",message="an http(s) URL"
	URI string `json:"uri"`
	// RefreshInterval (default 5m).
	// +optional
	RefreshInterval *metav1.Duration `json:"refreshInterval,omitempty"`
	// Timeout of one fetch (default 5s).
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`
}

// ClaimToHeader copies one claim to a header.
type ClaimToHeader struct {
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Claim  string     `json:"claim"`
	Header HeaderName `json:"header"`
}

// APIKeyAuth admits requests carrying a known key.
type APIKeyAuth struct {
	// CredentialRefs are Secrets whose every data entry is one client:
	// the key is the client id, the value its API key.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	CredentialRefs []SecretKeyReference `json:"credentialRefs"`
	// ExtractFrom lists where the key is looked for (default: the
	// X-API-Key header). Header sources are removed before forwarding.
	// +optional
	// +kubebuilder:validation:MaxItems=8
	ExtractFrom []CredentialSource `json:"extractFrom,omitempty"`
	// ForwardClientIDHeader, when set, carries the client id to the
	// backend.
	// +optional
	ForwardClientIDHeader *HeaderName `json:"forwardClientIDHeader,omitempty"`
}

// ExtAuth asks an external service about each request: HTTP forward auth
// (the oauth2-proxy / Authelia protocol) or gRPC (the Envoy ext_authz v3
// protocol, so OPA-Envoy and other existing servers work unchanged). When
// the service cannot be asked (down, timeout, an answer that is not HTTP,
// a gRPC error) requests get 403 unless failOpen.
//
// +kubebuilder:validation:XValidation:rule="has(self.http) != has(self.grpc)",message="set exactly one of http, grpc"
type ExtAuth struct {
	// HTTP forward auth: a GET of url with the original request's
	// headersToSend (default Authorization, Cookie) and
	// X-Forwarded-{Method,Proto,Host,Uri,For}; a 2xx answer admits the
	// request, copying headersToBackend from the answer; any other answer
	// is returned to the client (status, body, Location, WWW-Authenticate,
	// Set-Cookie).
	// +optional
	HTTP *HTTPExtAuth `json:"http,omitempty"`
	// GRPC ext_authz v3 (Authorization/Check, cleartext HTTP/2): method,
	// path, host, scheme, headersToSend and the client address are sent;
	// an OK answer's headers are set on the request (headers_to_remove
	// removed), a denial is returned with its status, headers and body.
	// +optional
	GRPC *GRPCExtAuth `json:"grpc,omitempty"`
	// Timeout of one check (default 10s).
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`
	// FailOpen lets requests through when the service cannot answer
	// (default false: they are refused).
	// +optional
	FailOpen bool `json:"failOpen,omitempty"`
	// WithRequestBody sends the request body with the check (Envoy's
	// with_request_body): it is buffered up to maxRequestBytes, sent to
	// the service (the HTTP check's body; the gRPC check's
	// attributes.request.http.body or raw_body), then the whole body goes
	// to the backend. Unset: the service gets no body.
	// +optional
	WithRequestBody *ExtAuthBody `json:"withRequestBody,omitempty"`
}

// ExtAuthBody says how much of the request body an ExtAuth check sends.
type ExtAuthBody struct {
	// MaxRequestBytes is the most buffered and sent.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1048576
	MaxRequestBytes int32 `json:"maxRequestBytes"`
	// AllowPartialMessage sends the first maxRequestBytes of a longer
	// body; by default (false) a longer body is answered 413. The service
	// learns which from the X-Envoy-Auth-Partial-Body header ("true" when
	// cut).
	// +optional
	AllowPartialMessage bool `json:"allowPartialMessage,omitempty"`
	// PackAsBytes (gRPC) sends the body in raw_body instead of body. A
	// body that is not UTF-8 always goes in raw_body.
	// +optional
	PackAsBytes bool `json:"packAsBytes,omitempty"`
}

// HTTPExtAuth is forward auth.
type HTTPExtAuth struct {
	// URL of the check, e.g. http://oauth2-proxy.auth/oauth2/auth.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.startsWith('https://') || self.startsWith('http://')",message="an http(s) URL"
	URL string `json:"url"`
	// +optional
	// +kubebuilder:validation:MaxItems=32
	HeadersToSend []HeaderName `json:"headersToSend,omitempty"`
	// +optional
	// +kubebuilder:validation:MaxItems=32
	HeadersToBackend []HeaderName `json:"headersToBackend,omitempty"`
}

// AuthorizationAction is Allow or Deny.
// +kubebuilder:validation:Enum=Allow;Deny
type AuthorizationAction string

// Authorization actions.
const (
	ActionAllow AuthorizationAction = "Allow"
	ActionDeny  AuthorizationAction = "Deny"
)

// Authorization allows or denies by the first matching rule; others get
// defaultAction (default Deny). Denied requests get 403.
type Authorization struct {
	// +optional
	// +kubebuilder:validation:MaxItems=64
	Rules []AuthorizationRule `json:"rules,omitempty"`
	// +optional
	// +kubebuilder:default=Deny
	DefaultAction AuthorizationAction `json:"defaultAction,omitempty"`
}

// AuthorizationRule matches by every condition set.
type AuthorizationRule struct {
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Name   string              `json:"name,omitempty"`
	Action AuthorizationAction `json:"action"`
	// ClientCIDRs match the client's address (see TrafficPolicy
	// clientIPDetection).
	// +optional
	// +kubebuilder:validation:MaxItems=64
	ClientCIDRs []string `json:"clientCIDRs,omitempty"`
	// +optional
	// +kubebuilder:validation:MaxItems=16
	Methods []gatewayv1.HTTPMethod `json:"methods,omitempty"`
	// +optional
	// +kubebuilder:validation:MaxItems=32
	Paths []AuthorizationPath `json:"paths,omitempty"`
	// JWTClaims must all match the verified token's claims.
	// +optional
	// +kubebuilder:validation:MaxItems=16
	JWTClaims []ClaimMatch `json:"jwtClaims,omitempty"`
}

// AuthorizationPath matches the request path exactly or by path prefix
// (whole elements).
type AuthorizationPath struct {
	// +optional
	// +kubebuilder:validation:Enum=Exact;PathPrefix
	// +kubebuilder:default=PathPrefix
	Type string `json:"type,omitempty"`
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:XValidation:rule="self.startsWith('/')",message="must start with /"
	Value string `json:"value"`
}

// GRPCExtAuth is an ext_authz v3 server.
type GRPCExtAuth struct {
	// Address is host:port, e.g. opa.auth.svc:9191.
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=253
	Address string `json:"address"`
	// HeadersToSend (default Authorization, Cookie).
	// +optional
	// +kubebuilder:validation:MaxItems=32
	HeadersToSend []HeaderName `json:"headersToSend,omitempty"`
}
