#!/usr/bin/env bash
# Tests the container image for real, with a Docker engine on this machine and no registry: starts Debian's
# dockerd if none runs, makes a Debian base image locally (debootstrap, cached), builds the image's runtime stage
# on it with the agent built here, then runs the agent's whole HTTP test suite with every agent in a container of
# that image, and the PID 1 checks (tests/image). Last, it builds the whole Dockerfile as `wrangler deploy` would,
# the agent compiled from source in its Rust stage (on a Rust image made from this machine's toolchain), and
# checks that image answers. Test traffic stays on 127.0.0.1 (builds fetch Debian packages and crates). Cleans
# up the containers and images it made, and stops the engine if it started it.
#
#   bash scripts/test-image.sh                  installs docker.io and debootstrap when missing (root, apt)
#   bash scripts/test-image.sh --if-available   what `npm test` runs: skips, saying why, without an engine
set -euo pipefail
cd "$(dirname "$0")/.."

suite="${DEBIAN_SUITE:-bookworm}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/sandbox-rs"
base="sandbox-rs-test-os:$suite"
runtime_base="sandbox-rs-test-runtime-base"
image="sandbox-rs-test"
rust_image="sandbox-rs-test-rust"
full_image="sandbox-rs-test-full"
mkdir -p .state "$cache"

if [ "${1:-}" = "--if-available" ]; then
  if ! docker info >/dev/null 2>&1 && ! { [ "$(id -u)" = 0 ] && command -v dockerd >/dev/null && command -v debootstrap >/dev/null; }; then
    echo "test:image SKIPPED: no Docker engine here (no running daemon, and no dockerd and debootstrap to start one)."
    echo "  Run 'npm run test:image' as root to install docker.io and debootstrap from Debian and test the image."
    exit 0
  fi
elif ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
  [ "$(id -u)" = 0 ] || { echo "test:image needs root to install docker.io and debootstrap" >&2; exit 1; }
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap >/dev/null
fi

# Without buildx the CLI must be told to use the engine's own builder.
export DOCKER_BUILDKIT=0

dangling() { docker images -aq --no-trunc --filter dangling=true 2>/dev/null | sort; }
dangling_before=""
dockerd_pid=""
cleanup() {
  set +e
  ids=$(docker ps -aq --filter label=sandbox-rs-test 2>/dev/null)
  [ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
  docker rmi -f "$full_image" "$rust_image" "$image" "$runtime_base" "$base" >/dev/null 2>&1
  # The untagged layers its builds left (the Rust stage's, above all); other images stay.
  new=$(comm -13 <(printf '%s\n' "$dangling_before") <(dangling))
  [ -n "$new" ] && docker rmi -f $new >/dev/null 2>&1
  if [ -n "$dockerd_pid" ]; then
    kill "$dockerd_pid" 2>/dev/null
    wait "$dockerd_pid" 2>/dev/null
  fi
}
trap cleanup EXIT

if ! docker info >/dev/null 2>&1; then
  echo "test:image: starting dockerd (log: .state/dockerd.log)"
  dockerd --bridge=none --iptables=false --ip6tables=false >.state/dockerd.log 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 150); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start:" >&2; tail -20 .state/dockerd.log >&2; exit 1; }
fi

dangling_before=$(dangling)

# The base: Debian $suite by debootstrap, kept as a tarball between runs (it takes minutes to make).
rootfs_tar="$cache/debian-$suite-minbase.tar"
if [ ! -s "$rootfs_tar" ]; then
  echo "test:image: debootstrap of Debian $suite (once; cached in $rootfs_tar)"
  rootfs=$(mktemp -d)
  debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >.state/debootstrap.log 2>&1 \
    || { tail -20 .state/debootstrap.log >&2; rm -rf "$rootfs"; exit 1; }
  tar -C "$rootfs" -cf "$rootfs_tar.tmp" . && mv "$rootfs_tar.tmp" "$rootfs_tar"
  rm -rf "$rootfs"
fi
docker import "$rootfs_tar" "$base" >/dev/null

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

# The whole Dockerfile, as `wrangler deploy` builds it: the Rust stage compiles the agent from source. Its Rust
# image is made here from this machine's toolchain (no registry to pull one from), with this machine's CA bundle,
# so that it reaches crates.io the way this machine does.
toolchain=$(rustc --print sysroot)
context=$(mktemp -d)
mkdir "$context/rust"
cp -a "$toolchain/bin" "$toolchain/lib" "$context/rust/"
rm -rf "$context/rust/lib/rustlib/wasm32-unknown-unknown" "$context/rust/lib/rustlib/src"
cp /etc/ssl/certs/ca-certificates.crt "$context/ca.crt"
printf '%s\n' "FROM $base" \
  'RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gcc libc6-dev ca-certificates && rm -rf /var/lib/apt/lists/*' \
  'COPY ca.crt /etc/ssl/certs/ca-certificates.crt' \
  'COPY rust /usr/local/rust' 'ENV PATH=/usr/local/rust/bin:$PATH' >"$context/Dockerfile"
docker build -q --force-rm --network host -t "$rust_image" "$context" >/dev/null
rm -rf "$context"
echo "test:image: building container/Dockerfile from source"
t0=$(date +%s)
docker build -q --force-rm --network host --build-arg "RUST_IMAGE=$rust_image" --build-arg "RUNTIME_IMAGE=$base" \
  -t "$full_image" -f container/Dockerfile . >/dev/null
echo "test:image: built in $(( $(date +%s) - t0 )) s, $(( $(docker image inspect -f '{{.Size}}' "$full_image") / 1024 / 1024 )) MiB"
SANDBOX_IMAGE="$full_image" node --test --test-concurrency=1 tests/image/
