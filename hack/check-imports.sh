#!/usr/bin/env bash
# The data plane stays free of Kubernetes: router and tls must not import
# any k8s.io or sigs.k8s.io package (DESIGN.md, import rules).
set -euo pipefail
cd "$(dirname "$0")/.."
bad=$(go list -deps ./router/... ./tls/... | grep -E '^(k8s\.io|sigs\.k8s\.io)/' || true)
if [ -n "$bad" ]; then
  echo "check-imports: router/tls import Kubernetes packages:" >&2
  echo "$bad" >&2
  exit 1
fi
echo "check-imports: router and tls import no Kubernetes packages"
