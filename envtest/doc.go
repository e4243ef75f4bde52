// Package harness owns Portico's integration-test machinery: starting a real
// kube-apiserver and etcd (built by `make envtest-bins`), and test hosts in
// network namespaces whose addresses EndpointSlices accept. The tests in this
// directory run Portico against them.
package harness
