#!/usr/bin/env bash
# One dataset profile on one backend: makes the data (time and size printed),
# then the HTTP scenarios with one client (latency) and eight (throughput), and on
# PostgreSQL the same eight-client run against two server instances.
#
#   bench/run.sh sqlite small|medium|large
#   bench/run.sh postgres small|medium|large      # database kefu_<profile> on
#                                                 # $PG (default 127.0.0.1:5432)
# Output goes to the terminal and to $WORK/<backend>-<profile>.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
BACKEND=${1:?sqlite or postgres}
PROFILE=${2:?small, medium or large}
WORK=${WORK:-/tmp/kefu-bench}
PG=${PG:-postgres://postgres@127.0.0.1:5432}
REQUESTS=${REQUESTS:-1000}
mkdir -p "$WORK"
cargo build --release -q -p kefu
KEFU=$PWD/target/release/kefu
source bench/database.sh
OUT="$WORK/$BACKEND-$PROFILE.txt"
cd "$WORK"
{
  echo "== $BACKEND $PROFILE, $(date -u +%FT%TZ), $(nproc) cores"
  "$KEFU" --database-url "$URL" demo --profile "$PROFILE" 2>/dev/null | grep -E "^demo: [0-9]+ customers"
  echo "== one client"
  "$KEFU" --database-url "$URL" bench load --clients 1 --requests "$REQUESTS" 2>/dev/null
  echo "== eight clients"
  "$KEFU" --database-url "$URL" bench load --clients 8 --requests "$((REQUESTS * 2))" \
    --scenario pop,inbox,search,dashboard,create,transition,next-call,mixed 2>/dev/null
  if [ "$BACKEND" = postgres ]; then
    echo "== eight clients, two server instances on the one database"
    "$KEFU" --database-url "$URL" bench load --instances 2 --clients 8 --requests "$((REQUESTS * 2))" \
      --scenario pop,inbox,search,dashboard,create,transition,next-call,mixed 2>/dev/null
  fi
} 2>&1 | tee "$OUT"
