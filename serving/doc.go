// Package serving defines what translation hands to the data plane: the
// routing configuration, the certificates to serve by SNI, the hosts whose
// certificates come from ACME, and the client-facing listeners of Gateways,
// in plain data. It imports no Kubernetes, Gateway API or Istio package, so
// the data plane (package dataplane) and the router depend on it, and on
// nothing of the APIs that produce it.
package serving
