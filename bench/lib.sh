# Sourced by every bench script: the one place for what they all do around a measurement.
# Run on its own, a script just prints its figures; under bench/all.sh its SPEC §8 rows are
# gathered into one table.

# bench_init: a scratch directory ($work) and a list of background processes ($pids); on exit
# the processes (and any daemon that wrote a pid file into $work) are killed and the dir removed.
bench_init() {
  work=$(mktemp -d)
  # Readable by nginx's workers, which run as `nobody` when the script runs as root (a
  # private 0700 directory has them answer 403 to every request).
  chmod 755 "$work"
  pids=()
  trap bench_cleanup EXIT
}
bench_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for f in "$work"/*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
  rm -rf "$work"
}

# build_release [CARGO ARGS...]: a release build; sets $target (its directory, honouring
# CARGO_TARGET_DIR) and $lt (the loadtape binary).
build_release() {
  cargo build --release --quiet "$@"
  target=${CARGO_TARGET_DIR:-target}/release
  lt=$target/loadtape
}

# wait_for URL: until URL answers (5 s at most; the measurement then fails on its own).
wait_for() {
  for _ in $(seq 50); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done
}

# start_nginx PORT [tls]: nginx with one worker on 127.0.0.1:PORT serving a 60-byte static page,
# no access log, unlimited keep-alive (the replay benchmarks' server); with `tls`, HTTPS with
# HTTP/2 on a self-signed P-256 certificate made here. Returns once it answers.
start_nginx() {
  local port=$1 listen="127.0.0.1:$1" tls="" scheme=http
  mkdir -p "$work/html" "$work/logs"
  printf 'hello loadtape, this is a small static page for benchmarks.' >"$work/html/index.html"
  if [ "${2:-}" = tls ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
      -keyout "$work/key.pem" -out "$work/cert.pem" -subj /CN=localhost \
      -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null
    listen="$listen ssl http2"
    tls="ssl_certificate $work/cert.pem; ssl_certificate_key $work/key.pem;"
    scheme=https
  fi
  cat >"$work/nginx.conf" <<EOF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/logs/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  server { listen $listen; $tls root $work/html; location / { } }
}
EOF
  nginx -c "$work/nginx.conf" -p "$work"
  for _ in $(seq 50); do curl -sk -o /dev/null "$scheme://127.0.0.1:$port/" && return 0; sleep 0.1; done
}

# median VALUES...: their median.
median() { python3 -c 'import sys,statistics; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

# cpu_of REQUESTS_REGEX SECONDS CMD...: runs a peer client (wrk, h2load) under GNU time and
# prints "REQ/S µS-PER-REQUEST": its requests (the first group of REQUESTS_REGEX in what it
# printed) per SECONDS, and its user + system CPU per request; fails when the peer reported
# failed requests.
cpu_of() {
  local re=$1 secs=$2 out
  shift 2
  out=$({ /usr/bin/time -f "CPU %U %S" "$@"; } 2>&1)
  python3 - "$out" "$re" "$secs" <<'EOF'
import re, sys
t, pattern, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
n = int(re.search(pattern, t).group(1))
# A figure of failed requests is none: wrk's socket errors and non-2xx answers, h2load's
# failed and errored requests stop the benchmark.
failed = re.search(r"Socket errors|Non-2xx|requests: .* (\d+) failed, (\d+) errored", t)
if failed and (failed.lastindex is None or any(int(g) for g in failed.groups())):
    sys.exit(f"the peer reported failed requests:\n{t}")
u, s = map(float, re.search(r"CPU ([\d.]+) ([\d.]+)", t).groups())
print(f"{n / secs:.0f} {(u + s) / n * 1e6:.2f}")
EOF
}

# lt_cpu BINARY SCENARIO [RUN ARGS...]: one `loadtape run` under GNU time; prints "REQ/S
# µS-PER-REQUEST" like cpu_of, and fails when a request failed (a figure of failures is none).
lt_cpu() {
  local bin=$1 scenario=$2 out
  shift 2
  out=$({ /usr/bin/time -f "CPU %U %S" "$bin" run "$scenario" --quiet --force --out "$work/cpu.json" "$@" >/dev/null; } 2>&1)
  python3 - "$out" "$work/cpu.json" <<'EOF'
import json, re, sys
u, s = map(float, re.search(r"CPU ([\d.]+) ([\d.]+)", sys.argv[1]).groups())
r = json.load(open(sys.argv[2]))
n = r["total"]["requests"]
assert r["total"]["errors"] == 0, r["total"]["errors_by_kind"]
print(f"{n / r['duration_s']:.0f} {(u + s) / n * 1e6:.2f}")
EOF
}

# start_testbed PORT [TESTBED ARGS...]: loadtape's testbed on 127.0.0.1:PORT in the
# background; sets $base and returns once it answers.
start_testbed() {
  local port=$1
  shift
  "$lt" testbed --listen "127.0.0.1:$port" "$@" >/dev/null &
  pids+=($!)
  base=http://127.0.0.1:$port
  wait_for "$base/stats"
}

# platform_token: the testbed's shared platform token step (WeChat's client_credential
# grant, refreshed 300 ms before the lifetime the answer states), as a `tokens:` list item.
platform_token() {
  cat <<YAML
  - name: platform
    scope: shared
    request:
      method: GET
      url: $base/cgi-bin/token?grant_type=client_credential&appid={{ appid }}&secret={{ secret }}
    extract: {access_token: {json: \$.access_token}, ttl: {json: \$.expires_in}}
    expires_in: '{{ ttl }}s'
    refresh_before: 300ms
    refresh_on: {json: {path: \$.errcode, in: [40001, 40014, 42001]}}
YAML
}

# measure CMD...: runs CMD (its stdout discarded) and prints its wall time and the peak
# resident memory of the process tree, as the kernel counted it (getrusage of the children).
measure() {
  python3 -c '
import resource, subprocess, sys, time
t = time.monotonic()
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=False)
print(f"{time.monotonic() - t:.1f} s, peak RSS {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f} MiB")' "$@"
}

# `spec_row WHAT MEASURED TARGET CONDITION` records one row of SPEC §8's table in
# $BENCH_SUMMARY (bench/all.sh sets it and prints the table at the end); CONDITION is an awk
# expression (`0.88 >= 0.9`) that decides "met" or "missed".
spec_row() {
  local verdict
  verdict=$(awk "BEGIN { print (($4) ? \"met\" : \"MISSED\") }")
  echo "SPEC §8: $1: $2 (target $3) -> $verdict"
  [ -n "${BENCH_SUMMARY:-}" ] || return 0
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$verdict" >>"$BENCH_SUMMARY"
}
# ratio A B: A / B with two decimals.
ratio() { awk "BEGIN { printf \"%.2f\", $1 / $2 }"; }
