#!/bin/sh
# Runs bench_loader and its Python peer (benchmarks/loader.py) in one go on the same corpus, and prints
# the Loader table of docs/benchmarks.md with the machine, versions and load.
# Usage: benchmarks/run_loader.sh [BUILD_DIR (build)] [EPOCHS_CPP (3)] [EPOCHS_PY (2)]
# The corpus (mate-backgrounds JPEGs cut to 500x375, 12 per source image) is made once in
# ${FTMETA_LOADER_CORPUS:-/tmp/ftmeta_loader_corpus}.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
epochs_cpp=${2:-3}
epochs_py=${3:-2}
python=${FTMETA_PYTHON:-$here/build/venv/bin/python}
corpus=${FTMETA_LOADER_CORPUS:-/tmp/ftmeta_loader_corpus}
ninja -C "$build" -j1 bench_loader >/dev/null 2>&1
[ -d "$corpus" ] || "$python" "$here/benchmarks/loader.py" --make-corpus "$corpus" 12
out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "# $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "# OpenCV $(pkg-config --modversion opencv4 2>/dev/null || echo '?'), $(basename "$(readlink -f /usr/lib/x86_64-linux-gnu/libjpeg.so.62 2>/dev/null || echo libjpeg)")"
echo "# load before: $(uptime | sed 's/.*load average: //')"
OMP_NUM_THREADS=1 "$build/benchmarks/bench_loader" "$corpus" "$epochs_cpp" 32 1 2 >"$out"
OMP_NUM_THREADS=1 "$python" "$here/benchmarks/loader.py" "$corpus" "$epochs_py" 32 1 2 >>"$out"
echo "# load after: $(uptime | sed 's/.*load average: //')"
grep '^#' "$out"
awk '
  /^#/ { next }
  { t[$1] = $2 }
  END {
    row = "| %-44s | %8.1f | %s |\n"
    printf "| %-44s | %8s | %s |\n", "ready batches of 32 x 3x224x224, classic chain", "images/s", "ftmeta is"
    printf "| %-44s | %8s | %s |\n", "---", "---:", "---"
    printf row, "ftmeta Loader, 1 thread", t["ftmeta_threads_1"], sprintf("%.1fx torch, 1 worker (target 4x)", t["ftmeta_threads_1"] / t["torch_workers_1"])
    printf row, "ftmeta Loader, 2 threads", t["ftmeta_threads_2"], sprintf("%.1fx torch, 2 workers (target 4x)", t["ftmeta_threads_2"] / t["torch_workers_2"])
    printf row, "torch DataLoader + ImageFolder, 1 worker", t["torch_workers_1"], ""
    printf row, "torch DataLoader + ImageFolder, 2 workers", t["torch_workers_2"], ""
    printf "\n"
    printf "| %-44s | %8s | %s |\n", "per CPU-second (all threads / processes)", "images", "ftmeta is"
    printf "| %-44s | %8s | %s |\n", "---", "---:", "---"
    printf row, "ftmeta Loader, 1 thread", t["ftmeta_threads_1_cpu"], sprintf("%.1fx torch, 1 worker (target 4x)", t["ftmeta_threads_1_cpu"] / t["torch_workers_1_cpu"])
    printf row, "ftmeta Loader, 2 threads", t["ftmeta_threads_2_cpu"], sprintf("%.1fx torch, 2 workers (target 4x)", t["ftmeta_threads_2_cpu"] / t["torch_workers_2_cpu"])
    printf row, "torch DataLoader + ImageFolder, 1 worker", t["torch_workers_1_cpu"], ""
    printf row, "torch DataLoader + ImageFolder, 2 workers", t["torch_workers_2_cpu"], ""
  }' "$out"
