#!/usr/bin/env bash
# Kefu side by side with Request Tracker 5 (Debian's packages) on this machine, in
# one run: ticket creation with a Chinese subject and body, a search by a Chinese
# word, a queue's list of open tickets. Both serve on loopback; requests alternate
# between them, one client each, RT in its session-cookie mode (signed in once
# through its login form: its token and basic-auth modes re-hash a bcrypt
# password on every request). Prints each system's latency and the ratios.
#
#   bench/peer-rt5.sh                  # Kefu on a fresh medium dataset (100k orders)
#   KEFU_DATABASE_URL=sqlite:///path/kefu.db bench/peer-rt5.sh   # an existing dataset
#   RT_TICKETS=20000 ROUNDS=300 bench/peer-rt5.sh
#
# Needs root (apt-get, RT's configuration) and network access to Debian's mirrors
# the first time. Everything else stays under $WORK (default /tmp/kefu-peer).
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=${WORK:-/tmp/kefu-peer}
RT_PORT=${RT_PORT:-8091}
KEFU_PORT=${KEFU_PORT:-8092}
RT_TICKETS=${RT_TICKETS:-20000}
ROUNDS=${ROUNDS:-200}
mkdir -p "$WORK"

# 1. Request Tracker 5 with its SQLite backend, from Debian's packages.
if ! dpkg -s request-tracker5 rt5-db-sqlite >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    request-tracker5 rt5-db-sqlite >/dev/null
fi
# RT's own database as the package initialised it, copied for this run, and a
# site configuration that serves it at the root of a loopback port.
cp /var/lib/dbconfig-common/sqlite3/request-tracker5/rtdb "$WORK/rtdb"
chown www-data "$WORK" "$WORK/rtdb" 2>/dev/null || true
cat > /etc/request-tracker5/RT_SiteConfig.d/99-kefu-peer.pm <<CONF
Set(\$DatabaseName, '$WORK/rtdb');
Set(\$WebPath, '');
Set(\$WebDomain, '127.0.0.1');
Set(\$WebPort, $RT_PORT);
Set(\$WebBaseURL, 'http://127.0.0.1:$RT_PORT');
Set(\$LogToSTDERR, 'error');
1;
CONF

# 2. Kefu, built for release, on the dataset given or a fresh medium one.
cargo build --release -q -p kefu
KEFU=target/release/kefu
KEFU_DB=${KEFU_DATABASE_URL:-}
if [ -z "$KEFU_DB" ]; then
  KEFU_DB="sqlite://$WORK/kefu.db"
  rm -f "$WORK"/kefu.db*
  "$KEFU" --database-url "$KEFU_DB" demo --profile medium 2>/dev/null | grep -E "^demo: [0-9]+ customers"
fi

cleanup() { kill "${RT_PID:-}" "${KEFU_PID:-}" 2>/dev/null || true; }
trap cleanup EXIT
/usr/share/request-tracker5/libexec/rt-server --port "$RT_PORT" >"$WORK/rt.log" 2>&1 &
RT_PID=$!
"$KEFU" --database-url "$KEFU_DB" serve --listen "127.0.0.1:$KEFU_PORT" >"$WORK/kefu.log" 2>&1 &
KEFU_PID=$!
for _ in $(seq 300); do
  curl -sf -o /dev/null "http://127.0.0.1:$RT_PORT/" && curl -sf -o /dev/null "http://127.0.0.1:$KEFU_PORT/healthz" && break
  for p in "$RT_PID:$WORK/rt.log" "$KEFU_PID:$WORK/kefu.log"; do
    kill -0 "${p%%:*}" 2>/dev/null || { echo "a server stopped:"; tail -5 "${p#*:}"; exit 1; }
  done
  sleep 1
done

python3 bench/peer.py --rt "http://127.0.0.1:$RT_PORT" --rt-pid "$RT_PID" --rt-db "$WORK/rtdb" \
  --kefu "http://127.0.0.1:$KEFU_PORT" --kefu-pid "$KEFU_PID" \
  --rt-tickets "$RT_TICKETS" --rounds "$ROUNDS"
