#!/usr/bin/env bash
# The recording proxy against going direct and against mitmproxy, same client (hey), same
# upstream (nginx over HTTPS), in one run; then the added latency at light load and the cost
# of the first request to a new host (a leaf certificate issued) versus a cached one.
# Needs: nginx, hey, openssl, curl (Debian: apt-get install nginx-light hey), and for the
# comparison mitmproxy (pip install mitmproxy). Then the same throughput with MANY client
# connections at once (5,000: each held by the proxy with its own upstream connection).
# Usage: bench/proxy.sh [seconds] [connections] [many]      (defaults 10, 50, 5000)
set -euo pipefail
[ -n "${BENCH_DEBUG:-}" ] && set -x
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=${2:-50}
many=${3:-5000}
# Each proxied client connection holds two descriptors (client and upstream).
ulimit -n "$(ulimit -Hn)"
. bench/lib.sh
bench_init
build_release
bin=$lt

# nginx: HTTPS with HTTP/2 on port 443 (hey puts the port into its TLS SNI for any other
# port, which RFC 6066 forbids and rustls rejects), with a leaf from a throwaway CA for
# localhost and 127.0.0.1-60 (so that each 127.0.0.N is a new host name for the proxy).
sans="DNS:localhost"
for i in $(seq 1 60); do sans="$sans,IP:127.0.0.$i"; done
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj "/CN=bench CA" -keyout "$work/ca-key.pem" -out "$work/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=localhost \
  -keyout "$work/key.pem" -out "$work/leaf.csr" 2>/dev/null
printf 'subjectAltName=%s\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n' "$sans" > "$work/leaf.ext"
openssl x509 -req -in "$work/leaf.csr" -CA "$work/ca.pem" -CAkey "$work/ca-key.pem" -CAcreateserial \
  -days 2 -extfile "$work/leaf.ext" -out "$work/cert.pem" 2>/dev/null
mkdir -p "$work/nginx"
cat > "$work/nginx.conf" <<CONF
worker_processes 1;
worker_rlimit_nofile $(ulimit -Hn);
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections $((many * 2 + 100)); }
http {
  access_log off;
  client_body_temp_path $work/nginx; proxy_temp_path $work/nginx; fastcgi_temp_path $work/nginx;
  uwsgi_temp_path $work/nginx; scgi_temp_path $work/nginx;
  keepalive_requests 1000000;
  server {
    listen 443 ssl http2;
    ssl_certificate $work/cert.pem;
    ssl_certificate_key $work/key.pem;
    ssl_session_tickets off;
    location / { default_type application/json; return 200 '{"errcode":0,"data":{"id":"g1x0aca3a170c0","price":1200}}'; }
  }
}
CONF
nginx -c "$work/nginx.conf" -g 'daemon off;' & pids+=($!)

$bin record --listen 127.0.0.1:18888 --out "$work/bench.yaml" --ca-dir "$work/ca" \
  --upstream-ca "$work/ca.pem" --max-body 64k > "$work/record.log" & pids+=($!)
have_mitm=0
if command -v mitmdump >/dev/null; then
  mitmdump --listen-host 127.0.0.1 --listen-port 18889 --ssl-insecure -q -w "$work/flows" \
    --set confdir="$work/mitm" > "$work/mitm.log" 2>&1 & pids+=($!)
  have_mitm=1
fi
for port in 443 18888 $([ $have_mitm = 1 ] && echo 18889); do
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
done
url=https://localhost/

# hey counts failed requests and non-200 answers in its rate: fail loudly instead.
run_hey() {
  local out; out=$(hey "$@")
  if grep -q "Error distribution" <<<"$out" || grep -A5 "Status code distribution" <<<"$out" | grep -qE '\[[013-9][0-9][0-9]\]|\[2[1-9][0-9]\]'; then
    echo "hey reported errors or non-200 answers:" >&2; echo "$out" >&2; exit 1
  fi
  echo "$out"
}
rps() { run_hey "$@" | awk '/Requests\/sec/ {print $2}'; }
p50() { run_hey "$@" | awk '$1 == "50%" {print $3 * 1000}'; }

