#!/usr/bin/env bash
# The local stack: the agent in multi-sandbox mode (each sandbox in its own bubblewrap jail, its workspace under
# .state/sandboxes/<id>; unconfined, with a loud warning, where the machine cannot make namespaces) and the
# Worker under `wrangler dev`, its Durable Objects forwarding to that agent. With --with-examples, the example
# caller Workers too (examples/js-caller on PORT+1, examples/rust-caller on PORT+2), bound to it as SANDBOX
# through wrangler's dev registry. Ctrl-C stops everything.
#
# With --containers, the production path instead: no host agent; each sandbox's Durable Object starts a real
# container of container/Dockerfile through `State::container()`, with a local Docker engine (started here if
# none runs; scripts/lib/docker.sh says what it had to make or substitute). Stopping removes the containers and
# their sidecars, and the engine if it was started here.
set -euo pipefail
cd "$(dirname "$0")/.."

port="${PORT:-8787}"
agent_port="${AGENT_PORT:-3000}"
# Where the local stack keeps its sandboxes' folders and wrangler's state (SANDBOX_STATE_DIR: another stack's).
state="$(realpath -m "${SANDBOX_STATE_DIR:-.state}")"
# No inspector unless asked for (INSPECTOR_PORT): its protocol runs code in the Worker with its variables.
inspector="${INSPECTOR_PORT:-}"
examples=false
containers=false
for arg in "$@"; do
  case "$arg" in
    --with-examples) examples=true ;;
    --containers) containers=true ;;
    *) echo "usage: npm run dev [-- --with-examples] [-- --containers]" >&2; exit 2 ;;
  esac
done

bash scripts/toolchain.sh
if $containers; then
  # shellcheck source=lib/docker.sh
  source scripts/lib/docker.sh
  docker_engine_possible || docker_install
  docker_prepare_for_wrangler .state
  export CLOUDFLARE_CF_FETCH_ENABLED=false WRANGLER_SEND_METRICS=false
  trap 'docker_remove_dev_containers_of sandbox-rs; docker_engine_stop' EXIT
  trap 'exit 130' INT TERM
  cat <<TXT

sandbox-rs on http://127.0.0.1:${port}, each sandbox in its own container (the first call builds the image)
try:
  curl -s -X POST http://127.0.0.1:${port}/v1/sandboxes/my-sandbox/exec -H 'content-type: application/json' -d '{"command":"echo hello"}'

TXT
  # Through wrangler's API as below, with no inspector unless asked for (an attached inspector also slows every
  # large transfer: scripts/dev-worker.mjs says why).
  node scripts/dev-worker.mjs --port "$port" --persist-to .state/wrangler --containers \
    ${inspector:+--inspector-port "$inspector"} --var SANDBOX_LOCAL_DEV:1 \
    --var "SANDBOX_PREVIEW_HOST:localhost:${port}" &
  wait "$!"
  exit
fi
cargo build --release --locked -p sandbox-agent
mkdir -p "$state/sandboxes"
# wrangler's default dev registry: a caller Worker of the user's, run with plain `wrangler dev` anywhere on this
# machine, finds `sandbox-rs` through it (README, "Calling it from another Worker").
export CLOUDFLARE_CF_FETCH_ENABLED=false WRANGLER_SEND_METRICS=false
confinement=()
# (The agent's own probe: user and network namespaces, as an unprivileged uid of its jails' range when root.)
as_jail=()
[ "$(id -u)" = 0 ] && as_jail=(setpriv --reuid=1073741824 --regid=1073741824 --clear-groups)
if ! (cd / && env -i "${as_jail[@]}" bwrap --unshare-user --uid 0 --unshare-pid --unshare-net --ro-bind / / \
  --proc /proc --dev /dev true) 2>/dev/null; then
  echo "npm run dev: WARNING: bubblewrap cannot make namespaces here: local sandboxes run UNCONFINED, as $(id -un)" \
    "on this machine. Run only code you would run yourself." >&2
  confinement=(--unconfined)
fi
# The agent answers only the Worker, not whatever else runs on this machine (a jail has a loopback of its own).
agent_token="agent-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
SANDBOX_AGENT_TOKEN="$agent_token" ./target/release/sandbox-agent --listen "127.0.0.1:${agent_port}" \
  --multi-sandbox "$state/sandboxes" "${confinement[@]}" &
pids=("$!")
# Every process started here stops with the script: on Ctrl-C, on SIGTERM, or when one of them ends.
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null' EXIT
trap 'exit 130' INT TERM

if $examples; then
  node_modules/.bin/tsc -p clients/js/tsconfig.json
  n=0
  for example in js-caller rust-caller; do
    n=$((n + 1))
    # Through wrangler's API, without an inspector (a caller's would drive the sandboxes through its binding);
    # with INSPECTOR_PORT, each its own port next to the sandbox Worker's.
    (cd "examples/$example" && exec node ../../scripts/dev-worker.mjs --port "$((port + n))" \
      --persist-to "$state/wrangler-callers" ${inspector:+--inspector-port "$((inspector + n))"}) &
    pids+=("$!")
  done
fi

cat <<TXT

sandbox-rs on http://127.0.0.1:${port} (agent on 127.0.0.1:${agent_port})
try:
  curl -s -X POST http://127.0.0.1:${port}/v1/sandboxes/my-sandbox/exec -H 'content-type: application/json' -d '{"command":"echo hello"}'
TXT
if $examples; then
  cat <<TXT
example callers (service binding SANDBOX → sandbox-rs), once built:
  curl -s -X POST http://127.0.0.1:$((port + 1))/examples/custom-environment    # JavaScript
  curl -s -X POST http://127.0.0.1:$((port + 2))/examples/custom-environment    # Rust
a terminal on my-sandbox in the browser (it reattaches after a reload):
  http://127.0.0.1:$((port + 1))/terminal.html
TXT
fi
echo
# In the background, so that a signal to this script is handled at once (bash holds traps while a foreground
# command runs).
node scripts/dev-worker.mjs --port "$port" --persist-to "$state/wrangler" ${inspector:+--inspector-port "$inspector"} \
  --var "SANDBOX_AGENT_URL:http://127.0.0.1:${agent_port}" --var "SANDBOX_AGENT_TOKEN:${agent_token}" \
  --var "SANDBOX_PREVIEW_HOST:localhost:${port}" &
pids+=("$!")
wait "$!"
