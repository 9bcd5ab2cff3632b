#!/usr/bin/env bash
# Runs each adapter's parsers over a folder of captured inputs and prints, per file, what was accepted and
# what was rejected and why (alertbus-<adapter> --check). Publishes nothing, changes nothing.
#   scripts/corpus-check.sh                      # ../shared/realdata beside the checkout
#   ALERTBUS_CORPUS=/path/to/captures scripts/corpus-check.sh
#   scripts/corpus-check.sh --update-baseline    # rewrite tests/data/corpus-baseline.tsv from the corpus
# Each immediate subfolder goes to the adapter its name suggests (cap*, met*, gbt* -> met; hydro*, water*,
# gauge* -> water; fire*, firms* -> fire; ais*, navtex*, maritime* -> maritime); other subfolders go to
# the adapters named by ALERTBUS_CORPUS_ADAPTER (default: all four). Files directly in the folder are
# checked only when ALERTBUS_CORPUS_ADAPTER names the adapter(s) for them (a corpus's README is not input).
# The same folder rules pick the parser in the corpus tests (tests/unit/corpus.h), which ctest runs against
# tests/data/corpus-baseline.tsv; --update-baseline rewrites that file with today's counts (do it after a
# deliberate parser change or a new capture, and say why in the commit; ALERTBUS_CORPUS_BASELINE names
# another baseline file, e.g. for your own captures).
# Last, when the corpus test is built, it says how the folder compares with the baseline: files read worse or
# missing (what fails ctest), files not in the baseline yet, files read better than it.
# Builds first if the adapters are missing. Exit status 0 unless a folder could not be read.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus="${ALERTBUS_CORPUS:-../shared/realdata}"
[[ -d "$corpus" ]] || { echo "corpus-check: $corpus is not a directory (set ALERTBUS_CORPUS)" >&2; exit 2; }

if [[ "${1:-}" == --update-baseline ]]; then
  test=build/tests/unit/unit_corpus_corpus_baseline_test
  [[ -d build ]] || scripts/build.sh
  cmake --build build --target unit_corpus_corpus_baseline_test >/dev/null
  ALERTBUS_CORPUS="$(cd "$corpus" && pwd)" ALERTBUS_CORPUS_UPDATE_BASELINE=1 "$test" |
    grep -E "wrote|SKIPPED|FAILED|threw|failed" || true
  git --no-pager diff --stat -- tests/data/corpus-baseline.tsv 2>/dev/null || true
  exit 0
elif [[ $# -gt 0 ]]; then
  echo "usage: [ALERTBUS_CORPUS=DIR] scripts/corpus-check.sh [--update-baseline]" >&2
  exit 2
fi

for a in met water fire maritime; do
  [[ -x build/adapters/alertbus-$a ]] || { scripts/build.sh; break; }
done

adapter_for() {
  case "$(basename "$1" | tr '[:upper:]' '[:lower:]')" in
    cap*|met*|gbt*|edxl*|atom*|rss*) echo met ;;
    hydro*|water*|gauge*|waterml*) echo water ;;
    fire*|firms*|dispatch*) echo fire ;;
    ais*|navtex*|maritime*|nmea*) echo maritime ;;
    *) echo "${ALERTBUS_CORPUS_ADAPTER:-met water fire maritime}" ;;
  esac
}

status=0
check() {  # adapter, path
  echo "== alertbus-$1 --check $2 =="
  build/adapters/alertbus-"$1" --config "config/$1.toml" --check "$2" || status=1
}
shopt -s nullglob
loose=("$corpus"/*)
for entry in "${loose[@]}"; do
  if [[ -d "$entry" ]]; then
    for a in $(adapter_for "$entry"); do check "$a" "$entry"; done
  fi
done
files=()
for entry in "${loose[@]}"; do [[ -f "$entry" ]] && files+=("$entry"); done
if ((${#files[@]})) && [[ -n "${ALERTBUS_CORPUS_ADAPTER:-}" ]]; then
  for a in $ALERTBUS_CORPUS_ADAPTER; do
    for f in "${files[@]}"; do check "$a" "$f"; done
  done
fi

# Against the baseline (what ctest checks): files read worse or missing, new files, files read better.
test=build/tests/unit/unit_corpus_corpus_baseline_test
if [[ -x "$test" ]]; then
  echo "== tests/data/corpus-baseline.tsv (${ALERTBUS_CORPUS_BASELINE:-committed baseline}) =="
  if ALERTBUS_CORPUS="$(cd "$corpus" && pwd)" "$test" >/tmp/corpus-check.$$ 2>&1; then result="no file read worse"; else
    result="FAILED"; fi
  awk '/: warning:|FAILED:/{p=1} p{print} /^$/{p=0}' /tmp/corpus-check.$$
  rm -f /tmp/corpus-check.$$
  echo "baseline: $result"
fi
exit $status
