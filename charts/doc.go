// Package charts holds the tests of the Helm charts in this directory
// (charts/portico): helm lint, golden `helm template` output for a few value
// sets (testdata/*.values.yaml → *.golden.yaml, regenerated with -update),
// the generated RBAC template kept in step with manifests/base/rbac, and, on
// the local cluster harness, server-side dry-run validation of every
// rendering plus helm install, upgrade and uninstall with a request routed
// through Portico after each. `make helm-test` runs them.
package charts
