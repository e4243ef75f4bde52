#!/usr/bin/env bash
# Builds the control-plane binaries used by integration tests (kube-apiserver,
# etcd, kubectl when the system has none, and kube-controller-manager when
# PORTICO_ENVTEST_KCM=1) from the Go module proxy into a cache outside
# the clone, skipping any binary that is already there. Prints the directory.
#
#   PORTICO_ENVTEST_DIR  where to put them (default ~/.cache/portico/k8s-1.37.2)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${PORTICO_ENVTEST_DIR:-$HOME/.cache/portico/k8s-1.37.2}
mkdir -p "$out"

build() { # build NAME MODULE_DIR PACKAGE
  local name=$1 dir=$2 pkg=$3
  if [ -x "$out/$name" ]; then return; fi
  echo "envtest-bins: building $name (this takes minutes once; cached in $out)" >&2
  local start=$SECONDS
  (cd "$root/$dir" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags='-s -w' -o "$out/$name.tmp" "$pkg")
  mv "$out/$name.tmp" "$out/$name"
  echo "envtest-bins: $name built in $((SECONDS - start))s" >&2
}

build etcd envtest/tools/etcd go.etcd.io/etcd/server/v3
build kube-apiserver envtest/tools/kube k8s.io/kubernetes/cmd/kube-apiserver
# kubectl renders and applies the manifests in tests; use the system's when
# there is one.
if ! command -v kubectl >/dev/null 2>&1; then
  build kubectl envtest/tools/kube k8s.io/kubernetes/cmd/kubectl
fi
if [ "${PORTICO_ENVTEST_KCM:-0}" = 1 ]; then
  build kube-controller-manager envtest/tools/kube k8s.io/kubernetes/cmd/kube-controller-manager
fi
echo "$out"
