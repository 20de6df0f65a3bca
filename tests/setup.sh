#!/usr/bin/env bash
# Installs the outside programs the test suite needs (idempotent):
#   promtool + prometheus (Debian package `prometheus`) for the metrics tests,
#   stomp.py (PyPI) for the Python client tests.
# Tests that need one of these FAIL when it is missing; they never skip.
set -euo pipefail
need_apt=""
command -v promtool >/dev/null 2>&1 || need_apt="$need_apt prometheus"
if [ -n "$need_apt" ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $need_apt >/dev/null
  # The package may start a system Prometheus on :9090; the tests run their own.
  $SUDO systemctl stop prometheus >/dev/null 2>&1 || $SUDO service prometheus stop >/dev/null 2>&1 || true
fi
python3 -c 'import stomp' >/dev/null 2>&1 || python3 -m pip install -q 'stomp.py==9.0.0'
echo "test prerequisites installed"
