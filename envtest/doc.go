// Package harness owns Portico's integration-test machinery: starting a real
// kube-apiserver and etcd (built by `make envtest-bins`), test hosts in
// network namespaces whose addresses EndpointSlices accept, and the local
// cluster (StartCluster, StartDevCluster): kube-controller-manager, a pod
// runner standing in for the kubelet, and a loopback LoadBalancer provider,
// used by `make run-cluster` and `make conformance`. The tests in this
// directory run Portico against the control plane.
package harness
