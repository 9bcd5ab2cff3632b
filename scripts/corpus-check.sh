#!/usr/bin/env bash
# Runs each adapter's parsers over a folder of captured inputs and prints, per file, what was accepted and
# what was rejected and why (alertbus-<adapter> --check). Publishes nothing, changes nothing.
#   ALERTBUS_CORPUS=/path/to/captures scripts/corpus-check.sh
# Each immediate subfolder goes to the adapter its name suggests (cap*, met*, gbt* -> met; hydro*, water*,
# gauge* -> water; fire*, firms* -> fire; ais*, navtex*, maritime* -> maritime); other subfolders go to
# the adapters named by ALERTBUS_CORPUS_ADAPTER (default: all four). Files directly in the folder are
# checked only when ALERTBUS_CORPUS_ADAPTER names the adapter(s) for them (a corpus's README is not input).
# Builds first if the adapters are missing. Exit status 0 unless a folder could not be read.
set -euo pipefail
cd "$(dirname "$0")/.."
corpus="${ALERTBUS_CORPUS:?set ALERTBUS_CORPUS to a folder of captured inputs}"
[[ -d "$corpus" ]] || { echo "corpus-check: $corpus is not a directory" >&2; exit 2; }
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
exit $status
