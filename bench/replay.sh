#!/usr/bin/env bash
# Replay throughput and memory, side by side with wrk and oha in one run (SPEC §8):
#   1. one GET step, keep-alive, 50 connections, against nginx (plain HTTP, one worker):
#      wrk, oha and `loadtape run`, alternated ROUNDS times; the medians and their ratios;
#   2. the multi-step testbed flow (shared platform token, per-VU login, goods list -> extract
#      id -> detail -> order) against the testbed, next to wrk's single GET on the testbed;
#   3. resident memory of `loadtape run` with 10,000 VUs that think 1 s between steps,
#      sampled every 10 s over a 120 s run (it must stay flat).
# Needs: nginx, wrk, oha (cargo install oha --locked), curl, python3.
# Usage: bench/replay.sh [seconds per run] [rounds]     (defaults 5 and 3)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
rounds=${2:-3}
nginx_port=18080
tb_port=19292
. bench/lib.sh
bench_init
build_release

# --- nginx: one worker, a 60-byte static page, no access log, unlimited keep-alive.
start_nginx "$nginx_port"
url=http://127.0.0.1:$nginx_port/

cat >"$work/get.yaml" <<EOF
loadtape: scenario/v1
name: one-get
steps:
  - name: get
    request: {method: GET, url: '$url'}
load: {executor: constant-vus, vus: 50, duration: ${secs}s}
EOF

wrk_rps() { wrk -t2 -c50 -d"${secs}s" "$1" | awk '/Requests\/sec/ {print $2}'; }
oha_rps() { oha -c 50 -z "${secs}s" --no-tui "$1" | awk '/Requests\/sec/ {print $2}'; }
# loadtape's requests/s; a run with a failed request is no figure and stops the script.
lt_rps() {
  "$lt" run "$1" --quiet --force --out "$work/r.json" >/dev/null || true
  python3 -c 'import json,sys; t = json.load(open(sys.argv[1]))["total"]; assert t["errors"] == 0, t["errors_by_kind"]; print(t["rps"])' "$work/r.json"
}

echo "== 1. one GET, 50 keep-alive connections, nginx (1 worker), ${secs}s x $rounds rounds"
w=(); o=(); l=()
for r in $(seq "$rounds"); do
  w+=("$(wrk_rps "$url")"); o+=("$(oha_rps "$url")"); l+=("$(lt_rps "$work/get.yaml")")
  echo "round $r: wrk ${w[-1]}  oha ${o[-1]}  loadtape ${l[-1]}"
done
W=$(median "${w[@]}"); O=$(median "${o[@]}"); L=$(median "${l[@]}")
python3 - "$W" "$O" "$L" <<'EOF'
import sys
w, o, l = map(float, sys.argv[1:])
print(f"median req/s: wrk {w:,.0f}  oha {o:,.0f}  loadtape {l:,.0f}")
EOF
spec_row "replay, one GET, 50 conns: loadtape / wrk" "$(ratio "$L" "$W") ($L vs $W req/s)" ">= 1.0" "$L >= $W"
spec_row "replay, one GET, 50 conns: loadtape / oha" "$(ratio "$L" "$O") (oha $O req/s)" ">= 1.15" "$L >= 1.15 * $O"

echo "== 2. multi-step flow against the testbed, next to wrk's single GET on it"
start_testbed $tb_port --token-ttl 1h
token=$(curl -s -d '{"code":"bench-code-0001"}' "$base/api/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
id=$(curl -s -H "authorization: Bearer $token" "$base/api/goods?page=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0]["id"])')
tw=$(wrk -t2 -c50 -d"${secs}s" -H "authorization: Bearer $token" "$base/api/goods/$id" | awk '/Requests\/sec/ {print $2}')
sed -e '/think: 20ms/d' tests/fixtures/run/shop.scenario.yaml >"$work/flow.yaml"
cp tests/fixtures/run/users.csv "$work/users.csv"
"$lt" run "$work/flow.yaml" --target "https://api.shop.example=$base" --vus 50 --duration "${secs}s" \
  --quiet --out "$work/flow.json" | grep -E "^(goods|detail|order|total) "
python3 - "$tw" "$work/flow.json" <<'EOF'
import json, sys
w = float(sys.argv[1]); r = json.load(open(sys.argv[2]))
l = r["total"]["rps"]
print(f"wrk single GET /api/goods/{{id}}: {w:,.0f} req/s   loadtape 3-step flow: {l:,.0f} req/s "
      f"({r['iterations']/r['duration_s']:,.0f} flows/s), errors {r['total']['errors']}")
EOF
flow=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["total"]["rps"])' "$work/flow.json")
spec_row "replay, 3-step flow / wrk single GET" "$(ratio "$flow" "$tw")" ">= 0.6" "$(ratio "$flow" "$tw") >= 0.6"

echo "== 3. resident memory, 10,000 VUs, think 1s after every step, 120s"
cat >"$work/mem.yaml" <<EOF
loadtape: scenario/v1
name: ten-thousand
steps:
  - name: goods
    request:
      method: GET
      url: $base/slow?ms=0
    think: 1s
load: {executor: constant-vus, vus: 10000, duration: 120s}
EOF
ulimit -n 65536 2>/dev/null || true
"$lt" run "$work/mem.yaml" --quiet --out "$work/mem.json" >"$work/mem.txt" &
lpid=$!
pids+=($lpid)
rss_at=()
for t in 10 20 30 40 50 60 70 80 90 100 110 119; do
  sleep $((t - ${prev:-0})); prev=$t
  rss=$(awk '/VmRSS/ {print $2}' /proc/$lpid/status 2>/dev/null || echo 0)
  echo "t=${t}s RSS $((rss / 1024)) MiB"
  rss_at+=("$((rss / 1024))")
done
wait $lpid || true
python3 - "$work/mem.json" <<'EOF2'
import json, sys
r = json.load(open(sys.argv[1]))["total"]
print(f"requests {r['requests']}  rps {r['rps']:.0f}  errors {r['errors']}  p99 {r['latency']['p99']} ms")
EOF2
# Flat: the last sample within 10 % of the one at 20 s (the first seconds touch new pages).
at20=${rss_at[1]}
peak=$(printf '%s\n' "${rss_at[@]}" | sort -n | tail -1)
spec_row "memory, 10,000 VUs, think 1 s, 120 s" "peak ${peak} MiB, $at20 at 20 s, ${rss_at[-1]} at 119 s" \
  "< 300 MB, flat" "$peak * 1.048576 < 300 && ${rss_at[-1]} <= 1.1 * $at20"
