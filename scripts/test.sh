#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every test through ctest.
# Tests start every service they need themselves (brokers on OS-chosen ports, in temporary directories).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
scripts/build.sh
cd build
ctest --output-on-failure --timeout 600 -j2 "$@"
