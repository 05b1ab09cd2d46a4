#!/usr/bin/env bash
# The GPU check, for a machine with an NVIDIA GPU, CMake, a C++20 compiler and Python torch (no
# OpenCV needed): builds tools/gpu_check against that torch's LibTorch and trains on CUDA with AMP.
# Usage: scripts/gpu_check.sh [gpu_check flags]   (env: PYTHON, default python3)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
python=${PYTHON:-python3}
prefix=$("$python" -c 'import torch.utils; print(torch.utils.cmake_prefix_path)')
gen=(); command -v ninja >/dev/null && gen=(-G Ninja)
cmake "${gen[@]}" -S "$root/tools/gpu_check" -B "$root/build-gpu-check" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$root/build-gpu-check" -j "$(nproc)"
"$root/build-gpu-check/gpu_check" "$@"
"$root/build-gpu-check/gpu_check" --precision bf16 --steps 30 "$@"
