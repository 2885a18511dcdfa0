# Helpers to install and run a throwaway PostgreSQL server for the tests.
# Sourced by scripts/test.sh; needs bash.

pg_bindir() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then
    echo "$dir"
  elif command -v initdb >/dev/null 2>&1; then
    dirname "$(command -v initdb)"
  fi
}

# Installs PostgreSQL from Debian's packages when it is missing and we may.
ensure_postgres_installed() {
  if [ -n "$(pg_bindir)" ]; then
    return 0
  fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing PostgreSQL from Debian's packages"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  if [ -z "$(pg_bindir)" ]; then
    echo "PostgreSQL is not installed; install the 'postgresql' package (or set GRIDHUB_TEST_POSTGRES_URL)" >&2
    return 1
  fi
}

free_port() {
  local port
  for port in $(seq 55432 55532); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  return 1
}

# Starts a private cluster in a temporary directory; sets PG_TMP and
# GRIDHUB_TEST_POSTGRES_URL. Stop it with stop_test_postgres.
start_test_postgres() {
  local bin port run_as=()
  bin=$(pg_bindir)
  port=$(free_port)
  PG_TMP=$(mktemp -d /tmp/gridhub-pg.XXXXXX)
  if [ "$(id -u)" = 0 ]; then
    # PostgreSQL refuses to run as root.
    chown postgres:postgres "$PG_TMP"
    run_as=(runuser -u postgres --)
  fi
  "${run_as[@]}" "$bin/initdb" -D "$PG_TMP/data" -U postgres --auth=trust --encoding=UTF8 >/dev/null
  "${run_as[@]}" "$bin/pg_ctl" -D "$PG_TMP/data" -l "$PG_TMP/server.log" -w start \
    -o "-p $port -k $PG_TMP -c listen_addresses=127.0.0.1 -c max_connections=400 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" >/dev/null
  PG_RUN_AS=("${run_as[@]}")
  PG_BIN=$bin
  export GRIDHUB_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
  echo "==> PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on port $port"
}

stop_test_postgres() {
  if [ -n "${PG_TMP:-}" ] && [ -d "$PG_TMP" ]; then
    "${PG_RUN_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_TMP/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$PG_TMP"
  fi
}
