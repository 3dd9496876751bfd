#!/usr/bin/env bash
# Every benchmark of SPEC §8 and issue 19, one after the other, each measuring loadtape and
# its peers side by side against the same local server: the testbed's own speed, the
# recording proxy against direct and mitmproxy (50 and 5,000 connections), replay against wrk
# and oha (and memory at 10,000 VUs), client CPU per request against wrk, HTTP/2 against
# h2load (one stream per connection, and multiplexed), a multi-step flow against drill,
# Artillery and Locust, the token and rate targets, then 100,000 VUs in 6 segments. At the
# end, the table of targets with what this run measured.
# First installs the peers that are missing (bench/peers.sh: Debian, crates.io, npm, PyPI).
# Takes about 20 minutes; `SKIP_100K=1` leaves out the last one (7 of them).
set -euo pipefail
cd "$(dirname "$0")"
BENCH_SUMMARY=$(mktemp)
export BENCH_SUMMARY
trap 'rm -f "$BENCH_SUMMARY"' EXIT
./peers.sh
scripts=(testbed.sh proxy.sh replay.sh cpu-per-request.sh h2.sh flow.sh tokens-and-rate.sh)
[ -n "${SKIP_100K:-}" ] || scripts+=(hundred-thousand.sh)
for script in "${scripts[@]}"; do
  echo
  echo "######## bench/$script"
  ./"$script"
done
echo
echo "######## targets, this run"
{
  printf 'what\tmeasured\ttarget\tverdict\n'
  cat "$BENCH_SUMMARY"
} | if command -v column >/dev/null; then column -t -s $'\t'; else cat; fi
echo
echo "######## the same, as the README's table"
awk -F'\t' 'BEGIN { print "| what | measured | target | |"; print "|---|---|---|---|" }
  { v = ($4 == "met") ? "met" : "**missed**"; printf "| %s | %s | %s | %s |\n", $1, $2, $3, v }' "$BENCH_SUMMARY"
