package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Compression compresses responses for clients that accept it
// (Accept-Encoding). Responses to HEAD and Range requests, with a status
// of 1xx/204/206/304, a Content-Encoding, Cache-Control no-transform, a
// type not listed, or a Content-Length under minLength are sent as they
// came.
type Compression struct {
	// Encodings offered, in order of preference for clients that accept
	// several equally (default: zstd, br, gzip).
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=3
	Encodings []CompressionEncoding `json:"encodings,omitempty"`
	// MinLength is the smallest body compressed, by Content-Length
	// (default 1Ki).
	// +optional
	MinLength *resource.Quantity `json:"minLength,omitempty"`
	// ContentTypes compressed: media types, or patterns with one "*"
	// ("text/*", "application/*+json"; "*" is every type but those
	// compressed already). Default: text, JSON, JavaScript, XML, SVG, WASM
	// and font types.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=128
	ContentTypes []string `json:"contentTypes,omitempty"`
}

// CompressionEncoding is a content coding.
// +kubebuilder:validation:Enum=gzip;br;zstd
type CompressionEncoding string

// ResponseOverride replaces the body of responses whose status matches,
// from the backends and Portico's own (policy refusals, 502/503/504).
type ResponseOverride struct {
	Match ResponseOverrideMatch `json:"match"`
	// Response is what is answered instead.
	Response CustomResponse `json:"response"`
}

// ResponseOverrideMatch matches statuses: a rule naming the code wins
// over one naming its class.
//
// +kubebuilder:validation:XValidation:rule="has(self.statusCodes) || has(self.statusClasses)",message="set statusCodes or statusClasses"
type ResponseOverrideMatch struct {
	// +optional
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:Minimum=200
	// +kubebuilder:validation:items:Maximum=599
	StatusCodes []int32 `json:"statusCodes,omitempty"`
	// +optional
	// +kubebuilder:validation:MaxItems=4
	StatusClasses []StatusClass `json:"statusClasses,omitempty"`
}

// StatusClass is a class of statuses.
// +kubebuilder:validation:Enum="2xx";"3xx";"4xx";"5xx"
type StatusClass string

// CustomResponse is an answer of Portico's.
type CustomResponse struct {
	// StatusCode replaces the status (default: kept).
	// +optional
	// +kubebuilder:validation:Minimum=200
	// +kubebuilder:validation:Maximum=599
	StatusCode *int32 `json:"statusCode,omitempty"`
	// ContentType defaults to text/plain; charset=utf-8.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	ContentType *string `json:"contentType,omitempty"`
	// Body is sent as it is.
	// +kubebuilder:validation:MaxLength=65536
	Body string `json:"body"`
}

// SessionPersistence keeps a client on the endpoint that first served it,
// by a token in a cookie or a header; a token of an endpoint that is gone
// is replaced. As the Gateway API's HTTPRoute rule field, plus Portico's
// cookie attributes and modes.
//
// +kubebuilder:validation:XValidation:rule="!has(self.cookie) || !has(self.type) || self.type == 'Cookie'",message="cookie only applies to type Cookie"
// +kubebuilder:validation:XValidation:rule="!has(self.type) || self.type != 'Header' || has(self.sessionName)",message="type Header needs sessionName (the header)"
type SessionPersistence struct {
	// Type is Cookie (default) or Header.
	// +optional
	// +kubebuilder:validation:Enum=Cookie;Header
	Type *string `json:"type,omitempty"`
	// SessionName is the cookie's name (default portico-session) or the
	// header's.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9!#$%&'*+\-.^_\x60|~]+$`
	SessionName *string `json:"sessionName,omitempty"`
	// +optional
	Cookie *SessionCookie `json:"cookie,omitempty"`
	// Mode Persistent (default) keeps a session on its endpoint; Balanced
	// hashes it onto the current endpoints, so scaling up moves a fair
	// share of the sessions.
	// +optional
	// +kubebuilder:validation:Enum=Persistent;Balanced
	Mode *string `json:"mode,omitempty"`
	// ChangeOnFailure moves a session whose endpoint failed to the one a
	// retry reached (default false: every attempt goes to its endpoint).
	// +optional
	ChangeOnFailure bool `json:"changeOnFailure,omitempty"`
}

// SessionCookie holds the session cookie's attributes.
type SessionCookie struct {
	// Path defaults to "/".
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^/[^;\s"]*$`
	Path *string `json:"path,omitempty"`
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9.-]+$`
	Domain *string `json:"domain,omitempty"`
	// MaxAge makes the cookie outlive the browser session (default: a
	// session cookie).
	// +optional
	MaxAge *metav1.Duration `json:"maxAge,omitempty"`
	// +optional
	// +kubebuilder:validation:Enum=Strict;Lax;None
	SameSite *string `json:"sameSite,omitempty"`
	// +optional
	Secure bool `json:"secure,omitempty"`
	// HTTPOnly defaults to true.
	// +optional
	HTTPOnly *bool `json:"httpOnly,omitempty"`
}
