#!/usr/bin/env bash
# Builds staticize in release mode and runs every benchmark beside its peers, then writes
# BENCHMARKS.md at the repository root. Usage: benches/run.sh [image|check|closure|build|sizes|squash|pack|deps|rebuild|deps-registry|blobs-registry|cross|node-alone]…
#
# Needs: cargo, python3 (3.9+), gcc, objcopy (binutils); for the peers: podman, scanelf and
# lddtree (pax-utils, with python3-pyelftools), ldd, gzip, tar, sha256sum. Optional: musl-gcc
# (musl-tools), g++, go, node, redis-server — rows without them say "pending".
# Missing apt packages are installed when running as root on a Debian/Ubuntu machine.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }
need gcc gcc
need g++ g++
need objcopy binutils
need musl-gcc musl-tools
need scanelf pax-utils
need lddtree pax-utils
need podman podman
need redis-server redis-server
need cmake cmake
/usr/bin/python3 -c 'import elftools' 2>/dev/null || missing+=(python3-pyelftools)
if ((${#missing[@]})); then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    echo "installing: ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; }
  else
    echo "missing (their rows will say pending): ${missing[*]}" >&2
  fi
fi

# The pack group's peer.
command -v staticx >/dev/null 2>&1 || python3 -m pip install -q staticx 2>/dev/null ||
  python3 -m pip install -q --break-system-packages staticx 2>/dev/null ||
  echo "staticx not installed (pip install staticx): its rows will say pending" >&2

# The cross group's compiler for arm64 (zig carries musl for every architecture).
python3 -m ziglang version >/dev/null 2>&1 || python3 -m pip install -q ziglang 2>/dev/null ||
  python3 -m pip install -q --break-system-packages ziglang 2>/dev/null ||
  echo "zig not installed (pip install ziglang): the cross row will say pending" >&2

# The squash group's peer (it needs a dockerd: the test one, through DOCKER_HOST).
command -v docker-squash >/dev/null 2>&1 || python3 -m pip install -q docker-squash 2>/dev/null ||
  python3 -m pip install -q --break-system-packages docker-squash 2>/dev/null ||
  echo "docker-squash not installed (pip install docker-squash): its row will say pending" >&2

# The rebuild group's peer, ko, and crane (which writes ko's empty base image to the registry).
export PATH="$PATH:$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin"
if command -v go >/dev/null; then
  command -v ko >/dev/null 2>&1 || go install github.com/google/ko@latest ||
    echo "ko not installed: its rows will say pending" >&2
  command -v crane >/dev/null 2>&1 || go install github.com/google/go-containerregistry/cmd/crane@latest ||
    echo "crane not installed: the ko rows will say pending" >&2
fi

cargo build --release --quiet
exec python3 benches/bench.py "$@"
