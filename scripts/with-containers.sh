#!/usr/bin/env bash
# Runs a command against the production path here: everything `wrangler dev --enable-containers` needs is
# prepared (scripts/lib/docker.sh: the engine, base images where no registry is reachable, the egress interceptor,
# the CLI wrangler runs; it says which it made), the Worker and the JS client are built, and the command runs with
# SANDBOX_E2E_STACK=containers, so that tests/e2e/stack.mjs starts stacks whose sandboxes are real containers.
# Afterwards nothing of the run is left: its containers and sidecars, the images wrangler built, the images made
# here are removed (the run fails if any remain), and the engine is stopped if this started it.
#
#   bash scripts/with-containers.sh COMMAND...      (scripts/test-containers.sh, npm run bench:containers)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/docker.sh
source scripts/lib/docker.sh
[ $# -gt 0 ] || { echo "usage: scripts/with-containers.sh COMMAND..." >&2; exit 2; }

dangling() { docker images -aq --no-trunc --filter dangling=true 2>/dev/null | sort; }
dangling_before=""
# What a run may leave: sandbox containers and their sidecars (every Worker it starts is named sandbox-rs*), and
# the images wrangler built for them (for dev, and for a deploy dry run).
leftovers() {
  docker ps -a --filter 'name=^/workerd-sandbox-rs' --format '{{.Names}}'
  docker images --format '{{.Repository}}:{{.Tag}}' cloudflare-dev/sandbox
  docker images --format '{{.Repository}}:{{.Tag}}' sandbox-rs-sandbox
}
cleanup() {
  status=$?
  set +e
  docker_remove_dev_containers_of sandbox-rs
  # The images of this run: what wrangler built (cloudflare-dev/sandbox:<tag> for dev, sandbox-rs-sandbox:worker for
  # a deploy dry run), the build stages it left, and the images made here.
  images=$(docker images -q cloudflare-dev/sandbox 2>/dev/null; docker images -q sandbox-rs-sandbox 2>/dev/null)
  [ -n "$images" ] && docker rmi -f $images >/dev/null 2>&1
  new=$(comm -13 <(printf '%s\n' "$dangling_before") <(dangling))
  [ -n "$new" ] && docker rmi -f $new >/dev/null 2>&1
  docker rmi -f "$docker_local_egress" "$docker_local_rust" "$docker_local_base" >/dev/null 2>&1
  left=$(leftovers 2>/dev/null)
  if [ -n "$left" ]; then
    echo "containers: FAILED: left behind after the run:"
    echo "$left" | sed 's/^/  /'
    status=1
  else
    echo "containers: nothing of the run is left (no container, sidecar or image of it)"
  fi
  docker_engine_stop
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

docker_engine_start .state
dangling_before=$(dangling)
docker_prepare_for_wrangler .state
# Each stack starts `wrangler dev` itself; the first builds the image, the others hit the cache.
bash scripts/build-worker.sh >/dev/null
node_modules/.bin/tsc -p clients/js/tsconfig.json
SANDBOX_E2E_STACK=containers "$@"
