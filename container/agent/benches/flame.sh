#!/usr/bin/env bash
# A flame graph of the release agent while it answers one kind of request over and over, for the benchmark
# results: `bash container/agent/benches/flame.sh listing|output [out.svg]`.
#   listing: listFiles of a 10,000-entry directory; output: an exec printing 10 MB.
# Needs `perf` (Debian: linux-perf) and inferno (`cargo install inferno`); not part of the tests.
set -euo pipefail
kind=${1:?listing or output}
root=$(cd "$(dirname "$0")/../../.." && pwd)
out=${2:-$root/container/agent/benches/flame-$kind.svg}
for tool in perf inferno-collapse-perf inferno-flamegraph curl; do
  command -v "$tool" >/dev/null || { echo "flame.sh: $tool is not installed" >&2; exit 1; }
done
(cd "$root" && cargo build --release -p sandbox-agent)
work=$(mktemp -d)
trap 'kill "$agent" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir "$work/many"
(cd "$work/many" && for i in $(seq -w 0 9999); do : > "file-$i.txt"; done)
head -c 10485760 /dev/zero | tr '\0' a > "$work/ten-mb"
"$root/target/release/sandbox-agent" --listen 127.0.0.1:0 --workspace "$work" > "$work/agent.out" 2>/dev/null &
agent=$!
until grep -q 'listening on' "$work/agent.out"; do sleep 0.05; done
url=$(grep -o 'http://[0-9.:]*' "$work/agent.out" | head -1)
case $kind in
  listing) path=/v1/files/list body='{"path":"many"}' n=100 ;;
  output) path=/v1/exec body="{\"command\":\"cat $work/ten-mb\"}" n=40 ;;
  *) echo "flame.sh: listing or output, not $kind" >&2; exit 2 ;;
esac
call() { curl -sf -o /dev/null -H 'content-type: application/json' -d "$body" "$url$path"; }
call
perf record -q -F 2999 --call-graph dwarf,32768 -p "$agent" -o "$work/perf.data" &
recorder=$!
sleep 0.5
for _ in $(seq "$n"); do call; done
kill -INT "$recorder"
wait "$recorder" || true
perf script -i "$work/perf.data" 2>/dev/null | inferno-collapse-perf | inferno-flamegraph --title "sandbox-agent: $kind" > "$out"
echo "wrote $out"
