# Installs the headless browser the Connect tests drive (Debian's chromium
# and its WebDriver, chromium-driver) when it is missing and we may.
# Sourced by scripts/test.sh; needs bash.

ensure_browser_installed() {
  if [ -x "${GRIDHUB_CHROMEDRIVER:-/usr/bin/chromedriver}" ] && [ -x "${GRIDHUB_CHROMIUM:-/usr/bin/chromium}" ]; then
    return 0
  fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing chromium and chromium-driver from Debian's packages"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  fi
  if ! [ -x "${GRIDHUB_CHROMEDRIVER:-/usr/bin/chromedriver}" ]; then
    echo "chromedriver is missing: install Debian's chromium and chromium-driver packages (or set GRIDHUB_CHROMEDRIVER and GRIDHUB_CHROMIUM)" >&2
    return 1
  fi
}
