#!/usr/bin/env bash
# Starts a throw-away PostgreSQL cluster on loopback for the tests and prints the DATABASE_URL to use.
# Needs Debian's postgresql package (apt-get install -y postgresql). Usage: export DATABASE_URL=$(scripts/postgres-test-cluster.sh)
set -euo pipefail
port="${EHMI_TEST_PG_PORT:-55432}"
# Take the next free port if a cluster (ours from an earlier run, or another) listens there already.
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bin" ]; then
  echo "postgres-test-cluster: no PostgreSQL server found (apt-get install -y postgresql)" >&2
  exit 1
fi
data=$(mktemp -d /tmp/ehmi-pg.XXXXXX)
chown postgres:postgres "$data"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
as_pg "$bin/initdb" -D "$data" -A trust -U postgres -E UTF8 >"$data.initdb.log" 2>&1 || { cat "$data.initdb.log" >&2; exit 1; }
as_pg "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $port -k /tmp -c max_connections=200 -c shared_preload_libraries=pg_stat_statements" start >&2
as_pg "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres ehmi_test
# The bench ranks statements per message with pg_stat_statements when the database has it.
as_pg "$bin/psql" -q -h 127.0.0.1 -p "$port" -U postgres -d ehmi_test -c "create extension if not exists pg_stat_statements" >&2
echo "postgres://postgres@127.0.0.1:$port/ehmi_test"
