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

# start_nginx PORT: nginx with one worker on 127.0.0.1:PORT serving a 60-byte static page, no
# access log, unlimited keep-alive (the replay benchmarks' server); returns once it answers.
start_nginx() {
  local port=$1
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
  server { listen 127.0.0.1:$port; root $work/html; location / { } }
}
EOF
  nginx -c "$work/nginx.conf" -p "$work"
  wait_for "http://127.0.0.1:$port/"
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
