#!/usr/bin/env bash
# Load soak: 200 concurrent clients for 10 minutes of the mixed shift scenario
# (screen pops, searches, inbox pages, orders opened and moved on, dashboards)
# against `kefu serve` on the medium dataset, on loopback. Prints p99 and the
# server's memory every minute; exit 2 if any request failed.
#
#   reliability/soak.sh                         # SQLite, 200 clients, 600 s
#   BACKEND=postgres reliability/soak.sh        # database kefu_medium on $PG
#   CLIENTS=50 SECS=60 PROFILE=small reliability/soak.sh   # a short one
set -euo pipefail
cd "$(dirname "$0")/.."
BACKEND=${BACKEND:-sqlite}
PROFILE=${PROFILE:-medium}
CLIENTS=${CLIENTS:-200}
SECS=${SECS:-600}
WORK=${WORK:-/tmp/kefu-bench}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
KEFU=${BIN:-$PWD/target/release/kefu}
mkdir -p "$WORK"
source bench/database.sh
cd "$WORK"
echo "== soak: $BACKEND $PROFILE, $CLIENTS clients, $SECS s, $(date -u +%FT%TZ), $(nproc) cores"
"$KEFU" --database-url "$URL" demo --profile "$PROFILE" 2>/dev/null | grep -E "^demo: [0-9]+ customers" || true
"$KEFU" --database-url "$URL" bench load --scenario mixed --clients "$CLIENTS" \
  --requests 100000000 --duration "$SECS" --interval 60 2>/dev/null
