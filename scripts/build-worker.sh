#!/usr/bin/env bash
# Builds the Worker (Rust → WASM) into build/worker with worker-build, using the local wasm-bindgen.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/toolchain.sh
bin="${CARGO_HOME:-$HOME/.cargo}/bin"
WASM_BINDGEN_BIN="$bin/wasm-bindgen" "$bin/worker-build" --release
