#!/usr/bin/env bash
# Builds and runs every benchmark; each prints its figure next to a baseline measured in the same run.
#   scripts/bench.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test  # Kannel for bench_sms_kannel
scripts/build.sh
cmake --build build --target benchmarks -j"$(nproc)"
for b in build/bench/bench_*; do
  echo "== $(basename "$b") =="
  "$b" "$@"
done
