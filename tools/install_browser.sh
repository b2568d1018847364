#!/usr/bin/env bash
# Install the headless browser of the browser tests (tests/test_browser.py): Debian's chromium, if it is missing.
# Idempotent; needs root (or password-less sudo) and apt-get. Elsewhere install Chromium yourself and point
# DEEPEARTH_CHROMIUM at it.
set -euo pipefail
if [ -x "${DEEPEARTH_CHROMIUM:-/usr/bin/chromium}" ]; then
  echo "chromium present: ${DEEPEARTH_CHROMIUM:-/usr/bin/chromium}"; exit 0
fi
command -v apt-get >/dev/null || { echo "no apt-get here: install Chromium and set DEEPEARTH_CHROMIUM" >&2; exit 1; }
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo -n"
  else echo "installing chromium needs root: run 'sudo tools/install_browser.sh'" >&2; exit 1; fi
fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver
test -x /usr/bin/chromium && echo "chromium installed: /usr/bin/chromium"
