#!/usr/bin/env bash
# Where a proxy's CPU goes, from a perf profile recorded by `PROFILE=DIR bench/peers.sh …`: the share of
# samples (self time) in the kernel, Go's runtime, net/http (its HTTP/2 server and transport),
# crypto/tls, fasthttp, Portico's own code, and the rest; then Portico's own hottest functions.
#
# Usage: bench/profile.sh FILE.perf.data [cpu-us-per-request]
#   With the request's CPU time (the row's cpu/req), shares are also printed in µs per request.
set -eu
f=$1; us=${2:-}
perf report -i "$f" --no-children --sort symbol -g none 2>/dev/null | grep -v '^#' | grep '%' |
  awk -v us="$us" '{
    p=$1; sub("%","",p); s=$3; g="other"
    if ($2=="[k]") g="kernel"
    else if (s ~ /^(runtime|internal\/runtime|aeshash|memeqbody|indexbyte|gogo|gosave)/) g="go runtime"
    else if (s ~ /^net\/http/) g="net/http (HTTP/2 server, transport)"
    else if (s ~ /^(crypto|vendor\/golang.org\/x\/crypto|golang.org\/x\/crypto)/) g="crypto (TLS)"
    else if (s ~ /fasthttp/) g="fasthttp"
    else if (s ~ /portico/) g="portico"
    else if (s ~ /^(net\.|internal\/poll|syscall|bufio|io\.)/) g="net, poll, syscall, bufio"
    t[g]+=p
  } END {
    for (k in t) { if (us != "") printf "%6.1f%%  %5.1f us  %s\n", t[k], t[k]*us/100, k; else printf "%6.1f%%  %s\n", t[k], k }
  }' | sort -nr
echo "# Portico's own hottest functions (self time)"
perf report -i "$f" --no-children --sort symbol -g none 2>/dev/null | grep -v '^#' | grep 'portico' | head -12 |
  awk '{print "  " $1 "  " $3}'
