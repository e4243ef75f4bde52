package translate

import (
	"slices"
	"time"

	istiov1 "istio.io/client-go/pkg/apis/networking/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	portico "github.com/portico-dev/portico/api/v1alpha1"
	"github.com/portico-dev/portico/router"
	certs "github.com/portico-dev/portico/tls"
)

// Snapshot is every object translation may read. The controller fills it from
// its informer cache; standalone mode from YAML files.
type Snapshot struct {
	IngressClasses []networkingv1.IngressClass
	Ingresses      []networkingv1.Ingress
	Services       []corev1.Service
	EndpointSlices []discoveryv1.EndpointSlice
	Secrets        []corev1.Secret
	// Namespaces are needed for Gateway listeners that select route
	// namespaces by label.
	Namespaces []corev1.Namespace

	GatewayClasses  []gatewayv1.GatewayClass
	Gateways        []gatewayv1.Gateway
	HTTPRoutes      []gatewayv1.HTTPRoute
	GRPCRoutes      []gatewayv1.GRPCRoute
	TLSRoutes       []gatewayv1.TLSRoute
	TCPRoutes       []gatewayv1.TCPRoute
	ReferenceGrants []gatewayv1.ReferenceGrant
	// BackendTLSPolicies say how to speak TLS to Services; ConfigMaps hold
	// their CA bundles (the controller reads only those policies name).
	BackendTLSPolicies []gatewayv1.BackendTLSPolicy
	ConfigMaps         []corev1.ConfigMap
	// SecurityPolicies and TrafficPolicies are Portico's own policies
	// (their Secrets and ConfigMaps are in Secrets and ConfigMaps).
	SecurityPolicies []portico.SecurityPolicy
	TrafficPolicies  []portico.TrafficPolicy

	// Istio networking objects (any served version, as v1).
	IstioGateways    []*istiov1.Gateway
	VirtualServices  []*istiov1.VirtualService
	DestinationRules []*istiov1.DestinationRule
	// Pods give the labels of EndpointSlice endpoints, for DestinationRule
	// subsets (metadata only).
	Pods []metav1.PartialObjectMetadata
}

// Options are the controller settings that change translation.
type Options struct {
	// ControllerName is the IngressClass spec.controller value Portico
	// implements.
	ControllerName string
	// IngressClass is the class name accepted in the legacy
	// kubernetes.io/ingress.class annotation.
	IngressClass string
	// DefaultBackend, when set, serves requests that match no rule and no
	// Ingress spec.defaultBackend: "namespace/service:port".
	DefaultBackend string
	// GatewayControllerName is the GatewayClass spec.controllerName
	// Portico implements; empty turns the Gateway API off.
	GatewayControllerName string
	// DefaultCertificate, "namespace/name" of a kubernetes.io/tls Secret,
	// is served for unknown or missing SNI.
	DefaultCertificate string
	// ACME says certificates may be obtained from an ACME CA: TLS entries
	// without secretName become ACMEHosts instead of problems.
	ACME bool
	// Now is the time certificates are checked against. Translate reads no
	// clock; the zero time skips the validity-period check.
	Now time.Time
	// CertCache memoises certificate parsing across translations (nil
	// parses every time). Parsing is a pure function of the Secret's bytes.
	CertCache *certs.ParseCache
	// Istio, when set, turns on the translation of Istio Gateways and
	// VirtualServices.
	Istio *IstioOptions
	// Nginx, when set, also serves the ingress-nginx class with its
	// annotations' semantics (--ingress-nginx-compat).
	Nginx *NginxOptions
}

// ObjectRef names a Kubernetes object.
type ObjectRef struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// String renders the reference as Kind/namespace/name.
func (r ObjectRef) String() string {
	if r.Namespace == "" {
		return r.Kind + "/" + r.Name
	}
	return r.Kind + "/" + r.Namespace + "/" + r.Name
}

// Severity says whether a problem is the object's error or only a warning
// about the cluster's state (such as a Service with no ready endpoint).
type Severity string

// Severities.
const (
	SeverityError   Severity = "Error"
	SeverityWarning Severity = "Warning"
)

// Problem is one thing wrong with one object, found by translation. The
// controller turns problems into Events and status conditions.
type Problem struct {
	Object   ObjectRef `json:"object"`
	Field    string    `json:"field"`
	Severity Severity  `json:"severity"`
	Reason   string    `json:"reason"`
	Message  string    `json:"message"`
}