echo "== throughput: hey -c $conns -z ${secs}s, HTTPS GET, keep-alive (HTTP/1.1 on the client side)"
direct=$(rps -z "${secs}s" -c "$conns" "$url")
echo "direct            $direct req/s"
through=$(rps -z "${secs}s" -c "$conns" -x http://127.0.0.1:18888 "$url")
echo "loadtape record   $through req/s   ($(awk "BEGIN{printf \"%.1f\", 100*$through/$direct}") % of direct)"
if [ $have_mitm = 1 ]; then
  mitm=$(rps -z "${secs}s" -c "$conns" -x http://127.0.0.1:18889 "$url")
  echo "mitmproxy         $mitm req/s   ($(awk "BEGIN{printf \"%.1f\", 100*$mitm/$direct}") % of direct)"
  echo "loadtape / mitmproxy = $(awk "BEGIN{printf \"%.1f\", $through/$mitm}") x"
  spec_row "proxy, HTTPS, recording on: loadtape / mitmproxy" "$(ratio "$through" "$mitm") x" ">= 20 x" "$through >= 20 * $mitm"
fi
spec_row "proxy, HTTPS, recording on, $conns conns: % of direct" "$(awk "BEGIN{printf \"%.1f\", 100*$through/$direct}") % ($through vs $direct req/s)" ">= 70 %" "$through >= 0.70 * $direct"
echo "recorded exchanges: $(grep -c '^id: ' "$work/bench.yaml")"

echo "== $many client connections at once: hey -c $many -z ${secs}s"
mdirect=$(rps -z "${secs}s" -c "$many" "$url")
echo "direct            $mdirect req/s"
mthrough=$(rps -z "${secs}s" -c "$many" -x http://127.0.0.1:18888 "$url")
echo "loadtape record   $mthrough req/s   ($(awk "BEGIN{printf \"%.1f\", 100*$mthrough/$mdirect}") % of direct)"
spec_row "proxy, HTTPS, recording on, $many conns: % of direct" "$(awk "BEGIN{printf \"%.1f\", 100*$mthrough/$mdirect}") % ($mthrough vs $mdirect req/s)" ">= 70 %" "$mthrough >= 0.70 * $mdirect"

echo "== added latency at light load: hey -c 1 -n 2000, p50"
d50=$(p50 -n 2000 -c 1 "$url")
t50=$(p50 -n 2000 -c 1 -x http://127.0.0.1:18888 "$url")
echo "direct p50 ${d50} ms, through loadtape p50 ${t50} ms, added $(awk "BEGIN{printf \"%.3f\", $t50-$d50}") ms"
spec_row "proxy added latency, loopback, -c 1, p50" "$(awk "BEGIN{printf \"%.2f\", $t50-$d50}") ms" "< 0.5 ms" "$t50 - $d50 < 0.5"

echo "== first request to a new host (leaf issued, upstream connected) vs the same host again"
ca="$work/ca/loadtape-ca.pem"
first=(); again=()
for i in $(seq 2 41); do
  u="https://127.0.0.$i/"
  for kind in first again; do
    read -r code t < <(curl -s -o /dev/null -w '%{http_code} %{time_total}\n' --proxy http://127.0.0.1:18888 --cacert "$ca" "$u")
    [ "$code" = 200 ] || { echo "$u through the proxy answered $code" >&2; exit 1; }
    if [ $kind = first ]; then first+=("$t"); else again+=("$t"); fi
  done
done
f=$(median "${first[@]}"); a=$(median "${again[@]}")
spec_row "first request to a new host" "+$(awk "BEGIN{printf \"%.2f\", ($f-$a)*1000}") ms" "< 5 ms" "($f - $a) * 1000 < 5"
echo "median curl time_total: new host $(awk "BEGIN{printf \"%.2f\", $f*1000}") ms, cached host $(awk "BEGIN{printf \"%.2f\", $a*1000}") ms, added by a new host $(awk "BEGIN{printf \"%.2f\", ($f-$a)*1000}") ms"
