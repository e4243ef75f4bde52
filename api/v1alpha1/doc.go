// Package v1alpha1 holds Portico's own API (group portico.dev, version
// v1alpha1): the SecurityPolicy and TrafficPolicy resources that attach
// API-gateway policies (authentication, authorization, rate limits, body
// limits) to Gateways, their listeners, HTTPRoutes and GRPCRoutes (or one
// named rule) and Ingresses, by Gateway API policy attachment (GEP-713).
// The types carry kubebuilder markers; `make manifests` generates their
// deep copies and CRDs (manifests/portico/).
//
// +kubebuilder:object:generate=true
// +groupName=portico.dev
package v1alpha1
