#!/usr/bin/env bash
# Portico's data plane side by side with nginx and HAProxy (and, when built, the bare Go proxies of
# ../shared/bench): one nginx backend, each proxy pinned to CPU 0, the load generator and the backend on
# CPU 1, keep-alive everywhere. Prints one row per proxy and appends them as JSON to bench/results/.
#
# Usage: bench/peers.sh [seconds] [connections] [body-bytes] [mode]
#   mode h1 (default): HTTP/1.1 keep-alive with wrk (nginx, HAProxy, bare Go proxies, Portico on both engines).
#   mode https: HTTPS keep-alive with wrk (TLS 1.3, ECDSA P-256; nginx, HAProxy, Portico).
#   mode handshake: new TLS 1.3 connections, each a full handshake (no resumption), with bench/hsload
#     (HSLOAD, built into bin/ by make bench-peers); cpu/req is then the proxy's CPU per handshake.
#   mode h2: HTTP/2 over TLS with h2load, [connections] connections x 8 streams.
#   mode rate: HTTP/1.1 at a fixed rate with bench/rateload (RATELOAD, built into bin/ by make bench-peers)
#     over [connections] keep-alive connections, at half of nginx's maximum rate measured first in the same
#     run with wrk (RATE overrides it); prints p50/p99/p99.9 latencies from each request's due time
#     (coordinated omission corrected) and how late rateload's own pacer was ("gen-late p99.9").
#   SYSCALLS=1 counts each proxy's system calls (perf's raw_syscalls tracepoint) and adds "sys/req".
#   PROFILE=DIR records a perf profile of each Portico row into DIR (perf's own cost then counts in its
#     cpu/req; read it with perf report -i FILE --no-children).
#   PORTICO=bin/portico (default); PORTICO_BASE=FILE adds a row "portico-base" for another build (fast
#   engine), to compare a change with its base in one run; PEERS_BIN (default ~/.cache/portico-peers/bin) may hold goproxy and
#   fastproxy.
# "bench.test" must resolve to 127.0.0.1 for the TLS modes (clients send it as the TLS server name, and
# Portico answers 421 when the server name and Host disagree); the script adds it to /etc/hosts if missing.
set -u
D=${1:-10}; C=${2:-64}; BODY=${3:-3}; MODE=${4:-h1}
here=$(cd "$(dirname "$0")" && pwd)
PORTICO=${PORTICO:-$here/../bin/portico}
PB=${PEERS_BIN:-$HOME/.cache/portico-peers/bin}
RATELOAD=${RATELOAD:-$here/../bin/rateload}
HSLOAD=${HSLOAD:-$here/../bin/hsload}
run=$(mktemp -d -t portico-peers-XXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; sleep 0.5; rm -rf "$run"; }
trap cleanup EXIT
BACK=9300
mkdir -p "$run/logs" "$run/www" "$run/portico"
head -c "$BODY" /dev/zero | tr '\0' 'x' >"$run/www/index.html"
chmod a+rx "$run" "$run/www"; chmod a+r "$run/www/index.html"  # nginx workers run unprivileged

tls=false
case $MODE in
  h1|rate) scheme=http ;;
  https|handshake|h2) scheme=https; tls=true ;;
  *) echo "unknown mode $MODE (h1, https, handshake, h2, rate)" >&2; exit 2 ;;
esac
if $tls; then
  grep -qE '^127\.0\.0\.1[[:space:]].*\bbench\.test\b' /etc/hosts || echo '127.0.0.1 bench.test' >>/etc/hosts
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench.test \
    -addext subjectAltName=DNS:bench.test -keyout "$run/key.pem" -out "$run/cert.pem" 2>/dev/null
  chmod a+r "$run/key.pem" "$run/cert.pem"
  cat "$run/cert.pem" "$run/key.pem" >"$run/haproxy.pem"
fi

cat >"$run/backend.conf" <<NG
worker_processes 1; daemon off; pid $run/backend.pid; error_log $run/logs/backend.err;
events { worker_connections 8192; }
http { access_log off; server { listen 127.0.0.1:$BACK reuseport; keepalive_requests 10000000;
  location / { root $run/www; index index.html; } } }
NG
taskset -c 1 nginx -c "$run/backend.conf" -p "$run" & pids+=($!)

listen="listen 127.0.0.1:9301;"
$tls && listen="listen 127.0.0.1:9301 ssl http2; ssl_certificate $run/cert.pem; ssl_certificate_key $run/key.pem;
    ssl_protocols TLSv1.3; ssl_session_tickets off; ssl_session_cache off; http2_max_concurrent_streams 250;"
