#!/usr/bin/env bash
# Fuzz the broker's frame handling (fuzz/frame_fuzz.cpp) for a bounded time, then replay every
# regression input. Builds with clang + libFuzzer + ASan/UBSan in a build directory of its own.
#
# Usage: scripts/fuzz.sh [SECONDS] [extra libFuzzer flags...]     default 60 seconds; 0 = only replay
#        scripts/fuzz.sh --update-seeds                          rewrite tests/data/fuzz/seeds/ from the
#                                                                text frames in tests/integration/raw_frames/
# Environment: BUILD_DIR (default build-fuzz), JOBS (default 1), CC/CXX (default clang-14/clang++-14),
#              FRAME_FUZZ_STRICT=1 (see fuzz/README.md).
# Exit status: 0 if no crash was found and every regression input replays cleanly; non-zero otherwise.
# A crash leaves its input in $BUILD_DIR/fuzz-artifacts/; see fuzz/README.md for how to keep it as a
# regression test.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$root/build-fuzz}"
jobs="${JOBS:-1}"
frames="$root/tests/integration/raw_frames"
seeds_dir="$root/tests/data/fuzz/seeds"
regressions_dir="$root/tests/data/fuzz/regressions"

"$root/scripts/install-deps.sh" --fuzz  # clang-14 and libFuzzer, only if missing

need() { command -v "$1" >/dev/null || { echo "fuzz.sh: '$1' not found ($2)" >&2; exit 2; }; }

# Encodes every text frame and message in $frames into binary frames in directory $1 (a Message becomes
# the payload of a Publish frame). Needs the capnp tool (package capnproto).
make_seeds() {
  local out="$1" f name hex
  need capnp "install the Debian package capnproto"
  mkdir -p "$out"
  for f in "$frames"/*.frame.txt; do
    name="$(basename "$f" .frame.txt)"
    capnp encode "$root/schemas/protocol.capnp" Frame <"$f" >"$out/$name.frame.bin"
  done
  for f in "$frames"/*.message.txt; do
    name="$(basename "$f" .message.txt)"
    hex="$(capnp encode "$root/schemas/message.capnp" Message <"$f" | od -An -v -tx1 | tr -d " \n")"
    sed "s/@TOKEN@/1/; s/@MESSAGE_HEX@/$hex/" "$frames/publish.frame.template" |
      capnp encode "$root/schemas/protocol.capnp" Frame >"$out/publish-$name.frame.bin"
  done
  # The same warning split over many segments (far pointers), as some encoders produce.
  hex="$(capnp encode "$root/schemas/message.capnp" Message <"$frames/warning.message.txt" | od -An -v -tx1 | tr -d " \n")"
  sed "s/@TOKEN@/2/; s/@MESSAGE_HEX@/$hex/" "$frames/publish.frame.template" |
    capnp encode --segment-size=4 "$root/schemas/protocol.capnp" Frame >"$out/publish-warning-segmented.frame.bin"
}

if [[ "${1:-}" == "--update-seeds" ]]; then
  make_seeds "$seeds_dir"
  echo "fuzz.sh: wrote $(ls "$seeds_dir"/*.bin | wc -l) seed frames to $seeds_dir"
  exit 0
fi

seconds="${1:-60}"
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "usage: $0 [SECONDS] [libFuzzer flags...] | --update-seeds" >&2; exit 2; }
shift || true

export CC="${CC:-clang-14}" CXX="${CXX:-clang++-14}"
need "$CXX" "install clang-14 and libclang-rt-14-dev"
need cmake "install cmake"

if [[ ! -f "$build/CMakeCache.txt" ]]; then
  cmake -S "$root" -B "$build" -DALERTBUS_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
cmake --build "$build" --target frame_fuzz -j"$jobs"
fuzzer="$build/fuzz/frame_fuzz"

corpus="$build/fuzz-corpus"         # grows as the fuzzer finds new coverage; never checked in
fresh_seeds="$build/fuzz-seeds"     # regenerated from the text frames on every run
artifacts="$build/fuzz-artifacts"
mkdir -p "$corpus" "$artifacts"
if command -v capnp >/dev/null; then
  make_seeds "$fresh_seeds"
else
  echo "fuzz.sh: capnp not found; using only the checked-in seeds" >&2
  mkdir -p "$fresh_seeds"
fi

status=0
if (( seconds > 0 )); then   # libFuzzer's -max_total_time=0 would mean "forever"
  echo "fuzz.sh: fuzzing for $seconds s (corpus $corpus, crashes go to $artifacts/)"
  "$fuzzer" "$corpus" "$fresh_seeds" "$seeds_dir" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -artifact_prefix="$artifacts/" -print_final_stats=1 "$@" || status=$?
  if [[ $status -ne 0 ]]; then
    echo "fuzz.sh: the fuzzer stopped with status $status; crash input(s):" >&2
    ls -l "$artifacts" >&2
  fi
fi

shopt -s nullglob
regressions=("$regressions_dir"/*)
inputs=()
for f in "${regressions[@]}"; do [[ "$(basename "$f")" == README* ]] || inputs+=("$f"); done
echo "fuzz.sh: replaying ${#inputs[@]} regression input(s) from $regressions_dir"
for f in "${inputs[@]}"; do
  if out="$("$fuzzer" "$f" 2>&1)"; then
    echo "  ok      $(basename "$f")"
  else
    echo "  FAILS   $(basename "$f")" >&2
    grep -v '^INFO:' <<<"$out" | head -n 40 >&2
    status=1
  fi
done
exit "$status"
