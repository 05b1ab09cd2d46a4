#!/usr/bin/env bash
# The main job: sets up everything, builds the examples, and fine-tunes the ImageNet-pretrained
# EfficientNet-Lite0 on Fashion-MNIST (or on --data DIR). Arguments go to build/examples/finetune.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${FTMETA_BUILD:-$root/build}
"$root/scripts/configure.sh"
cmake --build "$build" -j "${FTMETA_JOBS:-2}" --target finetune predict
exec "$build/examples/finetune" "$@"
