#!/usr/bin/env bash
# Every test of the project, from a fresh machine: the Rust unit and integration tests (the real agent binary,
# real bash, real files). Installs nothing by hand-off: cargo fetches the crates it needs.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo >/dev/null || { echo "cargo is required (install Rust with rustup)" >&2; exit 1; }
command -v bash >/dev/null || { echo "bash is required" >&2; exit 1; }

cargo test --workspace --locked
