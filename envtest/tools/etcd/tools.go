//go:build tools

// Package etcd records the etcd server command built by `make envtest-bins`,
// so that `go mod tidy` keeps its module sums.
package etcd

import _ "go.etcd.io/etcd/server/v3"
