#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster for the registry tests: Debian's postgresql (installed if
# missing and we are root), run as the `postgres` user, listening on 127.0.0.1 only, trust auth, in a
# temp folder. Prints shell lines to eval: LINEAGE_TEST_PG_URL and LINEAGE_TEST_PG_DATA.
# Stop it with: scripts/ci/stop-postgres.sh (or pg_ctl -D "$LINEAGE_TEST_PG_DATA" stop as postgres).
set -euo pipefail

port="${LINEAGE_TEST_PG_PORT:-54329}"
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
if [ -z "$bin" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "start-postgres: PostgreSQL is not installed and we are not root" >&2
    exit 1
  fi
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
fi

data="$(mktemp -d /tmp/lineage-pg-XXXXXX)"
run_as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$data"; fi
run_as_postgres "$bin/initdb" -D "$data/cluster" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
# Throwaway settings: fast, not durable (a crashed CI runner loses nothing of value).
run_as_postgres "$bin/pg_ctl" -D "$data/cluster" -l "$data/log" -w -o "-p $port -k $data -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100" start >/dev/null
run_as_postgres "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres lineage_test

echo "export LINEAGE_TEST_PG_URL=postgres://postgres@127.0.0.1:$port/lineage_test"
echo "export LINEAGE_TEST_PG_DATA=$data/cluster"
echo "export LINEAGE_TEST_PG_BIN=$bin"
