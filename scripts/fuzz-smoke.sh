#!/usr/bin/env bash
# A short fuzz pass over every cargo-fuzz target (fuzz/fuzz_targets/): each target first replays
# its committed corpus (fuzz/corpus/<target>/), then fuzzes for a share of the time budget.
# A crash fails the script and leaves the input in fuzz/artifacts/<target>/.
#
#   scripts/fuzz-smoke.sh             ~100 s of fuzzing in all (plus the build)
#   STATICIZE_FUZZ_SECONDS=600 scripts/fuzz-smoke.sh elf_inspect    a long run of one target
#
# Needs cargo-fuzz (cargo install cargo-fuzz --locked). With a nightly toolchain installed
# (rustup toolchain install nightly --profile minimal) the targets are built with
# AddressSanitizer; without one, the default toolchain builds them with RUSTC_BOOTSTRAP=1 (for
# libFuzzer's flags) and no sanitizer (-s none): slower to find memory bugs, fine for panics,
# overflows, hangs and runaway allocation — the bugs fuzzing has found here so far.
# STATICIZE_FUZZ_TOOLCHAIN=nightly|default chooses.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

toolchain=${STATICIZE_FUZZ_TOOLCHAIN:-}
if [ -z "$toolchain" ]; then
  if rustup run nightly rustc --version >/dev/null 2>&1; then toolchain=nightly; else toolchain=default; fi
fi
# Optimised, with debug assertions and overflow checks (-a): a wrapped offset is a finding.
build_flags=(-O -a)
if [ "$toolchain" = nightly ]; then
  fuzz=(cargo +nightly fuzz)
  rustc_version=$(rustc +nightly --version 2>/dev/null || echo "rustc not found")
else
  fuzz=(cargo fuzz)
  export RUSTC_BOOTSTRAP=1
  build_flags+=(-s none)
  rustc_version=$(rustc --version 2>/dev/null || echo "rustc not found")
fi
if ! "${fuzz[@]}" --version >/dev/null 2>&1; then
  echo "fuzz smoke: '${fuzz[*]}' does not run ($rustc_version): install Rust (https://rustup.rs)," >&2
  echo "  then cargo-fuzz: cargo install cargo-fuzz --locked" >&2
  exit 1
fi
echo "fuzz smoke: $toolchain toolchain, $rustc_version, cargo fuzz build ${build_flags[*]}" >&2

if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <("${fuzz[@]}" list)
fi
budget=${STATICIZE_FUZZ_SECONDS:-100}
per=$((budget / ${#targets[@]}))
[ "$per" -ge 5 ] || per=5

"${fuzz[@]}" build "${build_flags[@]}"
for t in "${targets[@]}"; do
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  printf '\n==> fuzz %s for %ss (corpus fuzz/corpus/%s)\n' "$t" "$per" "$t" >&2
  # New inputs go to a scratch directory; the committed corpus is only read.
  "${fuzz[@]}" run "${build_flags[@]}" "$t" "$work" "fuzz/corpus/$t" -- \
    -max_total_time="$per" -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 -print_final_stats=1
  rm -rf "$work"
  trap - EXIT
done
printf '\n==> fuzz smoke pass: %s target(s), no crash\n' "${#targets[@]}" >&2
