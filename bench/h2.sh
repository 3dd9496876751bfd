#!/usr/bin/env bash
# HTTP/2 over TLS, side by side with h2load (nghttp2): one GET, 50 connections with one stream
# each (`h2load -m 1`; a loadtape VU holds one connection and one request at a time), against
# nginx (one worker, `listen … ssl http2`, a self-signed P-256 certificate made here), 5 s per
# run, alternated ROUNDS times; requests/s and client CPU (user + system) per request.
# h2load runs with one thread (`-t 1`): with two, its threads and nginx fight for two cores
# and it measures itself (16,500 req/s here against 24,000–31,000 with one).
# Needs: nginx, h2load (nghttp2-client), openssl, /usr/bin/time, python3.
# Usage: bench/h2.sh [rounds]      (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
port=18443
. bench/lib.sh
bench_init
build_release

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -keyout "$work/key.pem" -out "$work/cert.pem" -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null
mkdir -p "$work/html" "$work/logs"
printf 'hello loadtape, this is a small static page for benchmarks.' >"$work/html/index.html"
cat >"$work/nginx.conf" <<EOF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/logs/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  server {
    listen 127.0.0.1:$port ssl http2;
    ssl_certificate $work/cert.pem;
    ssl_certificate_key $work/key.pem;
    root $work/html;
    location / { }
  }
}
EOF
nginx -c "$work/nginx.conf" -p "$work"
url=https://127.0.0.1:$port/
for _ in $(seq 50); do curl -sk -o /dev/null "$url" && break; sleep 0.1; done
cat >"$work/h2.yaml" <<EOF
loadtape: scenario/v1
name: one-get-h2
steps:
  - name: get
    request: {method: GET, url: '$url'}
load: {executor: constant-vus, vus: 50, duration: 5s}
EOF

h2load_run() {
  local out
  out=$({ /usr/bin/time -f "CPU %U %S" h2load -c50 -m1 -t1 -D 5 "$url"; } 2>&1)
  python3 - "$out" <<'EOF'
import re, sys
t = sys.argv[1]
assert "Application protocol: h2" in t, t
n = int(re.search(r"requests: (\d+) total", t).group(1))
u, s = map(float, re.search(r"CPU ([\d.]+) ([\d.]+)", t).groups())
print(f"{n / 5:.0f} {(u + s) / n * 1e6:.2f}")
EOF
}
lt_run() {
  local out
  out=$({ /usr/bin/time -f "CPU %U %S" "$lt" run "$work/h2.yaml" --insecure --quiet --force --out "$work/r.json" >/dev/null; } 2>&1)
  python3 - "$out" "$work/r.json" <<'EOF'
import json, re, sys
u, s = map(float, re.search(r"CPU ([\d.]+) ([\d.]+)", sys.argv[1]).groups())
r = json.load(open(sys.argv[2]))
n = r["total"]["requests"]
assert r["total"]["errors"] == 0, r["total"]["errors_by_kind"]
print(f"{n / r['duration_s']:.0f} {(u + s) / n * 1e6:.2f}")
EOF
}

echo "== HTTP/2 over TLS, one GET, 50 connections x 1 stream, nginx (1 worker), 5 s x $rounds rounds"
h=(); l=()
for r in $(seq "$rounds"); do
  read -r hr hc <<<"$(h2load_run)"
  read -r lr lc <<<"$(lt_run)"
  h+=("$hr"); l+=("$lr")
  echo "round $r: h2load $hr/s ${hc} µs/req | loadtape $lr/s ${lc} µs/req"
done
median() { python3 -c 'import sys,statistics; print(round(statistics.median(float(x) for x in sys.argv[1:])))' "$@"; }
H=$(median "${h[@]}"); L=$(median "${l[@]}")
spec_row "replay, HTTP/2 TLS, 50 connections x 1 stream: loadtape ÷ h2load" \
  "$(ratio "$L" "$H") ($L vs $H req/s)" "≥ 1.0" "$L >= $H"
