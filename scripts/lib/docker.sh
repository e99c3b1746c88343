# shellcheck shell=bash
# What the scripts that use Docker share (sourced by test-image.sh, test-containers.sh and dev.sh --containers):
# a Docker engine that workerd can drive, the base images where no registry is reachable, and what `wrangler dev`
# needs to run real containers on a machine without Docker Desktop. Each step uses what the machine has and makes
# only what it lacks, and says which it did.
#
# Functions set (and export) these variables:
#   DOCKERD_PID                          the engine started here (stop it with docker_engine_stop)
#   SANDBOX_BASE_IMAGE SANDBOX_RUST_IMAGE  the Dockerfile's base images (pulled, or made here)
#   SANDBOX_EGRESS_IMAGE                 the egress interceptor workerd puts beside each container
#   MINIFLARE_CONTAINER_EGRESS_IMAGE     the same, when it is not wrangler's default
#   WRANGLER_DOCKER_BIN SANDBOX_DOCKER_BUILD_ARGS   the Docker CLI wrangler runs (scripts/docker-shim.sh), when needed

docker_suite="${DEBIAN_SUITE:-bookworm}"
docker_mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
docker_cache="${XDG_CACHE_HOME:-$HOME/.cache}/sandbox-rs"
# The images the scripts make; all carry this prefix, so that cleaning up finds them.
docker_local_base="sandbox-rs-local-os:$docker_suite"
docker_local_rust="sandbox-rs-local-rust"
docker_local_egress="sandbox-rs-local-egress-standin"
# What the Dockerfile and wrangler use where registries are reachable.
docker_registry_base="debian:$docker_suite-slim"
docker_registry_rust="rust:1-slim-$docker_suite"
DOCKERD_PID=""

docker_say() { echo "docker: $*" >&2; }

# Whether an engine runs, or can be started here (root, with Debian's dockerd).
docker_engine_possible() {
  docker info >/dev/null 2>&1 || { [ "$(id -u)" = 0 ] && command -v dockerd >/dev/null; }
}

# Installs docker.io and debootstrap from Debian when missing (root, apt).
docker_install() {
  command -v dockerd >/dev/null && command -v debootstrap >/dev/null && return 0
  [ "$(id -u)" = 0 ] || { docker_say "installing docker.io and debootstrap needs root" ; return 1; }
  docker_say "installing docker.io and debootstrap from Debian"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap >/dev/null
}

# Whether a test that needs Docker can run, for `--if-available`: an engine that runs is used; as root with apt,
# Debian's is installed (and started later); otherwise it says that the test named $1 (an npm script) is skipped.
docker_available_or_skip() {
  if docker info >/dev/null 2>&1 || { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && docker_install; }; then
    return 0
  fi
  echo "$1 SKIPPED: no Docker engine here (none runs, and docker.io cannot be installed: not root, or no apt)."
  echo "  Run 'npm run $1' as root on Debian or Ubuntu, or with a running Docker engine."
  return 1
}

# Uses the running engine, or starts Debian's dockerd. The bridge needs an explicit address: without one it
# reports no gateway and workerd fails with "DNS lookup failed". Without iptables (none here), published ports stay
# on loopback and go through docker-proxy.
docker_engine_start() {
  local state="${1:-.state}"
  if ! docker info >/dev/null 2>&1; then
    mkdir -p "$state"
    docker_say "starting dockerd (log: $state/dockerd.log)"
    dockerd --bip=172.17.0.1/16 --iptables=false --ip6tables=false --ip-masq=false --ip-forward=false \
      --ip=127.0.0.1 >"$state/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    for _ in $(seq 150); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
    docker info >/dev/null 2>&1 || { docker_say "dockerd did not start:"; tail -20 "$state/dockerd.log" >&2; return 1; }
  fi
  export DOCKERD_PID
}

