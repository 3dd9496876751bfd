#!/usr/bin/env bash
# 100,000 VUs on one machine, as the scale-out design runs them: one test split into N
# `--segment K/N` processes started together (`--start-at`), each under the per-process
# open-file limit (20,000 here), against nginx with one worker per segment (each worker is
# under the same limit), each segment on its own nginx port so that no (source, destination)
# pair runs out of ephemeral ports; every VU thinks 10 s between requests. Resident memory of
# all the segments together is sampled every 30 s; the segments' results are merged with
# `report merge` into the result of the one run.
# Needs: nginx, python3. Usage: bench/hundred-thousand.sh [VUs] [minutes] [segments]
#   (defaults 100000, 5, 6)
set -euo pipefail
cd "$(dirname "$0")/.."
vus=${1:-100000}
minutes=${2:-5}
n=${3:-6}
first_port=18101
. bench/lib.sh
bench_init
build_release

ulimit -n "$(ulimit -Hn)"
mkdir -p "$work/html" "$work/logs"
printf 'ok' >"$work/html/index.html"
{
  echo "worker_processes $n; worker_rlimit_nofile $(ulimit -Hn);"
  echo "pid $work/nginx.pid; error_log $work/logs/error.log;"
  echo "events { worker_connections $(( $(ulimit -Hn) - 100 )); }"
  echo "http { access_log off; keepalive_requests 100000000; keepalive_timeout 120s;"
  for k in $(seq "$n"); do
    echo "  server { listen 127.0.0.1:$((first_port + k - 1)) reuseport backlog=65535; location / { return 200 'ok'; } }"
  done
  echo "}"
} >"$work/nginx.conf"
nginx -c "$work/nginx.conf" -p "$work"
wait_for "http://127.0.0.1:$first_port/"

cat >"$work/s.yaml" <<EOF
loadtape: scenario/v1
name: hundred-thousand
steps:
  - name: get
    request: {method: GET, url: 'http://bench.example/'}
    think: 10s
load:
  executor: ramping-vus
  start_vus: 0
  stages: [{to: $vus, over: 60s}, {to: $vus, over: ${minutes}m}]
EOF

start=$(date -u -d '+3 seconds' +%Y-%m-%dT%H:%M:%SZ)
lpids=()
for k in $(seq "$n"); do
  "$lt" run "$work/s.yaml" --segment "$k/$n" --start-at "$start" --quiet \
    --target "http://bench.example=http://127.0.0.1:$((first_port + k - 1))" \
    --out "$work/seg-$k.json" >"$work/seg-$k.txt" 2>&1 &
  lpids+=($!)
  pids+=($!)
done
total_s=$((60 + minutes * 60))
echo "== $vus VUs in $n segments, ramp 60 s, then ${minutes} min, think 10 s"
samples=()
for t in $(seq 30 30 $((total_s - 5))); do
  sleep 30
  sum=0
  for p in "${lpids[@]}"; do
    kb=$(awk '/VmRSS/ {print $2}' /proc/"$p"/status 2>/dev/null || echo 0)
    sum=$((sum + kb))
  done
  samples+=("$((sum / 1024))")
  echo "t=${t}s RSS of all segments $((sum / 1024)) MiB"
done
for p in "${lpids[@]}"; do wait "$p" || true; done
if ! "$lt" report merge "$work"/seg-*.json --out "$work/all.json" --force >"$work/merge.txt" 2>&1 \
  && [ ! -f "$work/all.json" ]; then
  echo "report merge wrote no result:"; cat "$work/merge.txt"
  for k in $(seq "$n"); do echo "--- segment $k"; tail -5 "$work/seg-$k.txt"; done
  exit 1
fi
python3 - "$work/all.json" "${samples[@]}" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
t = r["total"]
rss = [int(x) for x in sys.argv[2:]]
# After the ramp (the first two samples) the working set must hold still.
held = rss[2:] or rss
print(f"merged: {t['requests']} requests, {t['errors']} errors {t['errors_by_kind']}, "
      f"{t['rps']:.0f}/s, p99 {t['latency']['p99']} ms, max VUs {r['settings']['max_vus']}")
print(f"RSS of all segments: peak {max(rss)} MiB; after the ramp {min(held)}–{max(held)} MiB "
      f"({(max(held) - min(held)) / max(held) * 100:.1f} %)")
with open(sys.argv[1] + ".row", "w") as f:
    print(t["errors"], max(rss), min(held), max(held), t["requests"], file=f)
EOF
read -r errors peak hmin hmax requests <"$work/all.json.row"
spec_row "$vus VUs, think 10 s, $n segments, ${minutes} min held: RSS, errors" \
  "peak $peak MiB, $hmin–$hmax after the ramp; $errors errors in $requests requests" \
  "< 1 GB, flat, 0 errors" "$peak * 1.048576 < 1000 && $hmax <= 1.05 * $hmin && $errors == 0"
