//go:build tools

// Package kube records the control-plane commands built by `make envtest-bins`,
// so that `go mod tidy` keeps their module sums.
package kube

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
