#!/usr/bin/env bash
# The production path, tested here: `wrangler dev` with real containers. Every sandbox's Durable Object starts its
# own container of container/Dockerfile through `State::container()` (workerd drives a local Docker engine), and
# the whole end-to-end suite (the Worker, both clients, the example callers) runs through them, then the tests that
# only containers can have (tests/containers: lifecycle, idle stop, a container that cannot start). The machine is
# prepared, and left clean, by scripts/with-containers.sh.
#
#   bash scripts/test-containers.sh                  installs docker.io and debootstrap when missing (root, apt)
#   bash scripts/test-containers.sh --if-available   what `npm test` runs: skips, saying why, without an engine
#   bash scripts/test-containers.sh [--if-available] FILE...   only these test files
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/docker.sh
source scripts/lib/docker.sh

if [ "${1:-}" = "--if-available" ]; then
  shift
  docker_available_or_skip test:containers || exit 0
else
  docker_install
fi
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(tests/e2e/ tests/containers/)
exec bash scripts/with-containers.sh node --test --test-concurrency=1 "${files[@]}"
