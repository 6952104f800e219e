#!/usr/bin/env bash
# API fuzzing: schemathesis generates requests from /api/openapi.json (valid and
# invalid, every operation) against `kefu serve` on a small demo database, once per
# role, and checks every answer against the document: no 5xx, status codes and
# bodies as documented, invalid input refused, valid input accepted.
#
#   reliability/schemathesis.sh                      # bounded (CI): 3 examples per operation
#   EXAMPLES=50 MAX_TIME=1800 reliability/schemathesis.sh   # the long run
#
# Needs: a built kefu (BIN, default target/release/kefu; not a KEFU_ variable,
# which kefu would read as a setting) and schemathesis (pip install
# schemathesis==4.32.5 hypothesis==6.135.33). Writes reports to $WORK (default
# /tmp/kefu-schemathesis).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/kefu}
WORK=${WORK:-/tmp/kefu-schemathesis}
EXAMPLES=${EXAMPLES:-3}
MAX_TIME=${MAX_TIME:-120}
ROLES=${ROLES:-"manager KF1001 WX2001 admin"}
command -v st >/dev/null || { echo "schemathesis is missing: pip install schemathesis==4.32.5 hypothesis==6.135.33"; exit 1; }

rm -rf "$WORK" && mkdir -p "$WORK"
DB="sqlite://$WORK/kefu.db"
kefu() { "$BIN" --database-url "$DB" "$@"; }
kefu demo --customers 2000 --work-orders 300 --contacts 300 --articles 20 >/dev/null

# The binary itself in the background (not the `kefu` function, whose subshell's
# pid the trap would kill, leaving the server running).
"$BIN" --database-url "$DB" serve --listen 127.0.0.1:0 > "$WORK/serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  URL=$(sed -n 's/^Kefu is serving on \([^ ]*\).*/\1/p' "$WORK/serve.log")
  [ -n "$URL" ] && break
  sleep 0.1
done
[ -n "$URL" ] || { cat "$WORK/serve.log"; exit 1; }

failed=0
for staff in $ROLES; do
  token=$(kefu token create --staff-no "$staff" --name schemathesis | tail -n 1)
  echo "== schemathesis as $staff: $EXAMPLES examples per operation, at most $MAX_TIME s"
  # Operations that end the caller's own session or token, or disable the caller,
  # would cut the run short; they are covered by the API tests.
  if ! st --config-file reliability/schemathesis.toml run "$URL/api/openapi.json" \
      -H "Authorization: Bearer $token" \
      --checks all --exclude-checks ignored_auth \
      --max-examples "$EXAMPLES" --max-time "$MAX_TIME" --workers 2 --seed 2026 \
      --exclude-path /api/v1/auth/logout --exclude-path /api/v1/me/password \
      --exclude-path '/api/v1/me/tokens/{id}' --exclude-path '/api/v1/tokens/{id}' \
      --exclude-path '/api/v1/staff/{id}' \
      --report junit --report-dir "$WORK/report-$staff" \
      > "$WORK/st-$staff.log" 2>&1; then
    failed=1
  fi
  tail -n 25 "$WORK/st-$staff.log"
done
exit $failed