cat >"$run/nginx.conf" <<NG
worker_processes 1; daemon off; pid $run/nginx.pid; error_log $run/logs/nginx.err;
events { worker_connections 8192; }
http { access_log off; upstream be { server 127.0.0.1:$BACK; keepalive 256; keepalive_requests 10000000; }
  server { $listen keepalive_requests 10000000; server_name bench.test;
    location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
NG
taskset -c 0 nginx -c "$run/nginx.conf" -p "$run" & pids+=($!); pid_nginx=$!

bind="bind 127.0.0.1:9302"
$tls && bind="bind 127.0.0.1:9302 ssl crt $run/haproxy.pem alpn h2,http/1.1 ssl-min-ver TLSv1.3 no-tls-tickets"
cat >"$run/haproxy.cfg" <<HA
global
  nbthread 1
  maxconn 8192
  tune.ssl.cachesize 0
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  http-reuse always
frontend fe
  $bind
  default_backend be
backend be
  server s1 127.0.0.1:$BACK
HA
taskset -c 0 haproxy -f "$run/haproxy.cfg" -db & pids+=($!); pid_haproxy=$!

pid_fastproxy=; pid_goproxy=
if [ "$MODE" = h1 ] && [ -x "$PB/fastproxy" ]; then
  taskset -c 0 "$PB/fastproxy" 127.0.0.1:9306 "127.0.0.1:$BACK" & pids+=($!); pid_fastproxy=$!
fi
if [ "$MODE" = h1 ] && [ -x "$PB/goproxy" ]; then
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
metadata: {name: bench, namespace: default, annotations: {portico.dev/ssl-redirect: "false"}}
spec:
  ingressClassName: portico
$($tls && echo '  tls: [{hosts: [bench.test], secretName: bench-tls}]')
  rules: [{host: bench.test, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: be, port: {number: 80}}}}]}}]
PO
if $tls; then
  cat >>"$run/portico/bench.yaml" <<PO
---
apiVersion: v1
kind: Secret
metadata: {name: bench-tls, namespace: default}
type: kubernetes.io/tls
data:
  tls.crt: $(base64 -w0 "$run/cert.pem")
  tls.key: $(base64 -w0 "$run/key.pem")
PO
fi
portico() { # name engine http-port https-port admin-port [binary]
  taskset -c 0 "${6:-$PORTICO}" standalone --manifests "$run/portico" --http-addr "127.0.0.1:$3" --https-addr "$4" \
    --admin-addr "127.0.0.1:$5" --shutdown-delay 0s --http1-engine "$2" >"$run/logs/$1.log" 2>&1 &
}
if $tls; then
  portico portico fast 9333 127.0.0.1:9303 9313; pids+=($!); pid_pfast=$!
else
  portico portico fast 9303 "" 9313; pids+=($!); pid_pfast=$!
  if [ "$MODE" = h1 ]; then portico portico-std std 9304 "" 9314; pids+=($!); pid_pstd=$!; fi
fi
pid_pbase=
if [ -n "${PORTICO_BASE:-}" ]; then
  if $tls; then portico portico-base fast 9335 127.0.0.1:9305 9315 "$PORTICO_BASE"
  else portico portico-base fast 9305 "" 9315 "$PORTICO_BASE"; fi
  pids+=($!); pid_pbase=$!
fi
sleep 3

