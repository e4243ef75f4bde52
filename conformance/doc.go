// Package conformance runs the official Gateway API conformance suite
// (sigs.k8s.io/gateway-api/conformance, unmodified) against Portico
// deployed in the local cluster harness. The test is built only with the
// `conformance` tag: `make conformance`.
package conformance
