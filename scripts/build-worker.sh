#!/usr/bin/env bash
# Builds a Worker (Rust → WASM) with worker-build, using the local wasm-bindgen: the sandbox Worker into build/,
# or the crate in the folder given (an example caller) into its own build/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/toolchain.sh
bin="${CARGO_HOME:-$HOME/.cargo}/bin"
cd "${1:-.}"
WASM_BINDGEN_BIN="$bin/wasm-bindgen" "$bin/worker-build" --release
