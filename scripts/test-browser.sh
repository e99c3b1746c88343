#!/usr/bin/env bash
# The terminal page in a real browser (tests/browser): Debian's Chromium, driven by playwright-core from npm, on
# the local stack. Installs Chromium when it is missing and this is root with apt.
#
#   bash scripts/test-browser.sh                  fails without Chromium
#   bash scripts/test-browser.sh --if-available   what `npm test` runs: skips, saying why, without one
set -euo pipefail
cd "$(dirname "$0")/.."

browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "test:browser: installing Debian's chromium" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >/dev/null \
    || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >/dev/null; } \
    || true
  browser=$(command -v chromium || true)
fi
if [ -z "$browser" ]; then
  if [ "${1:-}" = "--if-available" ]; then
    echo "test:browser: skipped: no Chromium here, and it cannot be installed (needs root and apt)" >&2
    exit 0
  fi
  echo "test:browser: Chromium is required (Debian: apt-get install chromium)" >&2
  exit 1
fi
SANDBOX_CHROMIUM="$browser" node --test --test-concurrency=1 tests/browser/
