#!/usr/bin/env bash
# HTTP/2 over TLS, side by side with h2load (nghttp2): one GET, 50 connections with one stream
# each (`h2load -m 1`; a loadtape VU holds one connection and one request at a time), against
# nginx (one worker, `listen … ssl http2`, a self-signed P-256 certificate made here), 5 s per
# run, alternated ROUNDS times; requests/s and client CPU (user + system) per request. Then
# multiplexed: 5 connections x 10 streams (`h2load -c5 -m10`; loadtape's 50 VUs sharing 5
# connections, `run --connections 5`), the same 50 requests in flight.
# h2load runs with one thread (`-t 1`): with two, its threads and nginx fight for two cores
# and it measures itself (16,500 req/s here against 24,000–31,000 with one).
# Needs: nginx, h2load (nghttp2-client), openssl, curl, GNU time (Debian `time`), python3.
# Usage: bench/h2.sh [rounds]      (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
port=18443
. bench/lib.sh
bench_init
build_release

start_nginx "$port" tls
url=https://127.0.0.1:$port/
cat >"$work/h2.yaml" <<EOF
loadtape: scenario/v1
name: one-get-h2
steps:
  - name: get
    request: {method: GET, url: '$url'}
load: {executor: constant-vus, vus: 50, duration: 5s}
EOF

# side_by_side CONNS STREAMS [loadtape args...]: h2load -cCONNS -mSTREAMS and loadtape's 50 VUs
# alternated $rounds times; the medians' ratio as a target row.
side_by_side() {
  local c=$1 m=$2 h=() l=() hr hc lr lc H L
  shift 2
  echo "== HTTP/2 over TLS, one GET, $c connections x $m streams, nginx (1 worker), 5 s x $rounds rounds"
  for r in $(seq "$rounds"); do
    read -r hr hc <<<"$(cpu_of 'requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded' 5 h2load -c"$c" -m"$m" -t1 -D 5 "$url")"
    read -r lr lc <<<"$(lt_cpu "$lt" "$work/h2.yaml" --insecure "$@")"
    h+=("$hr"); l+=("$lr")
    echo "round $r: h2load $hr/s ${hc} µs/req | loadtape $lr/s ${lc} µs/req"
  done
  H=$(median "${h[@]}"); L=$(median "${l[@]}")
  H=${H%.*}; L=${L%.*}
  spec_row "replay, HTTP/2 TLS, $c connections x $m stream(s): loadtape ÷ h2load" \
    "$(ratio "$L" "$H") ($L vs $H req/s)" "≥ 1.0" "$L >= $H"
}
side_by_side 50 1
# The same 50 requests in flight, multiplexed: 50 VUs sharing 5 connections.
side_by_side 5 10 --connections 5
