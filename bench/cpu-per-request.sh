#!/usr/bin/env bash
# Client CPU per request, the steady measure of an HTTP/1.1 client on a machine whose two
# cores the client and the server share (requests/s there swing with the scheduler): one GET,
# 50 keep-alive connections, nginx (one worker), 5 s per run; wrk and `loadtape run`
# alternated ROUNDS times, each client's user + system CPU (GNU time) divided by the
# requests it made. Give a second loadtape binary (OTHER, e.g. a build of an earlier commit)
# to measure it in the same rounds: before and after a change, side by side.
# Needs: nginx, wrk, curl, GNU time (/usr/bin/time: Debian `time`), python3.
# Usage: bench/cpu-per-request.sh [rounds] [OTHER-loadtape]      (default 4 rounds)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-4}
other=${2:-}
port=18081
. bench/lib.sh
bench_init
build_release

start_nginx "$port"
url=http://127.0.0.1:$port/
cat >"$work/get.yaml" <<EOF
loadtape: scenario/v1
name: one-get
steps:
  - name: get
    request: {method: GET, url: '$url'}
load: {executor: constant-vus, vus: 50, duration: 5s}
EOF

echo "== client CPU per request, one GET, 50 connections, nginx (1 worker), 5 s x $rounds rounds"
w=(); l=(); o=()
for r in $(seq "$rounds"); do
  read -r wr wc <<<"$(cpu_of '(\d+) requests in' 5 wrk -t2 -c50 -d5s "$url")"; w+=("$wc")
  read -r lr lc <<<"$(lt_cpu "$lt" "$work/get.yaml")"; l+=("$lc")
  line="round $r: wrk $wr/s ${wc} µs/req | loadtape $lr/s ${lc} µs/req"
  if [ -n "$other" ]; then
    read -r or oc <<<"$(lt_cpu "$other" "$work/get.yaml")"; o+=("$oc")
    line="$line | other $or/s ${oc} µs/req"
  fi
  echo "$line"
done
W=$(median "${w[@]}"); L=$(median "${l[@]}")
echo "median CPU per request: wrk $W µs, loadtape $L µs (loadtape ÷ wrk $(python3 -c "print(round($L / $W, 3))"))"
if [ -n "$other" ]; then
  O=$(median "${o[@]}")
  echo "other $O µs: loadtape ÷ other $(python3 -c "print(round($L / $O, 3))")"
fi
spec_row "replay, one GET: client CPU per request ÷ wrk's" "$(python3 -c "print(round($L / $W, 2))") ($L vs $W µs)" \
  "≤ 1.0" "$L <= $W"
