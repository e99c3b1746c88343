#!/usr/bin/env bash
# The local stack: the agent in multi-sandbox mode (each sandbox's workspace under .state/sandboxes/<id>) and the
# Worker under `wrangler dev`, its Durable Objects forwarding to that agent. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."

port="${PORT:-8787}"
agent_port="${AGENT_PORT:-3000}"
bash scripts/toolchain.sh
cargo build --release --locked -p sandbox-agent
mkdir -p .state/sandboxes
./target/release/sandbox-agent --listen "127.0.0.1:${agent_port}" --multi-sandbox .state/sandboxes &
agent=$!
trap 'kill "$agent" 2>/dev/null; wait "$agent" 2>/dev/null' EXIT INT TERM
cat <<TXT

sandbox-rs on http://127.0.0.1:${port} (agent on 127.0.0.1:${agent_port})
try:
  curl -s -X POST http://127.0.0.1:${port}/v1/sandboxes/my-sandbox/exec -d '{"command":"echo hello"}'

TXT
CLOUDFLARE_CF_FETCH_ENABLED=false WRANGLER_SEND_METRICS=false \
  node_modules/.bin/wrangler dev --ip 127.0.0.1 --port "$port" --persist-to .state/wrangler \
  --var "SANDBOX_AGENT_URL:http://127.0.0.1:${agent_port}"
