#!/usr/bin/env bash
# Stops and deletes the throwaway cluster that start-postgres.sh started (from its exported variables).
set -uo pipefail
[ -n "${LINEAGE_TEST_PG_DATA:-}" ] || exit 0
if [ "$(id -u)" = 0 ]; then
  runuser -u postgres -- "$LINEAGE_TEST_PG_BIN/pg_ctl" -D "$LINEAGE_TEST_PG_DATA" -m fast stop >/dev/null 2>&1
else
  "$LINEAGE_TEST_PG_BIN/pg_ctl" -D "$LINEAGE_TEST_PG_DATA" -m fast stop >/dev/null 2>&1
fi
rm -rf "$(dirname "$LINEAGE_TEST_PG_DATA")"
