#!/usr/bin/env bash
# A multi-step flow, side by side with drill (crates.io), Artillery (npm) and Locust (PyPI):
# the same flow against the same testbed, counted by the testbed itself. The flow: a token
# once, then in a loop `GET /api/goods?page=1` (a 10-item JSON list) -> extract the first id
# -> `GET /api/goods/{id}` with `authorization: Bearer <token>` on both. 50 concurrent users,
# no think time. loadtape fetches the token itself (a shared token step); the peers, which
# have no "once per test" step, get the one the script fetched.
#
# Each client runs for WARM + SECONDS + 2 s; the testbed's own counters (`/stats`: goods list
# and detail requests, auth failures, unknown ids) are read after WARM seconds and again
# SECONDS later, so start-up (Node's, Python's) and the ramp are not in the figure. A run
# whose server counts show an auth failure, an unknown id, or fewer details than lists (the
# extraction failed) stops the script.
# Needs: drill (cargo install drill --locked), artillery (npm i -g artillery, with
# PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 and --ignore-scripts), locust (pip install locust),
# curl, python3. Usage: bench/flow.sh [seconds] [rounds]     (defaults 8 and 1)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-8}
rounds=${2:-1}
warm=3
port=19494
. bench/lib.sh
bench_init
build_release
start_testbed $port --token-ttl 1h
token=$(curl -s -d '{"code":"bench-flow-0001"}' "$base/api/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
run_for=$((warm + secs + 2))

cat >"$work/flow.yaml" <<EOF
loadtape: scenario/v1
name: list-extract-detail
tokens:
  - name: session
    scope: shared
    request:
      method: POST
      url: $base/api/login
      body: {json: {code: bench-flow-0002}}
    extract: {session: {json: \$.token}}
    expires_in: 1h
steps:
  - name: list
    request:
      method: GET
      url: $base/api/goods?page=1
      headers: [[authorization, 'Bearer {{ session }}']]
    check: {status: 200}
    extract: {id: {json: '\$.data[0].id'}}
  - name: detail
    request:
      method: GET
      url: $base/api/goods/{{ id }}
      headers: [[authorization, 'Bearer {{ session }}']]
    check: {status: 200}
load: {executor: constant-vus, vus: 50, duration: ${run_for}s}
EOF

cat >"$work/drill.yml" <<EOF
concurrency: 50
base: '$base'
iterations: 100000000
rampup: 0
plan:
  - name: list
    request:
      url: /api/goods?page=1
      headers: {authorization: 'Bearer $token'}
    assign: list
  - name: detail
    request:
      url: /api/goods/{{ list.body.data.0.id }}
      headers: {authorization: 'Bearer $token'}
EOF

cat >"$work/artillery.yml" <<EOF
config:
  target: '$base'
  phases: [{duration: 1, arrivalCount: 50}]
  variables: {token: '$token'}
scenarios:
  - flow:
      - loop:
          - get:
              url: /api/goods?page=1
              headers: {authorization: 'Bearer {{ token }}'}
              capture: {json: '\$.data[0].id', as: id}
          - get:
              url: '/api/goods/{{ id }}'
              headers: {authorization: 'Bearer {{ token }}'}
        count: 100000000
EOF

cat >"$work/locustfile.py" <<EOF
from locust import FastHttpUser, constant, task

AUTH = {"authorization": "Bearer $token"}

class Shopper(FastHttpUser):
    wait_time = constant(0)

    @task
    def flow(self):
        goods = self.client.get("/api/goods?page=1", headers=AUTH).json()
        self.client.get(f"/api/goods/{goods['data'][0]['id']}", headers=AUTH, name="/api/goods/{id}")
EOF

# server_rate NAME CMD...: runs CMD in the background, prints NAME's server-counted requests/s
# (list + detail) over the window, and checks the flow went right.
server_rate() {
  local name=$1
  shift
  "$@" >"$work/$name.log" 2>&1 &
  local cpid=$!
  python3 - "$base/stats" "$warm" "$secs" "$name" <<'EOF'
import json, sys, time, urllib.request
url, warm, secs, name = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
def stats():
    s = json.load(urllib.request.urlopen(url))
    return s["requests"]["goods_list"], s["requests"]["goods_detail"], sum(s["auth_failures"].values()), s["unknown_ids"]
time.sleep(warm)
l0, d0, a0, u0 = stats(); t0 = time.monotonic()
time.sleep(secs)
l1, d1, a1, u1 = stats(); t1 = time.monotonic()
lists, details = l1 - l0, d1 - d0
if a1 or u1 or lists == 0 or details < lists - 100:
    sys.exit(f"{name}: the flow went wrong at the server: {lists} lists, {details} details, {a1} auth failures, {u1} unknown ids")
print(f"{(lists + details) / (t1 - t0):.0f}")
EOF
  kill "$cpid" 2>/dev/null || true
  pkill -P "$cpid" 2>/dev/null || true
  wait "$cpid" 2>/dev/null || true
}

echo "== list -> extract id -> detail, 50 users, no think time, testbed; server-counted req/s over ${secs}s x $rounds rounds"
l=(); d=(); a=(); k=()
for r in $(seq "$rounds"); do
  l+=("$(server_rate loadtape "$lt" run "$work/flow.yaml" --quiet --force --out "$work/flow.json")")
  d+=("$(server_rate drill drill --benchmark "$work/drill.yml" --quiet)")
  a+=("$(server_rate artillery artillery run --quiet "$work/artillery.yml")")
  k+=("$(server_rate locust locust -f "$work/locustfile.py" --headless -u 50 -r 50 -t "${run_for}s" --host "$base" --only-summary)")
  echo "round $r: loadtape ${l[-1]}  drill ${d[-1]}  artillery ${a[-1]}  locust ${k[-1]}"
done
L=$(median "${l[@]}"); D=$(median "${d[@]}"); A=$(median "${a[@]}"); K=$(median "${k[@]}")
echo "median req/s: loadtape $L  drill $D  artillery $A  locust $K"
spec_row "2-step flow with extraction: loadtape / drill" "$(ratio "$L" "$D") x" ">= 3 x" "$L >= 3 * $D"
spec_row "2-step flow with extraction: loadtape / Artillery" "$(ratio "$L" "$A") x" ">= 50 x" "$L >= 50 * $A"
spec_row "2-step flow with extraction: loadtape / Locust" "$(ratio "$L" "$K") x" "measured" "1"