cputicks() { # utime+stime (clock ticks) of a process and its children (nginx's worker)
  local t=0 p
  for p in $1 $(pgrep -P "$1" 2>/dev/null); do
    [ -r "/proc/$p/stat" ] && t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat")))
  done
  echo $t
}
stamp=$(date -u +%FT%TZ)
results="$here/results/peers-$(date -u +%Y%m%dT%H%M%SZ)-$MODE-c$C-b$BODY.json"
url() { echo "$scheme://bench.test:$1/"; }
# load PORT SECONDS: runs the mode's load generator and sets rps, p50, p99, p999 (for rate) and errs.
load() {
  local out p=$1 s=$2
  p999=; late=
  case $MODE in
    h1|https)
      out=$(taskset -c 1 wrk -t1 -c"$C" -d"${s}s" --latency -H 'Host: bench.test' "$(hosturl "$p")" 2>&1) ;;
    handshake)
      # bench/hsload: full handshakes only (wrk would resume sessions), [connections] at a time.
      out=$(taskset -c 1 "$HSLOAD" -addr "127.0.0.1:$p" -sni bench.test -c "$C" -d "${s}s" 2>&1)
      rps=$(echo "$out" | awk -v s="$s" '/^handshakes/ {printf "%.1f", $2/s}')
      p50=; p99=
      errs=$(echo "$out" | awk '/^handshakes/ && $4 > 0 {print "failed", $4}')
      return ;;
    h2)
      out=$(taskset -c 1 h2load -c"$C" -m8 -D"$s" "$(url "$p")" 2>&1)
      rps=$(echo "$out" | awk '/^finished in/ {print $4}')
      p50=; p99=
      errs=$(echo "$out" | awk '/^requests:/ {print "failed", $10, "errored", $12}')
      echo "$out" | awk '/^status codes:/ && $3+0 == 0 {exit 1}' || errs="$errs no-2xx"
      return ;;
    rate)
      out=$(taskset -c 1 "$RATELOAD" -addr "127.0.0.1:$p" -host bench.test -rate "$RATE" -c "$C" -d "${s}s" 2>&1)
      read -r p50 p99 p999 <<<"$(echo "$out" | awk '/^latency_ms/ {print $3 "ms", $7 "ms", $9 "ms"}')"
      late=$(echo "$out" | awk '/^pacer_late_ms/ {print $7 "ms"}')
      rps=$(echo "$out" | awk '/^requests/ {printf "%.1f", $4/$12}')
      errs=$(echo "$out" | awk '/^requests/ && $6+$8+$10+$14 > 0 {print "failed", $6, "non2xx", $8, "unsent", $10, "unanswered", $14}
        /^rateload:/ {print}')
      return ;;
  esac
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  errs=$(echo "$out" | grep -E 'Non-2xx|Socket errors' | tr -s ' ' | tr '\n' ' ')
}
hosturl() { if $tls; then url "$1"; else echo "http://127.0.0.1:$1/"; fi; }
row() { # name port pid
  local c0 c1 us code
  code=$(curl -sk -o /dev/null -w '%{http_code}' -H 'Host: bench.test' "$(hosturl "$2")")
  [ "$code" = 200 ] || { printf '%-12s not answering 200 (%s)\n' "$1" "$code"; return; }
  load "$2" 2 >/dev/null
  local perfpid=
  if [ -n "${PROFILE:-}" ] && [ "${1%%-*}" = portico ]; then
    mkdir -p "$PROFILE"
    perf record -q -F 499 -g -p "$3" -o "$PROFILE/$MODE-c$C-b$BODY-$1.perf.data" -- sleep "$D" 2>/dev/null & perfpid=$!
  fi
  local scpid= scfile= sys=
  if [ -n "${SYSCALLS:-}" ]; then
    scfile=$(mktemp)
    perf stat -x, -e raw_syscalls:sys_enter -p "$(pgrep -P "$3" | tr '\n' , ; echo "$3")" -o "$scfile" -- sleep "$D" 2>/dev/null & scpid=$!
  fi
  c0=$(cputicks "$3")
  load "$2" "$D"
  c1=$(cputicks "$3")
  [ -n "$perfpid" ] && wait "$perfpid"
  if [ -n "$scpid" ]; then
    wait "$scpid"
    sys=$(awk -F, -v r="$rps" -v d="$D" '/raw_syscalls/ { if (r>0) printf "%.2f", $1/(r*d) }' "$scfile")
    rm -f "$scfile"
  fi
  us=$(awk -v t=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v r="$rps" -v d="$D" 'BEGIN{ if (r>0) printf "%.1f", t/hz*1e6/(r*d); else print "nan" }')
  printf '%-12s rps %10s  p50 %8s  p99 %8s%s  cpu/req %6s us%s %s\n' "$1" "$rps" "$p50" "$p99" "${p999:+  p99.9 $p999}${late:+ (gen-late p99.9 $late)}" "$us" "${sys:+  sys/req $sys}" "$errs"
  printf '{"time":"%s","mode":"%s","proxy":"%s","connections":%s,"body_bytes":%s,"seconds":%s,"rps":%s,"p50":"%s","p99":"%s","p999":"%s","gen_late_p999":"%s","cpu_us_per_req":%s,"syscalls_per_req":"%s","errors":"%s"}\n' \
    "$stamp" "$MODE" "$1" "$C" "$BODY" "$D" "${rps:-0}" "$p50" "$p99" "$p999" "$late" "$us" "$sys" "$errs" >>"$results"
}
gen="wrk -t1 -c$C -d${D}s"
case $MODE in
  h2) gen="h2load -c$C -m8 -D$D" ;;
  handshake) gen="hsload -c$C -d${D}s (full TLS 1.3 handshakes, no request)" ;;
esac
if [ "$MODE" = rate ]; then
  [ -x "$RATELOAD" ] || { echo "rateload not found at $RATELOAD (go build -o bin/rateload ./bench/rateload)" >&2; exit 1; }
  max=$(taskset -c 1 wrk -t1 -c64 -d"${D}s" -H 'Host: bench.test' "http://127.0.0.1:9301/" | awk '/Requests\/sec/ {printf "%d", $2}')
  RATE=${RATE:-$((max / 2))}
  gen="rateload at $RATE/s (nginx's maximum with wrk -c64: $max/s), $C connections, ${D}s"
fi
echo "# $stamp $MODE: $gen, body ${BODY} B; proxy on CPU 0, backend+load on CPU 1; $(nproc) CPUs, $(awk '/model name/ {$1=$2=$3=""; print; exit}' /proc/cpuinfo)"
row nginx 9301 "$pid_nginx"
[ "$MODE" != rate ] && row haproxy 9302 "$pid_haproxy"
[ -n "$pid_fastproxy" ] && row go-fasthttp 9306 "$pid_fastproxy"
[ -n "$pid_goproxy" ] && row go-httputil 9307 "$pid_goproxy"
[ -n "$pid_pbase" ] && row portico-base 9305 "$pid_pbase"
row portico 9303 "$pid_pfast"
[ "$MODE" = h1 ] && row portico-std 9304 "$pid_pstd"
echo "# results appended to ${results#"$here"/../}"
exit 0