# Whether the engine's default bridge has a gateway (workerd needs one for containers).
docker_bridge_ready() {
  [ -n "$(docker network inspect bridge --format '{{range .IPAM.Config}}{{.Gateway}}{{end}}' 2>/dev/null)" ]
}

docker_engine_stop() {
  if [ -n "$DOCKERD_PID" ]; then
    kill "$DOCKERD_PID" 2>/dev/null
    wait "$DOCKERD_PID" 2>/dev/null
    DOCKERD_PID=""
  fi
  return 0
}

# `docker pull`, or false at once where no registry answers.
docker_pullable() { timeout 120 docker pull -q "$1" >/dev/null 2>&1; }

# The Debian base: pulled, or made by debootstrap (kept as a tarball between runs; it takes minutes to make).
docker_base_image() {
  if docker image inspect "$docker_registry_base" >/dev/null 2>&1 || docker_pullable "$docker_registry_base"; then
    SANDBOX_BASE_IMAGE="$docker_registry_base"
  else
    local tarball="$docker_cache/debian-$docker_suite-minbase.tar"
    mkdir -p "$docker_cache"
    if [ ! -s "$tarball" ]; then
      command -v debootstrap >/dev/null || docker_install
      docker_say "no registry: making Debian $docker_suite with debootstrap (once; cached in $tarball)"
      local rootfs
      rootfs=$(mktemp -d)
      debootstrap --variant=minbase "$docker_suite" "$rootfs" "$docker_mirror" >"$docker_cache/debootstrap.log" 2>&1 \
        || { tail -20 "$docker_cache/debootstrap.log" >&2; rm -rf "$rootfs"; return 1; }
      tar -C "$rootfs" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
      rm -rf "$rootfs"
    fi
    docker image inspect "$docker_local_base" >/dev/null 2>&1 || docker import "$tarball" "$docker_local_base" >/dev/null
    SANDBOX_BASE_IMAGE="$docker_local_base"
    docker_say "base image: $docker_local_base (debootstrap; $docker_registry_base cannot be pulled)"
  fi
  export SANDBOX_BASE_IMAGE
}

# The Rust stage's image: pulled, or made from this machine's toolchain and CA bundle (so that it reaches crates.io
# the way this machine does).
docker_rust_image() {
  if docker image inspect "$docker_registry_rust" >/dev/null 2>&1 || docker_pullable "$docker_registry_rust"; then
    SANDBOX_RUST_IMAGE="$docker_registry_rust"
  else
    if ! docker image inspect "$docker_local_rust" >/dev/null 2>&1; then
      docker_say "no registry: making a Rust image from this machine's toolchain"
      local toolchain context
      toolchain=$(rustc --print sysroot)
      context=$(mktemp -d)
      mkdir "$context/rust"
      cp -a "$toolchain/bin" "$toolchain/lib" "$context/rust/"
      rm -rf "$context/rust/lib/rustlib/wasm32-unknown-unknown" "$context/rust/lib/rustlib/src"
      cp /etc/ssl/certs/ca-certificates.crt "$context/ca.crt"
      printf '%s\n' "FROM $SANDBOX_BASE_IMAGE" \
        'RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends gcc libc6-dev ca-certificates && rm -rf /var/lib/apt/lists/*' \
        'COPY ca.crt /etc/ssl/certs/ca-certificates.crt' \
        'COPY rust /usr/local/rust' 'ENV PATH=/usr/local/rust/bin:$PATH' >"$context/Dockerfile"
      DOCKER_BUILDKIT=0 docker build -q --force-rm --network host -t "$docker_local_rust" "$context" >/dev/null
      rm -rf "$context"
    fi
    SANDBOX_RUST_IMAGE="$docker_local_rust"
    docker_say "Rust image: $docker_local_rust (this machine's toolchain; $docker_registry_rust cannot be pulled)"
  fi
  export SANDBOX_RUST_IMAGE
}

