#!/usr/bin/env bash
# A 72-hour result, made from a real 30 s run's per-second histograms (bench/long_result.rs
# pushes them through the engine's own timeline, so it is folded as a real 72 h run's is),
# read back the ways people read results: `report` with the HTML report, and `report merge`
# of two such segments. Prints the result's size and entries, the HTML's size, and each
# command's wall time and peak resident memory (targets: < 200 MB, seconds, HTML < 2 MB).
# Needs: curl, python3. Usage: bench/long-result.sh [hours] (default 72)
set -euo pipefail
cd "$(dirname "$0")/.."
hours=${1:-72}
port=19395
. bench/lib.sh
bench_init
build_release --bins --example long-result
start_testbed $port
cat >"$work/real.yaml" <<YAML
loadtape: scenario/v1
name: long
steps:
  - name: goods
    request: {method: GET, url: '$base/slow?ms=1'}
  - name: slow
    request: {method: GET, url: '$base/slow?ms=20'}
load: {executor: constant-rate, rate: 1000/s, duration: 30s, max_vus: 200}
YAML
"$lt" run "$work/real.yaml" --quiet --out "$work/real.json" >/dev/null
for k in 1 2; do
  "$target/examples/long-result" "$work/real.json" "$work/r$k.json" "$hours" "$k/2"
done
entries=$(python3 -c "import json,sys; print(len(json.load(open(sys.argv[1]))['timeline']))" "$work/r1.json")
echo "== a ${hours} h result: $(du -h "$work/r1.json" | cut -f1), $entries timeline entries"
echo "report --html:        $(measure "$lt" report "$work/r1.json" --html "$work/r.html")," \
  "HTML $(du -h "$work/r.html" | cut -f1)"
echo "report merge (2 x ${hours} h): $(measure "$lt" report merge "$work/r1.json" "$work/r2.json" --out "$work/m.json")"
echo "report of the merge:  $(measure "$lt" report "$work/m.json" --html "$work/m.html")," \
  "HTML $(du -h "$work/m.html" | cut -f1)"
