#!/usr/bin/env bash
# Fuzz the broker's frame handling (fuzz/frame_fuzz.cpp) and the adapters' parsing libraries
# (fuzz/adapter_fuzz.cpp: met_fuzz, water_fuzz, fire_fuzz, maritime_fuzz) and the CAP XML reader against
# pugixml (fuzz/xml_stream_fuzz.cpp: xml_fuzz) for a bounded time each, one
# fuzzer process at a time, then replay every regression input through its target. Builds with clang +
# libFuzzer + ASan/UBSan in a build directory of its own.
#
# Usage: scripts/fuzz.sh [SECONDS] [extra libFuzzer flags...]     default 60 seconds PER TARGET; 0 = only
#                                                                replay the regression inputs
#        scripts/fuzz.sh --update-seeds                          rewrite tests/data/fuzz/seeds/ from the
#                                                                text frames in tests/integration/raw_frames/
# Environment: TARGET    which targets, space- or comma-separated, run in this order (default "all" =
#                        "frame met water fire maritime xml"); e.g. TARGET=met scripts/fuzz.sh 300
#              BUILD_DIR (default build-fuzz), JOBS (default 1), CC/CXX (default clang-14/clang++-14),
#              FRAME_FUZZ_STRICT=1 (see fuzz/README.md).
# Seeds: frame = the encoded frames (below); met = tests/data/{cap,feed,edxl,gbt}; water = tests/data/water;
# fire = tests/data/fire; maritime = tests/data/navtex plus the AIS sentences written by ais_seeds below;
# xml = tests/data/cap.
# Exit status: 0 if no crash was found and every regression input replays cleanly; non-zero otherwise.
# A crash leaves its input in $BUILD_DIR/fuzz-artifacts/ (adapter targets prefix it with the adapter name,
# e.g. met-crash-<sha1>); see fuzz/README.md for how to keep it as a regression test.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$root/build-fuzz}"
jobs="${JOBS:-1}"
frames="$root/tests/integration/raw_frames"
seeds_dir="$root/tests/data/fuzz/seeds"
regressions_dir="$root/tests/data/fuzz/regressions"
adapter_regressions_dir="$root/tests/data/fuzz/adapter-regressions"   # <adapter>/<what-it-is>.<ext>

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

targets="${TARGET:-all}"
targets="${targets//,/ }"
[[ "$targets" == "all" ]] && targets="frame met water fire maritime xml"
for t in $targets; do
  case "$t" in
    frame | met | water | fire | maritime | xml) ;;
    *) echo "fuzz.sh: unknown TARGET '$t' (frame, met, water, fire, maritime, xml or all)" >&2; exit 2 ;;
  esac
done

# AIS receiver lines for the maritime target (written by AisPayloadWriter/aisSentence, see
# tests/unit/maritime/ais_test.cpp): type 1 with a tag block, 18 with a time prefix, 5 in two sentences,
# 24 A and B, 19 as own-ship VDO, the published type-1 example. One file per group and one with all.
ais_seeds() {
  local out="$1"
  mkdir -p "$out"
  printf '%s\n' '\s:rx1,c:1785236400*0F\!AIVDM,1,1,,A,168rO0@01s`i=v0AAu@9:GED0000,0*24' >"$out/ais-type1-tag-block.txt"
  printf '%s\n' '2026-07-28 10:47:00 !AIVDM,1,1,,B,B68rO0P0<R<<:h4AgR0pCwv00000,0*4A' >"$out/ais-type18-prefix.txt"
  printf '%s\n' '!AIVDM,2,1,3,A,568rO0@2;=`09448001`PF0@4V1UF337;?@0000N6@:445v9N;Dj1CRR@CAC,0*51' \
    '!AIVDM,2,2,3,A,P0000000000,2*47' >"$out/ais-type5-two-sentences.txt"
  printf '%s\n' '!AIVDM,1,1,,B,H68rO0PlTr1UF38000000000000,2*5F' \
    '!AIVDM,1,1,,B,H68rO0TN1230000094<@00050D880,2*46' >"$out/ais-type24-a-b.txt"
  printf '%s\n' '!BSVDO,1,1,,A,C68rO0h0D:<Jl@4CTf1hQJ50l@NbV@2M0PBHN`000000I0h31QRP,1*6F' >"$out/ais-type19-vdo.txt"
  printf '%s\n' '!AIVDM,1,1,,B,15M67FC000G?ufbE`FepT@3n00Sa,0*5C' >"$out/ais-doc-example.txt"
  cat "$out"/ais-type*.txt "$out/ais-doc-example.txt" >"$out/ais-all.txt"
}

