#!/usr/bin/env bash
# Parser fuzzing with libFuzzer (cargo-fuzz, nightly toolchain): each target for
# SECS seconds (default 120) from its stored corpus (fuzz/corpus/TARGET, which
# grows with what the run finds). Prints executions, corpus size and peak memory;
# a crash leaves its input in fuzz/artifacts/TARGET/ and fails the script — add it
# to fuzz/corpus/TARGET/ under a name saying what it found, and a test.
#
#   reliability/fuzz.sh                   # every target, 120 s each
#   SECS=600 reliability/fuzz.sh phone    # one target, longer
#
# Needs: rustup toolchain nightly, cargo install cargo-fuzz. The bounded version
# on stable Rust runs in `cargo test` (crates/kefu-fuzz/tests/corpus.rs).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
SECS=${SECS:-120}
TARGETS=${*:-customer_file phone transcript calendar search_query forbidden}
failed=0
for t in $TARGETS; do
  log=$(mktemp)
  if cargo +nightly fuzz run -O "$t" -- -max_total_time="$SECS" -rss_limit_mb=2048 \
      -timeout=10 -max_len=16384 -print_final_stats=1 >"$log" 2>&1; then
    verdict=ok
  else
    verdict=FAILED; failed=1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  rss=$(grep -o 'stat::peak_rss_mb: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  printf '%-14s %s: %s executions in %s s, peak %s MB, corpus %s inputs\n' \
    "$t" "$verdict" "$runs" "$SECS" "$rss" "$(ls "corpus/$t" | wc -l)"
  [ "$verdict" = ok ] || grep -E 'panicked|ERROR|SUMMARY' "$log" | head -5
  rm -f "$log"
done
exit $failed
