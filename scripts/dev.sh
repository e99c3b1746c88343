#!/usr/bin/env bash
# The local stack: builds the agent and runs it in multi-sandbox mode on 127.0.0.1, with every sandbox's
# workspace under .state/sandboxes/<id>. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."

port="${AGENT_PORT:-3000}"
cargo build --release --locked -p sandbox-agent
mkdir -p .state/sandboxes
cat <<TXT

sandbox-agent on http://127.0.0.1:${port} (one sandbox per X-Sandbox-Id header)
try:
  curl -s -X POST http://127.0.0.1:${port}/v1/exec -H 'X-Sandbox-Id: my-sandbox' -d '{"command":"echo hello"}'

TXT
exec ./target/release/sandbox-agent --listen "127.0.0.1:${port}" --multi-sandbox .state/sandboxes
