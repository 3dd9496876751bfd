#!/usr/bin/env bash
# Measures the testbed's own throughput, so that it is known never to be the bottleneck of a
# load test: wrk (HTTP/1.1) and h2load (h2c) against the authenticated goods endpoints.
# Needs: wrk, h2load (Debian: apt-get install wrk nghttp2-client), curl, python3.
# Usage: bench/testbed.sh [seconds]   (default 8)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-8}
port=19191
. bench/lib.sh
bench_init
build_release
start_testbed $port
token=$(curl -s -d '{"code":"bench-code-0001"}' "$base/api/login" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
id=$(curl -s -H "authorization: Bearer $token" "$base/api/goods?page=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0]["id"])')
echo "== wrk, HTTP/1.1, 50 connections, GET /api/goods/{id} (token checked on every request)"
wrk -t2 -c50 -d"${secs}s" -H "authorization: Bearer $token" "$base/api/goods/$id" | grep -E "Requests/sec|Non-2xx" || true
echo "== wrk, HTTP/1.1, 50 connections, GET /api/goods?page=1 (10-item JSON list)"
wrk -t2 -c50 -d"${secs}s" -H "authorization: Bearer $token" "$base/api/goods?page=1" | grep -E "Requests/sec|Non-2xx" || true
echo "== h2load, h2c, 50 connections x 10 streams, GET /api/goods/{id}"
h2load -c50 -m10 -D "$secs" -H "authorization: Bearer $token" "$base/api/goods/$id" | grep -E "finished in|status codes"
echo "== the server's own counts"
curl -s "$base/stats"; echo
