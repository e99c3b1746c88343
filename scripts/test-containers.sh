#!/usr/bin/env bash
# The production path, tested here: `wrangler dev` with real containers. Every sandbox's Durable Object starts its
# own container of container/Dockerfile through `State::container()` (workerd drives a local Docker engine), and
# the whole end-to-end suite (the Worker, both clients, the example callers) runs through them, then the lifecycle
# tests that only containers can have (tests/containers). Prepares what the machine lacks and nothing more
# (scripts/lib/docker.sh: the engine, base images where no registry is reachable, the egress interceptor, the CLI
# wrangler runs) and says which it did. Leaves no container, sidecar or image of its own behind, and stops the
# engine if it started it.
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
  if ! docker_engine_possible || ! { docker info >/dev/null 2>&1 || command -v debootstrap >/dev/null; }; then
    echo "test:containers SKIPPED: no Docker engine here (no running daemon, and no dockerd and debootstrap to start one)."
    echo "  Run 'npm run test:containers' as root to install docker.io and debootstrap from Debian and run it."
    exit 0
  fi
else
  docker_install
fi
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(tests/e2e/ tests/containers/)

dangling() { docker images -aq --no-trunc --filter dangling=true 2>/dev/null | sort; }
dangling_before=""
cleanup() {
  set +e
  docker_remove_dev_containers_of sandbox-rs
  # The images of this run: what wrangler built (cloudflare-dev/sandbox:<tag>), the build stages it left, and the
  # images made here.
  images=$(docker images -q cloudflare-dev/sandbox 2>/dev/null)
  [ -n "$images" ] && docker rmi -f $images >/dev/null 2>&1
  new=$(comm -13 <(printf '%s\n' "$dangling_before") <(dangling))
  [ -n "$new" ] && docker rmi -f $new >/dev/null 2>&1
  docker rmi -f "$docker_local_egress" "$docker_local_rust" "$docker_local_base" >/dev/null 2>&1
  docker_engine_stop
}
trap cleanup EXIT

docker_engine_start .state
dangling_before=$(dangling)
docker_prepare_for_wrangler .state
# The suite starts `wrangler dev` itself, once per test file; the first builds the image, the others hit the cache.
bash scripts/build-worker.sh >/dev/null
node_modules/.bin/tsc -p clients/js/tsconfig.json
SANDBOX_E2E_STACK=containers node --test --test-concurrency=1 "${files[@]}"
