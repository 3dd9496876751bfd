# Sourced by the bench scripts. `spec_row WHAT MEASURED TARGET CONDITION` records one row of
# SPEC §8's table in $BENCH_SUMMARY (bench/all.sh sets it and prints the table at the end);
# CONDITION is an awk expression (`0.88 >= 0.9`) that decides "met" or "missed".
# Run on its own, a script just prints its figures.
spec_row() {
  local verdict
  verdict=$(awk "BEGIN { print (($4) ? \"met\" : \"MISSED\") }")
  echo "SPEC §8: $1: $2 (target $3) -> $verdict"
  [ -n "${BENCH_SUMMARY:-}" ] || return 0
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$verdict" >>"$BENCH_SUMMARY"
}
# ratio A B: A / B with two decimals.
ratio() { awk "BEGIN { printf \"%.2f\", $1 / $2 }"; }