if [[ ! -f "$build/CMakeCache.txt" ]]; then
  cmake -S "$root" -B "$build" -DALERTBUS_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
build_targets=()
for t in $targets; do build_targets+=("${t}_fuzz"); done
cmake --build "$build" --target "${build_targets[@]}" -j"$jobs"

artifacts="$build/fuzz-artifacts"
mkdir -p "$artifacts"
status=0
shopt -s nullglob

# Fuzzes target $1 for $seconds with corpus dir $2 (written) and seed dirs $3... (read only).
fuzz_one() {
  local name="$1" corpus="$2" prefix rc=0
  shift 2
  [[ "$name" == frame ]] && prefix="$artifacts/" || prefix="$artifacts/$name-"
  mkdir -p "$corpus"
  echo "fuzz.sh: fuzzing ${name}_fuzz for $seconds s (corpus $corpus, crashes go to $prefix*)"
  "$build/fuzz/${name}_fuzz" "$corpus" "$@" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -artifact_prefix="$prefix" -print_final_stats=1 "${extra[@]}" || rc=$?
  if [[ $rc -ne 0 ]]; then
    echo "fuzz.sh: ${name}_fuzz stopped with status $rc; crash input(s):" >&2
    ls -l "$artifacts" >&2
    status=$rc
  fi
}

# Replays every file of directory $2 (not README*) through target $1.
replay() {
  local name="$1" dir="$2" f out inputs=()
  for f in "$dir"/*; do [[ -f "$f" && "$(basename "$f")" != README* ]] && inputs+=("$f"); done
  echo "fuzz.sh: replaying ${#inputs[@]} regression input(s) from $dir through ${name}_fuzz"
  for f in "${inputs[@]}"; do
    if out="$("$build/fuzz/${name}_fuzz" -timeout=10 "$f" 2>&1)"; then
      echo "  ok      $(basename "$f")"
    else
      echo "  FAILS   $(basename "$f")" >&2
      grep -v '^INFO:' <<<"$out" | head -n 40 >&2
      status=1
    fi
  done
}

extra=("$@")
data="$root/tests/data"
for t in $targets; do
  if (( seconds > 0 )); then   # libFuzzer's -max_total_time=0 would mean "forever"
    case "$t" in
      frame)
        fresh_seeds="$build/fuzz-seeds"     # regenerated from the text frames on every run
        if command -v capnp >/dev/null; then
          make_seeds "$fresh_seeds"
        else
          echo "fuzz.sh: capnp not found; using only the checked-in seeds" >&2
          mkdir -p "$fresh_seeds"
        fi
        fuzz_one frame "$build/fuzz-corpus" "$fresh_seeds" "$seeds_dir" ;;
      met) fuzz_one met "$build/fuzz-corpus-met" "$data/cap" "$data/feed" "$data/edxl" "$data/gbt" ;;
      water) fuzz_one water "$build/fuzz-corpus-water" "$data/water" ;;
      fire) fuzz_one fire "$build/fuzz-corpus-fire" "$data/fire" ;;
      maritime)
        ais_seeds "$build/fuzz-seeds-maritime"
        fuzz_one maritime "$build/fuzz-corpus-maritime" "$data/navtex" "$build/fuzz-seeds-maritime" ;;
      xml) fuzz_one xml "$build/fuzz-corpus-xml" "$data/cap" ;;
    esac
  fi
  if [[ "$t" == frame ]]; then
    replay frame "$regressions_dir"
  else
    replay "$t" "$adapter_regressions_dir/$t"
  fi
done
exit "$status"
