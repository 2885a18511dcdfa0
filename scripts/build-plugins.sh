#!/usr/bin/env bash
# Builds plugin crates to wasm32-unknown-unknown and copies the modules to
# target/plugins/<crate>.wasm: every crate under plugins/, or only the crate
# directories given as arguments. PLUGIN_OUT_DIR changes the output folder;
# PLUGIN_OUT_SUFFIX=-v2 names the copies
# <crate>-v2.wasm (tests build a second version of a plugin that way).
#
# Toolchain: the rustup target wasm32-unknown-unknown when it can be had;
# otherwise Debian's rustc-web/cargo-web/rust-web-src/lld with -Zbuild-std
# (installed here when missing and running as root). Force one with
# GRIDHUB_WASM_TOOLCHAIN=rustup|debian.
set -euo pipefail
cd "$(dirname "$0")/.."

out=${PLUGIN_OUT_DIR:-target/plugins}
mkdir -p "$out"
choice=${GRIDHUB_WASM_TOOLCHAIN:-auto}

rustup_ready() {
  command -v rustup >/dev/null 2>&1 || return 1
  rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown && return 0
  timeout 300 rustup target add wasm32-unknown-unknown >/dev/null 2>&1
}

debian_ready() {
  if [ ! -x /usr/bin/rustc ] || [ ! -x /usr/bin/wasm-ld ] || [ ! -d /usr/lib/rustlib/src/rust/library ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "==> installing Debian's wasm toolchain (rustc-web, cargo-web, rust-web-src, lld)"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rustc-web cargo-web rust-web-src lld >/dev/null
    fi
  fi
  [ -x /usr/bin/rustc ] && [ -x /usr/bin/cargo ] && [ -x /usr/bin/wasm-ld ]
}

case "$choice" in
  rustup) rustup_ready || { echo "rustup cannot provide wasm32-unknown-unknown" >&2; exit 1; }; toolchain=rustup ;;
  debian) debian_ready || { echo "Debian's wasm toolchain is not available" >&2; exit 1; }; toolchain=debian ;;
  auto)
    if rustup_ready; then toolchain=rustup
    elif debian_ready; then toolchain=debian
    else echo "no wasm32 toolchain: install the rustup target wasm32-unknown-unknown, or Debian's rustc-web cargo-web rust-web-src lld" >&2; exit 1
    fi ;;
  *) echo "GRIDHUB_WASM_TOOLCHAIN must be rustup, debian or auto" >&2; exit 1 ;;
esac

crates=()
if [ $# -eq 0 ]; then set -- plugins/*/Cargo.toml; fi
for manifest in "$@"; do
  [ -e "$manifest" ] || continue
  case "$manifest" in *Cargo.toml) ;; *) manifest="$manifest/Cargo.toml" ;; esac
  crates+=("$manifest")
done

# Plugins carry only the time zones of the US markets (and UTC): the full tz
# database would add a megabyte to every plugin. Override to serve others.
export CHRONO_TZ_TIMEZONE_FILTER=${CHRONO_TZ_TIMEZONE_FILTER:-'(America/(New_York|Chicago|Denver|Phoenix|Los_Angeles|Anchorage)|Pacific/Honolulu|UTC)'}

build() {
  local manifest=$1
  if [ "$toolchain" = rustup ]; then
    cargo build --quiet --locked --manifest-path "$manifest" --target wasm32-unknown-unknown --profile plugin
  else
    RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc \
    CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld \
      /usr/bin/cargo build --quiet --locked --manifest-path "$manifest" \
      --target wasm32-unknown-unknown --profile plugin -Zbuild-std=std,panic_abort
  fi
}

echo "==> building ${#crates[@]} plugin(s) to wasm32 with the $toolchain toolchain"
for manifest in "${crates[@]}"; do
  name=$(sed -n 's/^name *= *"\(.*\)"/\1/p' "$manifest" | head -n 1)
  build "$manifest"
  target_dir=$(cargo metadata --format-version 1 --no-deps --manifest-path "$manifest" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
  dest="$out/$name${PLUGIN_OUT_SUFFIX:-}.wasm"
  cp "$target_dir/wasm32-unknown-unknown/plugin/${name//-/_}.wasm" "$dest"
  echo "    $dest ($(wc -c < "$dest") bytes)"
done
