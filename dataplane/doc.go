// Package dataplane owns the assembly of Portico's serving side, shared by
// controller and standalone modes: the Router, the certificate Store, the
// client-facing listeners, and Apply, which puts a serving.Model live
// (certificates before the routes that need them). It imports no
// Kubernetes, Gateway API or Istio package (hack/check-imports.sh): the
// translation hands it plain data (translate.Result.Serving).
package dataplane
