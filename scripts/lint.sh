#!/usr/bin/env bash
# The formatting and lint gate, first in `npm test`: the Rust tree formatted as rustfmt.toml says, clippy clean with
# warnings as errors for every crate and target (the agent, the protocol, the clients, the examples, the tests and
# benchmarks, and the Worker for wasm32 as it ships), and the TypeScript client checked without emitting anything
# (tests/types checks its public types once it is built). Fails at the first finding, naming it.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "lint: cargo fmt --check"
cargo fmt --all --check
echo "lint: cargo clippy (native: every crate, every target)"
cargo clippy --workspace --all-targets --locked --features sandbox-client/native --quiet -- -D warnings
echo "lint: cargo clippy (the Worker for wasm32)"
cargo clippy -p sandbox-rs --target wasm32-unknown-unknown --locked --quiet -- -D warnings
echo "lint: tsc --noEmit (the JS client; its public types are checked against a build by tests/types)"
node_modules/.bin/tsc -p clients/js/tsconfig.json --noEmit
# The client's build is committed (a caller installs the package from a clone, with nothing to build): it must be
# what the sources compile to.
echo "lint: clients/js/dist is the build of clients/js/src (npm run build:client writes it)"
built=$(mktemp -d)
node_modules/.bin/tsc -p clients/js/tsconfig.json --outDir "$built"
if ! diff -r "$built" clients/js/dist >/dev/null; then
  diff -r "$built" clients/js/dist | head -20 >&2
  rm -rf "$built"
  echo "lint: clients/js/dist differs from its sources: run npm run build:client and commit it" >&2
  exit 1
fi
rm -rf "$built"
echo "lint: clean"
