#!/usr/bin/env bash
# Tests the container image for real, with a Docker engine on this machine: starts Debian's dockerd if none
# runs, takes the base images from a registry or makes them here (scripts/lib/docker.sh), builds the image's
# runtime stage on them with the agent built here, then runs the agent's whole HTTP test suite with every agent in
# a container of that image, and the PID 1 checks (tests/image). Last, it builds the whole Dockerfile as `wrangler
# deploy` would, the agent compiled from source in its Rust stage, and checks that image answers. Test traffic
# stays on 127.0.0.1 (builds fetch Debian packages and crates). Cleans up the containers and images it made, and
# stops the engine if it started it.
#
#   bash scripts/test-image.sh                  installs docker.io and debootstrap when missing (root, apt)
#   bash scripts/test-image.sh --if-available   what `npm test` runs: skips, saying why, without an engine
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=lib/docker.sh
source scripts/lib/docker.sh
runtime_base="sandbox-rs-test-runtime-base"
image="sandbox-rs-test"
full_image="sandbox-rs-test-full"
mkdir -p .state

if [ "${1:-}" = "--if-available" ]; then
  docker_available_or_skip test:image || exit 0
else
  docker_install
fi

# Without buildx the CLI must be told to use the engine's own builder.
export DOCKER_BUILDKIT=0

dangling() { docker images -aq --no-trunc --filter dangling=true 2>/dev/null | sort; }
dangling_before=""
cleanup() {
  set +e
  ids=$(docker ps -aq --filter label=sandbox-rs-test 2>/dev/null)
  [ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
  docker rmi -f "$full_image" "$image" "$runtime_base" "$docker_local_rust" "$docker_local_base" >/dev/null 2>&1
  # The untagged layers its builds left (the Rust stage's, above all); other images stay.
  new=$(comm -13 <(printf '%s\n' "$dangling_before") <(dangling))
  [ -n "$new" ] && docker rmi -f $new >/dev/null 2>&1
  docker_engine_stop
}
trap cleanup EXIT

docker_engine_start .state
dangling_before=$(dangling)
# The bases: pulled where a registry answers, else Debian by debootstrap (cached) and this machine's toolchain.
docker_base_image
docker_rust_image
base="$SANDBOX_BASE_IMAGE"

# The runtime stage of container/Dockerfile on that base, with the agent built here.
cargo build --release --locked -p sandbox-agent
docker build -q --force-rm --network host --target runtime-base --build-arg "RUNTIME_IMAGE=$base" \
  -t "$runtime_base" -f container/Dockerfile . >/dev/null
context=$(mktemp -d)
cp target/release/sandbox-agent "$context/"
printf 'FROM %s\nCOPY sandbox-agent /usr/local/bin/sandbox-agent\n' "$runtime_base" >"$context/Dockerfile"
docker build -q --force-rm -t "$image" "$context" >/dev/null
rm -rf "$context"

# Measured: the image's size, and how long from `docker run` until the agent answers (and the agent's own share).
size=$(docker image inspect -f '{{.Size}}' "$image")
starts=()
uptimes=()
for i in 1 2 3 4 5; do
  port=$((20000 + RANDOM % 20000))
  t0=$(date +%s%N)
  docker run -d --rm --name "sandbox-rs-start-$i" --label sandbox-rs-test --network host "$image" \
    --listen "127.0.0.1:$port" --workspace /workspace >/dev/null
  until health=$(curl -sf "http://127.0.0.1:$port/v1/health"); do sleep 0.005; done
  starts+=($(( ($(date +%s%N) - t0) / 1000000 )))
  # The agent's own uptime at its first answer: its start to ready, within the polling's granularity.
  uptimes+=("$(printf '%s' "$health" | sed -n 's/.*"uptimeMs":\([0-9]*\).*/\1/p')")
  docker rm -f "sandbox-rs-start-$i" >/dev/null
done
echo "test:image: image $image $((size / 1024 / 1024)) MiB; docker run to healthy (ms): ${starts[*]};" \
  "the agent's uptime at its first answer (ms): ${uptimes[*]}"

# The agent's HTTP suite, each agent in a container of the image; then the PID 1 checks.
SANDBOX_AGENT_IMAGE="$image" cargo test --locked -p sandbox-agent --tests
SANDBOX_IMAGE="$image" node --test --test-concurrency=1 tests/image/

# The whole Dockerfile, as `wrangler deploy` builds it: the Rust stage compiles the agent from source.
echo "test:image: building container/Dockerfile from source"
t0=$(date +%s)
docker build -q --force-rm --network host --build-arg "RUST_IMAGE=$SANDBOX_RUST_IMAGE" --build-arg "RUNTIME_IMAGE=$base" \
  -t "$full_image" -f container/Dockerfile . >/dev/null
echo "test:image: built in $(( $(date +%s) - t0 )) s, $(( $(docker image inspect -f '{{.Size}}' "$full_image") / 1024 / 1024 )) MiB"
SANDBOX_IMAGE="$full_image" node --test --test-concurrency=1 tests/image/
