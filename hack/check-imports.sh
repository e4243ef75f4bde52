#!/usr/bin/env bash
# The data plane stays free of Kubernetes: router, tls, serving and dataplane
# must not import any k8s.io, sigs.k8s.io or istio.io package, nor Portico's
# controllers (DESIGN.md, import rules).
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=(./router/... ./tls/... ./serving/... ./dataplane/...)
bad=$(go list -deps "${pkgs[@]}" | grep -E '^(k8s\.io|sigs\.k8s\.io|istio\.io)/|^github\.com/portico-dev/portico/controllers' || true)
if [ -n "$bad" ]; then
  echo "check-imports: ${pkgs[*]} import Kubernetes, Istio or controller packages:" >&2
  echo "$bad" >&2
  exit 1
fi
echo "check-imports: router, tls, serving and dataplane import no Kubernetes, Istio or controller package"
