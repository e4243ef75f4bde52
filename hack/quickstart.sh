#!/usr/bin/env bash
# `make run`: starts two demo backends on loopback and Portico in standalone
# mode on examples/quickstart, prints curl commands, and stops everything on
# Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
HTTP=${PORTICO_HTTP:-127.0.0.1:8080}
HTTPS=${PORTICO_HTTPS:-127.0.0.1:8443}
ADMIN=${PORTICO_ADMIN:-127.0.0.1:10256}

pids=()
cleanup() {
  trap - INT TERM EXIT
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "quickstart stopped"
}
trap cleanup INT TERM EXIT

bin/demo-backend -listen 127.0.0.1:9001 -name blue & pids+=($!)
bin/demo-backend -listen 127.0.0.1:9002 -name green & pids+=($!)
bin/portico standalone --manifests examples/quickstart \
  --http-addr "$HTTP" --https-addr "$HTTPS" --admin-addr "$ADMIN" & pids+=($!)

for _ in $(seq 1 50); do
  curl -fsS "http://$ADMIN/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done

cat <<TXT

Portico is serving examples/quickstart on http://$HTTP and https://$HTTPS.
Try:
  curl -H 'Host: blue.example.com'  http://$HTTP/
  curl -H 'Host: green.example.com' http://$HTTP/hello
  curl -H 'Host: shop.example.com'  http://$HTTP/api/items     # green (Prefix /api)
  curl -H 'Host: shop.example.com'  http://$HTTP/apiary        # blue (/api is element-wise)
  curl -H 'Host: shop.example.com'  http://$HTTP/status        # green (Exact)
  curl -H 'Host: nowhere.example'   http://$HTTP/              # 404
  curl -k --resolve shop.example.com:${HTTPS##*:}:${HTTPS%:*} https://shop.example.com:${HTTPS##*:}/api
  bin/portico routes --manifests examples/quickstart
  curl http://$ADMIN/metrics | grep portico_
Edit a file in examples/quickstart and Portico reloads it. Ctrl-C stops everything.

TXT
wait -n
