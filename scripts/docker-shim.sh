#!/usr/bin/env bash
# The Docker CLI as `wrangler dev` needs it, on a machine whose Docker lacks buildx or a reachable registry
# (scripts/lib/docker.sh points WRANGLER_DOCKER_BIN here only then; with Docker Desktop wrangler uses docker as is).
#
# - `build`: wrangler always asks for `--load --provenance=false`, which only buildx knows. Without buildx they are
#   dropped and the engine's own builder is used. SANDBOX_DOCKER_BUILD_ARGS (words such as `--build-arg K=V` and
#   `--network host`) are added: the locally made base images, and the host network for `apt-get` where the
#   engine's bridge has no way out.
# - `pull`: wrangler always pulls the egress interceptor image. An image that exists locally is not pulled again
#   (it may be the project's stand-in, which no registry has).
# Everything else goes to docker unchanged.
set -euo pipefail

real="${SANDBOX_REAL_DOCKER:-docker}"

case "${1:-}" in
  build)
    shift
    args=()
    if ! "$real" buildx version >/dev/null 2>&1; then
      export DOCKER_BUILDKIT=0
      for arg in "$@"; do
        case "$arg" in
          --load | --provenance=false) ;;
          *) args+=("$arg") ;;
        esac
      done
    else
      args=("$@")
    fi
    # shellcheck disable=SC2206 # words, split on purpose
    extra=(${SANDBOX_DOCKER_BUILD_ARGS:-})
    # The context is the last argument; options go before it.
    n=${#args[@]}
    exec "$real" build "${args[@]:0:n-1}" "${extra[@]}" "${args[@]:n-1}"
    ;;
  pull)
    for arg in "${@:2}"; do
      case "$arg" in
        --*) ;;
        linux/*) ;;
        *) image="$arg" ;;
      esac
    done
    if [ -n "${image:-}" ] && "$real" image inspect "$image" >/dev/null 2>&1; then
      echo "docker-shim: $image exists locally; not pulled" >&2
      exit 0
    fi
    exec "$real" "$@"
    ;;
  *)
    exec "$real" "$@"
    ;;
esac
