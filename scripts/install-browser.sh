#!/usr/bin/env bash
# Install Debian's chromium for the UI browser test and benchmarks/ui.py.
# We never download a browser build (no `playwright install`): Playwright drives
# the distro package through executable_path=/usr/bin/chromium.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
    echo "install-browser: $CHROMIUM already present ($("$CHROMIUM" --version 2>/dev/null || echo 'version unknown'))"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-browser: $CHROMIUM missing and apt-get not available; the browser test will be skipped" >&2
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-browser: $CHROMIUM missing and not running as root; run 'sudo apt-get install -y chromium' to enable the browser test" >&2
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
# Only refresh the package lists when apt has none (fresh CI containers).
if [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e '^lock$' -e '^partial$' || true)" ]; then
    apt-get update -q
fi
if ! apt-get install -y -q --no-install-recommends chromium fonts-liberation; then
    apt-get update -q
    apt-get install -y -q --no-install-recommends chromium fonts-liberation
fi
echo "install-browser: installed $("$CHROMIUM" --version 2>/dev/null || echo chromium)"
