#!/usr/bin/env bash
# Sets up (scripts/setup.sh), then configures build/ with Ninja against the venv's LibTorch.
# Shared by scripts/test.sh and scripts/finetune.sh. Env: FTMETA_BUILD (default build).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${FTMETA_BUILD:-$root/build}
"$root/scripts/setup.sh"
if [ ! -f "$build/build.ninja" ]; then
  cmake -G Ninja -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DFTMETA_PYTHON="$build/venv/bin/python"
fi
