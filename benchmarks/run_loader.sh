#!/bin/sh
# Runs bench_loader and its Python peer (benchmarks/loader.py) in one go on the same corpus, and prints
# the Loader table of docs/benchmarks.md with the machine, versions and load.
# Usage: benchmarks/run_loader.sh [BUILD_DIR (build)] [EPOCHS_CPP (8)] [EPOCHS_PY (2)]
# The corpus: FTMETA_BENCH_CORPUS=DIR (JPEGs in class subfolders, as ImageFolder reads them, decoded as found);
# unset: mate-backgrounds JPEGs cut to 500x375, 12 per source image, made once in /tmp/ftmeta_loader_corpus.
# FTMETA_BENCH_ROUNDS=N (2): the two programs run N times, alternating, and each row keeps its best rate.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
epochs_cpp=${2:-8}
epochs_py=${3:-2}
python=${FTMETA_PYTHON:-$here/build/venv/bin/python}
corpus=${FTMETA_BENCH_CORPUS:-${FTMETA_LOADER_CORPUS:-/tmp/ftmeta_loader_corpus}}
ninja -C "$build" -j1 bench_loader >/dev/null 2>&1
[ -d "$corpus" ] || "$python" "$here/benchmarks/loader.py" --make-corpus "$corpus" 12
out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "# $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "# OpenCV $(pkg-config --modversion opencv4 2>/dev/null || echo '?'), $(basename "$(readlink -f /usr/lib/x86_64-linux-gnu/libjpeg.so.62 2>/dev/null || echo libjpeg)")"
echo "# load before: $(uptime | sed 's/.*load average: //')"
rounds=${FTMETA_BENCH_ROUNDS:-2}
: >"$out"
i=0
while [ "$i" -lt "$rounds" ]; do
  OMP_NUM_THREADS=1 "$build/benchmarks/bench_loader" "$corpus" "$epochs_cpp" 32 1 2 >>"$out"
  OMP_NUM_THREADS=1 "$python" "$here/benchmarks/loader.py" "$corpus" "$epochs_py" 32 1 2 >>"$out"
  i=$((i + 1))
done
echo "# $rounds rounds, alternating ftmeta and its peer; each row: its best round"
echo "# load after: $(uptime | sed 's/.*load average: //')"
grep '^#' "$out"
awk '
  /^#/ { next }
  { if (!($1 in t) || $2 > t[$1]) t[$1] = $2 }
  END {
    row = "| %-48s | %8.1f | %s |\n"
    for (k = 0; k < 2; ++k) {
      cpu = k ? "_cpu" : ""
      printf "| %-48s | %8s | %s |\n", k ? "per CPU-second (all threads / processes), classic chain" : "ready batches of 32 x 3x224x224, classic chain", k ? "images" : "images/s", "ftmeta is"
      printf "| %-48s | %8s | %s |\n", "---", "---:", "---"
      split("whole region scaled", vs, " ")
      for (i = 1; i <= 3; ++i)
        for (n = 1; n <= 2; ++n) {
          key = "ftmeta_" vs[i] "_threads_" n cpu
          printf row, sprintf("ftmeta Loader, %s decode, %d thread%s", vs[i], n, n > 1 ? "s" : ""), t[key], sprintf("%.1fx torch, %d worker%s%s", t[key] / t["torch_workers_" n cpu], n, n > 1 ? "s" : "", k ? " (target 6x)" : "")
        }
      printf row, "torch DataLoader + ImageFolder, 1 worker", t["torch_workers_1" cpu], ""
      printf row, "torch DataLoader + ImageFolder, 2 workers", t["torch_workers_2" cpu], ""
      printf "\n"
    }
  }' "$out"
