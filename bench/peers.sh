#!/usr/bin/env bash
# Portico's data plane side by side with nginx and HAProxy (and, when built, Caddy and the bare Go
# proxies of ../shared/bench): one nginx backend, each proxy pinned to CPU 0, wrk and the backend on
# CPU 1, keep-alive everywhere. Prints one row per proxy and appends them as JSON to bench/results/.
#
# Usage: bench/peers.sh [seconds] [connections] [body-bytes]
#   PORTICO=bin/portico (default) is run twice: --http1-engine=fast and --http1-engine=std.
#   PEERS_BIN (default ~/.cache/portico-peers/bin) may hold caddy, goproxy and fastproxy.
set -u
D=${1:-10}; C=${2:-64}; BODY=${3:-3}
here=$(cd "$(dirname "$0")" && pwd)
PORTICO=${PORTICO:-$here/../bin/portico}
PB=${PEERS_BIN:-$HOME/.cache/portico-peers/bin}
run=$(mktemp -d -t portico-peers-XXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; sleep 0.5; rm -rf "$run"; }
trap cleanup EXIT
BACK=9300
mkdir -p "$run/logs" "$run/www" "$run/portico"
head -c "$BODY" /dev/zero | tr '\0' 'x' >"$run/www/index.html"
chmod a+rx "$run" "$run/www"; chmod a+r "$run/www/index.html"  # nginx workers run unprivileged

cat >"$run/backend.conf" <<NG
worker_processes 1; daemon off; pid $run/backend.pid; error_log $run/logs/backend.err;
events { worker_connections 8192; }
http { access_log off; server { listen 127.0.0.1:$BACK reuseport; keepalive_requests 10000000;
  location / { root $run/www; index index.html; } } }
NG
taskset -c 1 nginx -c "$run/backend.conf" -p "$run" & pids+=($!); pid_backend=$!

cat >"$run/nginx.conf" <<NG
worker_processes 1; daemon off; pid $run/nginx.pid; error_log $run/logs/nginx.err;
events { worker_connections 8192; }
http { access_log off; upstream be { server 127.0.0.1:$BACK; keepalive 256; keepalive_requests 10000000; }
  server { listen 127.0.0.1:9301; keepalive_requests 10000000; server_name bench.test;
    location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
NG
taskset -c 0 nginx -c "$run/nginx.conf" -p "$run" & pids+=($!); pid_nginx=$!

cat >"$run/haproxy.cfg" <<HA
global
  nbthread 1
  maxconn 8192
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  http-reuse always
frontend fe
  bind 127.0.0.1:9302
  default_backend be
backend be
  server s1 127.0.0.1:$BACK
HA
taskset -c 0 haproxy -f "$run/haproxy.cfg" -db & pids+=($!); pid_haproxy=$!

pid_fastproxy=; pid_goproxy=
if [ -x "$PB/fastproxy" ]; then
  taskset -c 0 "$PB/fastproxy" 127.0.0.1:9306 "127.0.0.1:$BACK" & pids+=($!); pid_fastproxy=$!
fi
if [ -x "$PB/goproxy" ]; then
  taskset -c 0 "$PB/goproxy" 127.0.0.1:9307 "http://127.0.0.1:$BACK" & pids+=($!); pid_goproxy=$!
fi

cat >"$run/portico/bench.yaml" <<PO
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: portico}
spec: {controller: portico.dev/ingress-controller}
---
apiVersion: v1
kind: Service
metadata: {name: be, namespace: default}
spec: {ports: [{name: http, port: 80, targetPort: $BACK}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: be-1, namespace: default, labels: {kubernetes.io/service-name: be}}
addressType: IPv4
endpoints: [{addresses: [127.0.0.1], conditions: {ready: true}}]
ports: [{name: http, port: $BACK, protocol: TCP}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: bench, namespace: default}
spec:
  ingressClassName: portico
  rules: [{host: bench.test, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: be, port: {number: 80}}}}]}}]
PO
taskset -c 0 "$PORTICO" standalone --manifests "$run/portico" --http-addr 127.0.0.1:9303 --https-addr "" \
  --admin-addr 127.0.0.1:9313 --shutdown-delay 0s --http1-engine fast >"$run/logs/portico-fast.log" 2>&1 & pids+=($!); pid_pfast=$!
taskset -c 0 "$PORTICO" standalone --manifests "$run/portico" --http-addr 127.0.0.1:9304 --https-addr "" \
  --admin-addr 127.0.0.1:9314 --shutdown-delay 0s --http1-engine std >"$run/logs/portico-std.log" 2>&1 & pids+=($!); pid_pstd=$!
sleep 3

cputicks() { # utime+stime (clock ticks) of a process and its children (nginx's worker)
  local t=0 p
  for p in $1 $(pgrep -P "$1" 2>/dev/null); do
    [ -r "/proc/$p/stat" ] && t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat")))
  done
  echo $t
}
stamp=$(date -u +%FT%TZ)
results="$here/results/peers-$(date -u +%Y%m%dT%H%M%SZ)-c$C-b$BODY.json"
row() { # name port pid
  local out rps p50 p99 p999 c0 c1 us
  curl -s -o /dev/null -w '%{http_code}' -H 'Host: bench.test' "http://127.0.0.1:$2/" | grep -q 200 ||
    { printf '%-12s not answering 200\n' "$1"; return; }
  taskset -c 1 wrk -t1 -c"$C" -d2s -H 'Host: bench.test' "http://127.0.0.1:$2/" >/dev/null 2>&1
  c0=$(cputicks "$3")
  out=$(taskset -c 1 wrk -t1 -c"$C" -d"${D}s" --latency -H 'Host: bench.test' "http://127.0.0.1:$2/" 2>&1)
  c1=$(cputicks "$3")
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  errs=$(echo "$out" | grep -E 'Non-2xx|Socket errors' | tr -s ' ' | tr '\n' ' ')
  us=$(awk -v t=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v r="$rps" -v d="$D" 'BEGIN{ if (r>0) printf "%.1f", t/hz*1e6/(r*d); else print "nan" }')
  printf '%-12s rps %10s  p50 %8s  p99 %8s  cpu/req %6s us %s\n' "$1" "$rps" "$p50" "$p99" "$us" "$errs"
  printf '{"time":"%s","proxy":"%s","connections":%s,"body_bytes":%s,"seconds":%s,"rps":%s,"p50":"%s","p99":"%s","cpu_us_per_req":%s,"errors":"%s"}\n' \
    "$stamp" "$1" "$C" "$BODY" "$D" "${rps:-0}" "$p50" "$p99" "$us" "$errs" >>"$results"
}
echo "# $stamp wrk -t1 -c$C -d${D}s, body ${BODY} B; proxy on CPU 0, backend+wrk on CPU 1; $(nproc) CPUs, $(awk '/model name/ {$1=$2=$3=""; print; exit}' /proc/cpuinfo)"
row nginx 9301 $pid_nginx
row haproxy 9302 $pid_haproxy
[ -n "$pid_fastproxy" ] && row go-fasthttp 9306 $pid_fastproxy
[ -n "$pid_goproxy" ] && row go-httputil 9307 $pid_goproxy
row portico 9303 $pid_pfast
row portico-std 9304 $pid_pstd
echo "# results appended to ${results#$here/../}"
exit 0
