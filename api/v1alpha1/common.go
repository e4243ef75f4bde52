package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

func metav1AddToGroupVersion(s *runtime.Scheme) { metav1.AddToGroupVersion(s, GroupVersion) }

// SecretKeyReference names a key of a Secret or ConfigMap in the
// policy's namespace.
type SecretKeyReference struct {
	// Name of the object.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// Key in its data; each field documents its default.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key,omitempty"`
}

// HeaderName is an HTTP header field name.
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=256
// +kubebuilder:validation:Pattern=`^[A-Za-z0-9!#$%&'*+\-.^_\x60|~]+$`
type HeaderName string

// ClaimMatch requires a JWT claim (a dotted path into nested objects) to
// have one of values (any element, for a list claim); with no values the
// claim must be present.
type ClaimMatch struct {
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Name string `json:"name"`
	// +optional
	// +kubebuilder:validation:MaxItems=64
	Values []string `json:"values,omitempty"`
}

// CredentialSource says where a credential is read from: exactly one of
// header (with an optional prefix), cookie or query.
// +kubebuilder:validation:XValidation:rule="[has(self.header), has(self.cookie), has(self.query)].filter(x, x).size() == 1",message="set exactly one of header, cookie, query"
// +kubebuilder:validation:XValidation:rule="!has(self.prefix) || has(self.header)",message="prefix only applies to header"
type CredentialSource struct {
	// +optional
	Header *HeaderName `json:"header,omitempty"`
	// Prefix the header value starts with, removed (e.g. "Bearer ").
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Prefix *string `json:"prefix,omitempty"`
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Cookie *string `json:"cookie,omitempty"`
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Query *string `json:"query,omitempty"`
}
