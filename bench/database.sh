# Sourced by bench/run.sh and reliability/soak.sh: sets URL to the dataset's
# database for $BACKEND and $PROFILE — an SQLite file in $WORK, or the PostgreSQL
# database kefu_<profile> on $PG, created when missing.
case "$BACKEND" in
  sqlite) URL="sqlite://$WORK/kefu-$PROFILE.db" ;;
  postgres)
    URL="$PG/kefu_$PROFILE"
    psql "$PG/postgres" -qAtc "SELECT 1 FROM pg_database WHERE datname = 'kefu_$PROFILE'" | grep -q 1 \
      || psql "$PG/postgres" -qc "CREATE DATABASE kefu_$PROFILE" ;;
  *) echo "backend: sqlite or postgres" >&2; exit 1 ;;
esac
