#!/usr/bin/env bash
# Copies the Gateway API CRDs of the pinned sigs.k8s.io/gateway-api module
# (standard and experimental channels) into manifests/gateway-api/. Run by
# `make crds` after changing the pinned version; the copies are committed so
# `kubectl apply -k manifests/gateway-api/standard` works from a clone.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(go list -m -f '{{.Dir}}' sigs.k8s.io/gateway-api)
version=$(go list -m -f '{{.Version}}' sigs.k8s.io/gateway-api)
for channel in standard experimental; do
  dst=manifests/gateway-api/$channel
  rm -rf "$dst"
  mkdir -p "$dst"
  files=()
  for f in "$src"/config/crd/$channel/*.yaml; do
    name=$(basename "$f")
    [ "$name" = kustomization.yaml ] && continue
    cp "$f" "$dst/$name"
    chmod 644 "$dst/$name"
    files+=("$name")
  done
  {
    echo "# Gateway API $version CRDs, $channel channel, copied from the module by hack/gateway-crds.sh."
    echo "apiVersion: kustomize.config.k8s.io/v1beta1"
    echo "kind: Kustomization"
    echo "resources:"
    for n in "${files[@]}"; do echo "- $n"; done
  } > "$dst/kustomization.yaml"
done
echo "copied Gateway API $version CRDs into manifests/gateway-api/"
