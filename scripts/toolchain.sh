#!/usr/bin/env bash
# Installs what building the Worker needs, on a fresh machine: the wasm32 target, worker-build, the
# wasm-bindgen CLI at exactly the version in Cargo.lock, the npm packages (wrangler, typescript, binaryen's
# wasm-opt, xterm.js for the terminal page, playwright-core for its browser test), and bubblewrap for
# the local jails (as root, from Debian). Skips what is there.
# Prints the environment lines the build needs.
set -euo pipefail
cd "$(dirname "$0")/.."

bin="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$bin:$PATH"

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown >&2
fi

if ! worker-build --version 2>/dev/null | grep -q "0.8.7"; then
  cargo install --locked worker-build --version 0.8.7 >&2
fi

# worker-build would download wasm-bindgen from GitHub, which these machines cannot reach: use one built from
# crates.io at the version Cargo.lock pins (without --locked: its own lock file names a yanked crate).
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if ! wasm-bindgen --version 2>/dev/null | grep -q " $want\$"; then
  cargo install wasm-bindgen-cli --version "$want" --force >&2
fi

# Local sandboxes are jailed with bubblewrap, get their way out through slirp4netns, and have the host's addresses
# closed with iproute2's ip (Debian's packages); without bubblewrap the local agent runs them unconfined, without
# slirp4netns they have no network.
if { ! command -v bwrap || ! command -v slirp4netns || ! command -v ip; } >/dev/null \
  && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap slirp4netns iproute2) >&2 \
    || echo "toolchain: could not install bubblewrap, slirp4netns and iproute2; local sandboxes may be unconfined" >&2
fi

# (Every package the scripts use: one missing means node_modules predates package-lock.json.)
if [ ! -x node_modules/.bin/wrangler ] || [ ! -x node_modules/.bin/tsc ] || [ ! -x node_modules/.bin/wasm-opt ] \
  || [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/@xterm/xterm ]; then
  npm ci --no-audit --no-fund >&2
fi
