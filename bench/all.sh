#!/usr/bin/env bash
# Every benchmark of SPEC §8, one after the other, each measuring loadtape and its peers side
# by side against the same local server: the testbed's own speed, the recording proxy against
# direct and mitmproxy, replay against wrk and oha (and memory at 10,000 VUs), client CPU per
# request against wrk, HTTP/2 against h2load, then the token and rate targets. At the end,
# SPEC §8's table with what this run measured.
# Needs what each script says (nginx-light, wrk, hey, nghttp2-client, time, openssl from
# Debian; oha from crates.io; mitmproxy from PyPI). Takes about 12 minutes.
set -euo pipefail
cd "$(dirname "$0")"
BENCH_SUMMARY=$(mktemp)
export BENCH_SUMMARY
trap 'rm -f "$BENCH_SUMMARY"' EXIT
for script in testbed.sh proxy.sh replay.sh cpu-per-request.sh h2.sh tokens-and-rate.sh; do
  echo
  echo "######## bench/$script"
  ./"$script"
done
echo
echo "######## SPEC §8, this run"
{
  printf 'what\tmeasured\ttarget\tverdict\n'
  cat "$BENCH_SUMMARY"
} | if command -v column >/dev/null; then column -t -s $'\t'; else cat; fi
