// Package translate owns the pure translation from a Snapshot of Kubernetes
// objects to what Portico serves: a router.Config, the objects Portico owns,
// and every problem found, each naming its object and field path.
//
// Translate uses no client, no clock and no logging, and never modifies its
// input: the same Snapshot always gives the same Result.
//
// Each API is translated by its own processor, which embeds a pointer to
// one shared core, common (translate.go): the Snapshot, the Options, the
// Result being built, the backend resolver (backends.go, backendtls.go:
// Services, EndpointSlices and the BackendTLSPolicies that apply to them),
// the Secrets with secretCertificate, problem, and defaultCertificate. A
// processor holds only its API's state:
//
//   - ingressProcessor (ingress.go, ingress_tls.go, ingress_default.go):
//     host and path claims, the Ingress default backend, TLS hosts and the
//     HTTP→HTTPS redirect pass over Ingress routes, the controller's default
//     backend.
//   - gatewayProcessor (gateway.go, gateway_*.go, httproute.go,
//     grpcroute.go, l4routes.go, frontendtls.go, parameters.go, refs.go,
//     filters.go): GatewayClasses, Gateways, their routes and statuses, and
//     the status of BackendTLSPolicies.
//   - istioProcessor (istio.go, istio_*.go): Istio Gateways, VirtualServices
//     and DestinationRules.
//
// Translate runs them in a fixed order: Ingresses, the Gateway API, Istio,
// then the Ingress redirect pass, the controller's default backend and the
// default certificate. Precedence between objects, in every API, is the one
// oldest-first comparator in precedence.go.
//
// Engine (engine*.go) is the incremental form the controller and standalone
// use: it holds the objects, keeps each Ingress's translation as a fragment
// (the ingressProcessor run on one Ingress, its cross-Ingress decisions left
// open), decides claims, the default backend and redirects across fragments
// in engineIndex, and patches the hosts that changed into the last
// router.Table. Translate stays the reference it is tested against.
package translate
