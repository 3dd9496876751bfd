#!/usr/bin/env bash
# Client CPU per request, the steady measure of an HTTP/1.1 client on a machine whose two
# cores the client and the server share (requests/s there swing with the scheduler): one GET,
# 50 keep-alive connections, nginx (one worker), 5 s per run; wrk and `loadtape run`
# alternated ROUNDS times, each client's user + system CPU (GNU time) divided by the
# requests it made. Give a second loadtape binary (OTHER, e.g. a build of an earlier commit)
# to measure it in the same rounds: before and after a change, side by side.
# Needs: nginx, wrk, /usr/bin/time, python3.
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

# "requests/s µs-per-request" of one run.
wrk_run() {
  local out
  out=$({ /usr/bin/time -f "CPU %U %S" wrk -t2 -c50 -d5s "$url"; } 2>&1)
  python3 - "$out" <<'EOF'
import re, sys
t = sys.argv[1]
n = int(re.search(r"(\d+) requests in", t).group(1))
u, s = map(float, re.search(r"CPU ([\d.]+) ([\d.]+)", t).groups())
print(f"{n / 5:.0f} {(u + s) / n * 1e6:.2f}")
EOF
}
lt_run() {
  local out
  out=$({ /usr/bin/time -f "CPU %U %S" "$1" run "$work/get.yaml" --quiet --force --out "$work/r.json" >/dev/null; } 2>&1)
  python3 - "$out" "$work/r.json" <<'EOF'
import json, re, sys
u, s = map(float, re.search(r"CPU ([\d.]+) ([\d.]+)", sys.argv[1]).groups())
r = json.load(open(sys.argv[2]))
n = r["total"]["requests"]
assert r["total"]["errors"] == 0, r["total"]["errors_by_kind"]
print(f"{n / r['duration_s']:.0f} {(u + s) / n * 1e6:.2f}")
EOF
}

echo "== client CPU per request, one GET, 50 connections, nginx (1 worker), 5 s x $rounds rounds"
w=(); l=(); o=()
for r in $(seq "$rounds"); do
  read -r wr wc <<<"$(wrk_run)"; w+=("$wc")
  read -r lr lc <<<"$(lt_run "$lt")"; l+=("$lc")
  line="round $r: wrk $wr/s ${wc} µs/req | loadtape $lr/s ${lc} µs/req"
  if [ -n "$other" ]; then
    read -r or oc <<<"$(lt_run "$other")"; o+=("$oc")
    line="$line | other $or/s ${oc} µs/req"
  fi
  echo "$line"
done
median() { python3 -c 'import sys,statistics; print(round(statistics.median(float(x) for x in sys.argv[1:]), 2))' "$@"; }
W=$(median "${w[@]}"); L=$(median "${l[@]}")
echo "median CPU per request: wrk $W µs, loadtape $L µs (loadtape ÷ wrk $(python3 -c "print(round($L / $W, 3))"))"
if [ -n "$other" ]; then
  O=$(median "${o[@]}")
  echo "other $O µs: loadtape ÷ other $(python3 -c "print(round($L / $O, 3))")"
fi
spec_row "replay, one GET: client CPU per request ÷ wrk's" "$(python3 -c "print(round($L / $W, 2))") ($L vs $W µs)" \
  "≤ 1.0" "$L <= $W"