# The interceptor that workerd starts beside every container: wrangler's default image where it can be pulled,
# else the project's development stand-in (scripts/local-containers/egress-standin; not an egress proxy), built here.
docker_egress_image() {
  local default
  default=$(grep -o 'DEFAULT_CONTAINER_EGRESS_INTERCEPTOR_IMAGE = "[^"]*"' node_modules/miniflare/dist/src/index.js \
    2>/dev/null | head -1 | cut -d'"' -f2)
  if [ -n "$default" ] && { docker image inspect "$default" >/dev/null 2>&1 || docker_pullable "$default"; }; then
    unset MINIFLARE_CONTAINER_EGRESS_IMAGE
    export SANDBOX_EGRESS_IMAGE="$default"
    docker_say "egress interceptor: $default (wrangler's own)"
    return 0
  fi
  cargo build --release --locked -q -p sandbox-egress-standin
  local context
  context=$(mktemp -d)
  cp target/release/sandbox-egress-standin scripts/local-containers/egress-standin/Dockerfile "$context/"
  DOCKER_BUILDKIT=0 docker build -q --force-rm --build-arg "BASE_IMAGE=$SANDBOX_BASE_IMAGE" -t "$docker_local_egress" \
    "$context" >/dev/null
  rm -rf "$context"
  export MINIFLARE_CONTAINER_EGRESS_IMAGE="$docker_local_egress" SANDBOX_EGRESS_IMAGE="$docker_local_egress"
  docker_say "egress interceptor: $docker_local_egress (the project's stand-in; ${default:-the default} cannot be pulled)"
}

# The Docker CLI that wrangler runs: docker itself where it has buildx and nothing needs substituting, else the
# shim with the build arguments the local base images need.
docker_for_wrangler() {
  local args=()
  [ "$SANDBOX_BASE_IMAGE" != "$docker_registry_base" ] && args+=(--build-arg "RUNTIME_IMAGE=$SANDBOX_BASE_IMAGE")
  [ "$SANDBOX_RUST_IMAGE" != "$docker_registry_rust" ] && args+=(--build-arg "RUST_IMAGE=$SANDBOX_RUST_IMAGE")
  # Made here means no registry, and likely no way out of the bridge either: builds use the host's network.
  [ ${#args[@]} -gt 0 ] && args+=(--network host)
  if docker buildx version >/dev/null 2>&1 && [ ${#args[@]} -eq 0 ] && [ -z "${MINIFLARE_CONTAINER_EGRESS_IMAGE:-}" ]; then
    unset WRANGLER_DOCKER_BIN
    docker_say "wrangler runs docker as it is (buildx present)"
    return 0
  fi
  export WRANGLER_DOCKER_BIN="$PWD/scripts/docker-shim.sh"
  export SANDBOX_DOCKER_BUILD_ARGS="${args[*]}"
  if docker buildx version >/dev/null 2>&1; then
    docker_say "wrangler runs docker through scripts/docker-shim.sh (local images)"
  else
    docker_say "wrangler runs docker through scripts/docker-shim.sh (no buildx here: the engine's own builder)"
  fi
}

# Everything `wrangler dev --enable-containers` needs: engine, base images, interceptor, CLI.
docker_prepare_for_wrangler() {
  docker_engine_start "${1:-.state}"
  docker_bridge_ready || { docker_say "the engine's bridge has no gateway: start dockerd with --bip=172.17.0.1/16"; return 1; }
  docker_base_image
  docker_rust_image
  docker_egress_image
  docker_for_wrangler
}

# Removes the containers `wrangler dev` of the Worker named $1 left: workerd names them
# `workerd-<worker>-<class>-<object id>`, and their sidecars the same with `-proxy` (which wrangler leaves
# running on exit).
docker_remove_dev_containers_of() {
  local ids
  ids=$(docker ps -aq --filter "name=^/workerd-$1-" 2>/dev/null)
  [ -n "$ids" ] && docker rm -f $ids >/dev/null 2>&1
  return 0
}
