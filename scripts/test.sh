#!/usr/bin/env bash
# Every test of the project, from a fresh machine: the lint gate (scripts/lint.sh), the Rust unit and integration
# tests (the real agent binary, real bash, real files), then the end-to-end suite through the real workerd
# (`wrangler dev`), the Worker and the agent, with the JavaScript client and the example caller Workers, and the
# terminal page in a real browser (scripts/test-browser.sh); then, when
# a Docker engine runs or can be installed here, the container image (scripts/test-image.sh) and the production
# path: the end-to-end suite again through real containers started by the Durable Objects, and what only
# containers show (scripts/test-containers.sh). Installs what it needs (scripts/toolchain.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo >/dev/null || { echo "cargo is required (install Rust with rustup)" >&2; exit 1; }
command -v node >/dev/null || { echo "node (20 or newer) is required" >&2; exit 1; }

# Everything first (the wasm tools, npm packages, and bubblewrap, which the agent's jail tests need too).
bash scripts/toolchain.sh
# Formatting and lints first (scripts/lint.sh): a finding fails the run before any test.
bash scripts/lint.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
# (with the Rust client's native transport, whose example program the end-to-end suite runs)
cargo test --workspace --locked --features sandbox-client/native 2>&1 | tee "$log" || status=$?
if [ "$status" -eq 0 ]; then
  bash scripts/build-worker.sh
  node_modules/.bin/tsc -p clients/js/tsconfig.json
  node --test --test-concurrency=1 tests/types/ tests/e2e/ 2>&1 | tee -a "$log" || status=$?
fi
if [ "$status" -eq 0 ]; then
  # The soak: random concurrent operations against a real local agent beside a CPU hog, for a fixed budget
  # (`npm run soak`; SOAK_SECONDS longer, SOAK_SEED to replay the seed it prints).
  SOAK_SECONDS="${SOAK_SECONDS:-40}" node tests/soak/soak.mjs 2>&1 | tee -a "$log" || status=$?
fi
if [ "$status" -eq 0 ]; then
  # The terminal page in Chromium (installed when missing, with root and apt; skipped, saying why, otherwise).
  bash scripts/test-browser.sh --if-available 2>&1 | tee -a "$log" || status=$?
fi
if [ "$status" -eq 0 ]; then
  # The container image, when a Docker engine is (or can be started) here; skipped with a message otherwise.
  bash scripts/test-image.sh --if-available 2>&1 | tee -a "$log" || status=$?
fi
if [ "$status" -eq 0 ]; then
  # The production path (`State::container()`, real containers under `wrangler dev`); skipped, saying why, where
  # no Docker engine runs or can be installed.
  bash scripts/test-containers.sh --if-available 2>&1 | tee -a "$log" || status=$?
fi
# One closing line for the whole run, summed over every test binary and the end-to-end suite.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
     /^# pass / { p += $3 } /^# fail / { f += $3 }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
exit "$status"
