package controllers

// The RBAC rules below are everything Portico needs; `make manifests` turns
// them into manifests/base/rbac/role.yaml with controller-gen.

// +kubebuilder:rbac:groups=networking.k8s.io,resources=ingressclasses;ingresses,verbs=get;list;watch
// +kubebuilder:rbac:groups=networking.k8s.io,resources=ingresses/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=services;nodes;secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update;patch;delete,namespace=portico-system
// +kubebuilder:rbac:groups="",resources=secrets,verbs=create;update;patch;delete,namespace=portico-system
// +kubebuilder:rbac:groups="",resources=services,verbs=create;update;patch;delete,namespace=portico-system
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=gatewayclasses;gateways;httproutes;grpcroutes;tlsroutes;tcproutes;referencegrants;backendtlspolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=gatewayclasses/status;gateways/status;httproutes/status;grpcroutes/status;tlsroutes/status;tcproutes/status;backendtlspolicies/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=portico.dev,resources=securitypolicies;trafficpolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=portico.dev,resources=securitypolicies/status;trafficpolicies/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=networking.istio.io,resources=gateways;virtualservices;destinationrules,verbs=get;list;watch
// +kubebuilder:rbac:groups=networking.istio.io,resources=gateways/status;virtualservices/status;destinationrules/status,verbs=get;update;patch
