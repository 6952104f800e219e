#!/usr/bin/env bash
# Crash injection: `kefu serve` killed with SIGKILL at random moments while clients
# open and move work orders, import customer files and declare incidents; after
# each kill the database is checked (every acknowledged write present, imports
# whole or absent, one notice per affected customer, audit chain intact). Both
# backends; TRIALS kills each (default 50, so 100 in all). Then the notice
# dispatchers' crash test (26 kills per backend: no notice sent twice).
#
#   reliability/crash.sh
#   TRIALS=10 reliability/crash.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export KEFU_TEST_POSTGRES_URL=${KEFU_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
export KEFU_TEST_REQUIRE_POSTGRES=1
export KEFU_TEST_CRASH_TRIALS=${TRIALS:-50}
cargo test -p kefu --test crash --test notice_crash -- --nocapture 2>&1 \
  | grep -E "kills|^test |test result"
