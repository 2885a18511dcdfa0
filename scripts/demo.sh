#!/usr/bin/env bash
# Builds gridhub and the program plugins and runs it with demo data on the embedded SQLite database
# (./data/gridhub.db). Extra arguments go to `gridhub serve`, e.g. --bind 0.0.0.0:8080.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is required: install Rust from https://rustup.rs" >&2
  exit 1
fi
# The program plugins, installed at start for programs that have none yet.
scripts/build-plugins.sh
exec cargo run --locked -p gridhub-api --bin gridhub -- serve --demo --plugin-dir target/plugins "$@"
