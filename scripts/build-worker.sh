#!/usr/bin/env bash
# Builds a Worker (Rust → WASM) with worker-build, using the local wasm-bindgen: the sandbox Worker into build/,
# or the crate in the folder given (an example caller) into its own build/. Then shrinks and speeds up its WASM with
# binaryen's wasm-opt (from npm; worker-build's own download of it cannot work here), at -O3: a build whose WASM
# is unchanged reuses the last result (`wrangler dev` rebuilds at every start). SANDBOX_WASM_OPT=0 skips it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bash scripts/toolchain.sh
bin="${CARGO_HOME:-$HOME/.cargo}/bin"
cd "${1:-.}"
WASM_BINDGEN_BIN="$bin/wasm-bindgen" "$bin/worker-build" --release

wasm=build/index_bg.wasm
[ "${SANDBOX_WASM_OPT:-1}" = 0 ] && exit 0
[ -f "$wasm" ] || { echo "build-worker: no $wasm" >&2; exit 1; }
cache=build/.wasm-opt
mkdir -p "$cache"
input=$(sha256sum "$wasm" | cut -d' ' -f1)
if [ -f "$cache/$input.wasm" ]; then
  cp "$cache/$input.wasm" "$wasm"
else
  rm -f "$cache"/*.wasm
  before=$(stat -c %s "$wasm")
  # The features Rust's wasm32 target emits, which workerd runs.
  "$root/node_modules/.bin/wasm-opt" -O3 --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue --enable-exception-handling "$wasm" -o "$cache/$input.wasm"
  cp "$cache/$input.wasm" "$wasm"
  echo "build-worker: wasm-opt -O3: $before -> $(stat -c %s "$wasm") bytes" >&2
fi
