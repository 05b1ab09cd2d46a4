#!/usr/bin/env bash
# The test command: sets up everything, builds, and runs every test (ctest) on 2 cores.
# Usage: scripts/test.sh [extra ctest arguments]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${FTMETA_BUILD:-$root/build}
"$root/scripts/configure.sh"
cmake --build "$build" -j "${FTMETA_JOBS:-2}"
cd "$build"
ctest --output-on-failure -j "${FTMETA_JOBS:-2}" "$@"