// Result is the outcome of one translation.
type Result struct {
	Config router.Config `json:"config"`
	// Ingresses are the Ingresses Portico owns (whose status it writes),
	// sorted by namespace/name.
	Ingresses []ObjectRef `json:"ingresses"`
	// Certificates are the certificates to serve by SNI, oldest Ingress
	// first.
	Certificates []certs.Certificate `json:"certificates,omitempty"`
	// DefaultCertificate, when set, replaces the generated default.
	DefaultCertificate *certs.Certificate `json:"defaultCertificate,omitempty"`
	// ACMEHosts are host sets whose certificates come from the ACME CA.
	ACMEHosts []ACMEHost `json:"acmeHosts,omitempty"`
	// Problems are sorted by object, then field.
	Problems []Problem `json:"problems,omitempty"`

	// GatewayClasses, Gateways and HTTPRoutes hold the desired status of
	// every Gateway API object Portico owns or routes for, in name order.
	// Conditions carry no timestamps; the writer sets them.
	GatewayClasses []GatewayClassStatus `json:"gatewayClasses,omitempty"`
	Gateways       []GatewayStatus      `json:"gateways,omitempty"`
	HTTPRoutes     []RouteStatus        `json:"httpRoutes,omitempty"`
	GRPCRoutes     []RouteStatus        `json:"grpcRoutes,omitempty"`
	TLSRoutes      []RouteStatus        `json:"tlsRoutes,omitempty"`
	TCPRoutes      []RouteStatus        `json:"tcpRoutes,omitempty"`
	// BackendTLSPolicies holds every policy's ancestor status (none when
	// no route of Portico's Gateways uses its Service).
	BackendTLSPolicies []PolicyStatus `json:"backendTLSPolicies,omitempty"`
	// SecurityPolicies and TrafficPolicies hold every such policy's
	// ancestor status.
	SecurityPolicies []PolicyStatus `json:"securityPolicies,omitempty"`
	TrafficPolicies  []PolicyStatus `json:"trafficPolicies,omitempty"`
	// IstioObjects are the Istio Gateways, VirtualServices and
	// DestinationRules Portico acts on (whose status it writes).
	IstioObjects []ObjectRef `json:"istioObjects,omitempty"`
	// GatewayListeners are the client-facing listeners Gateways need.
	GatewayListeners []GatewayListener `json:"gatewayListeners,omitempty"`
}

// GatewayClassStatus is the status Portico wants on a GatewayClass.
type GatewayClassStatus struct {
	Name   string                       `json:"name"`
	Status gatewayv1.GatewayClassStatus `json:"status"`
}

// GatewayStatus is the status Portico wants on a Gateway, without
// addresses: those come from where its listeners are bound.
type GatewayStatus struct {
	Ref    ObjectRef               `json:"ref"`
	Status gatewayv1.GatewayStatus `json:"status"`
}

// RouteStatus is the status of a route for the parents Portico owns.
type RouteStatus struct {
	Ref     ObjectRef                     `json:"ref"`
	Parents []gatewayv1.RouteParentStatus `json:"parents"`
}

// GatewayListener is one port a Gateway listens on. Key is the
// router.Route.Listener of the routes served there.
type GatewayListener struct {
	Key      string                 `json:"key"`
	Gateway  ObjectRef              `json:"gateway"`
	Port     int32                  `json:"port"`
	Protocol gatewayv1.ProtocolType `json:"protocol"`
	// Address is the Gateway's requested spec.addresses IP, if any.
	Address string `json:"address,omitempty"`
	// Labels and Annotations come from the Gateway's spec.infrastructure,
	// for the resources made for it (its Service).
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// ServiceType, from the parameters ConfigMap of the Gateway or its
	// class, overrides the controller's default Service type.
	ServiceType string `json:"serviceType,omitempty"`
	// ProxyProtocol, from the TrafficPolicy of the Gateway or its
	// listeners on this port, requires a PROXY header on every connection.
	ProxyProtocol *router.ProxyProtocol `json:"proxyProtocol,omitempty"`
	// TLS says the port terminates TLS with Certificates: by listener
	// hostname, and one without hosts as the port's default. A TLS-protocol
	// port without it passes TLS through.
	TLS          bool                `json:"tls,omitempty"`
	Certificates []certs.Certificate `json:"certificates,omitempty"`
	// Hostnames are the hostnames of the Gateway listeners that terminate
	// TLS on the port ("" for a listener without one).
	Hostnames []string `json:"hostnames,omitempty"`
}

// ACMEHost is a set of hosts to obtain one certificate for.
type ACMEHost struct {
	Hosts  []string  `json:"hosts"`
	Source ObjectRef `json:"source"`
}

// HasErrors reports whether any problem is an error, or any Gateway API
// status has an unhealthy condition.
func (r *Result) HasErrors() bool {
	for _, p := range r.Problems {
		if p.Severity == SeverityError {
			return true
		}
	}
	for _, ps := range [][]PolicyStatus{r.SecurityPolicies, r.TrafficPolicies} {
		for _, p := range ps {
			for _, a := range p.Ancestors {
				if anyUnhealthy(a.Conditions) {
					return true
				}
			}
		}
	}
	for _, g := range r.Gateways {
		if anyUnhealthy(g.Status.Conditions) {
			return true
		}
		for _, l := range g.Status.Listeners {
			if anyUnhealthy(l.Conditions) {
				return true
			}
		}
	}
	for _, rt := range r.RouteStatuses() {
		for _, p := range rt.Parents {
			if anyUnhealthy(p.Conditions) {
				return true
			}
		}
	}
	return false
}

// Unhealthy reports whether a Gateway API condition says something is
// wrong: Conflicted true, or any other condition false.
func Unhealthy(c metav1.Condition) bool {
	if c.Type == string(gatewayv1.ListenerConditionConflicted) {
		return c.Status == metav1.ConditionTrue
	}
	return c.Status != metav1.ConditionTrue
}

func anyUnhealthy(cs []metav1.Condition) bool {
	for _, c := range cs {
		if Unhealthy(c) {
			return true
		}
	}
	return false
}

// RouteStatuses returns the statuses of every route kind.
func (r *Result) RouteStatuses() []RouteStatus {
	return slices.Concat(r.HTTPRoutes, r.GRPCRoutes, r.TLSRoutes, r.TCPRoutes)
}
