#!/usr/bin/env bash
# Runs every test: unit tests and the end-to-end suite on SQLite, then the
# end-to-end suite again on PostgreSQL. The Connect tests drive Debian's
# chromium through chromedriver (installed here when missing, as root).
#
# PostgreSQL: uses GRIDHUB_TEST_POSTGRES_URL when set (a server where the user
# may CREATE DATABASE); otherwise installs PostgreSQL from Debian's packages if
# needed (as root) and starts a throwaway server for the run.
# GRIDHUB_SKIP_POSTGRES=1 skips the PostgreSQL pass (not for CI).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/postgres.sh
source scripts/lib/browser.sh

export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

echo "==> building"
cargo build --workspace --all-targets --locked

# The plugins the tests install: the program plugins, and misbehaving ones
# for the sandbox tests (plus a second version of one, for upgrade and rollback).
scripts/build-plugins.sh
PLUGIN_OUT_DIR=target/test-plugins scripts/build-plugins.sh tests/plugins/hostile tests/plugins/wrong-contract tests/plugins/bench-baseline
HOSTILE_VERSION=0.2.0 PLUGIN_OUT_DIR=target/test-plugins PLUGIN_OUT_SUFFIX=-v2 scripts/build-plugins.sh tests/plugins/hostile

# The Connect flow is tested in a real headless Chromium.
ensure_browser_installed

echo "==> tests on SQLite"
GRIDHUB_TEST_POSTGRES_URL= cargo test --workspace --locked

if [ "${GRIDHUB_SKIP_POSTGRES:-0}" = 1 ]; then
  echo "==> skipping PostgreSQL (GRIDHUB_SKIP_POSTGRES=1)"
  exit 0
fi
if [ -z "${GRIDHUB_TEST_POSTGRES_URL:-}" ]; then
  ensure_postgres_installed
  trap stop_test_postgres EXIT
  start_test_postgres
fi
echo "==> end-to-end tests on PostgreSQL"
cargo test --locked -p gridhub-tests
