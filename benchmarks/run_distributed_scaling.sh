#!/bin/sh
# Data-parallel scaling on this machine: bench_distributed_scaling (ftmeta::distributed, Gloo) and
# its PyTorch DistributedDataParallel peer (benchmarks/distributed_scaling.py), each alone and as 2
# ranks on 127.0.0.1 with the same global batch (strong scaling), one thread per rank. Prints the
# table with the machine and its load. Efficiency = (1-rank step time) / (2 x 2-rank step time).
# Usage: benchmarks/run_distributed_scaling.sh [BUILD_DIR (build)] [STEPS (30)] [GLOBAL_BATCH (256)]
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
steps=${2:-30}
batch=${3:-256}
python=${FTMETA_PYTHON:-$here/build/venv/bin/python}
ninja -C "$build" -j1 bench_distributed_scaling >/dev/null
bench=$build/benchmarks/bench_distributed_scaling
out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "# $(uname -m), $(getconf _NPROCESSORS_ONLN) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); torch $("$python" -c 'import torch; print(torch.__version__)')"
export OMP_NUM_THREADS=1
echo "# load before: $(uptime | sed 's/.*load average: //')"
args="--steps $steps --batch $batch --threads 1"
"$bench" $args >>"$out"
"$here/examples/launch.sh" --nproc 2 -- "$bench" $args >>"$out"
"$python" "$here/benchmarks/distributed_scaling.py" $args >>"$out"
"$python" -m torch.distributed.run --nproc-per-node 2 --master-addr 127.0.0.1 --master-port $((29600 + $$ % 1000)) \
  "$here/benchmarks/distributed_scaling.py" $args 2>/dev/null | grep '^impl' >>"$out"
echo "# load after: $(uptime | sed 's/.*load average: //')"
awk '
  /^impl/ { ms[$2 "," $4] = $8; sps[$2 "," $4] = $10 }
  END {
    printf "| %-38s | %7s | %9s | %10s |\n", "MLP 512-1024-1024-10, global batch", "ranks", "step ms", "efficiency"
    printf "|%s|%s|%s|%s|\n", "----------------------------------------", "---------", "-----------", "------------"
    n = split("ftmeta pytorch", impl, " ")
    for (i = 1; i <= n; ++i)
      for (w = 1; w <= 2; ++w) {
        k = impl[i] "," w
        if (!(k in ms)) continue
        eff = (w == 1) ? "" : sprintf("%.2f", ms[impl[i] ",1"] / (2 * ms[k]))
        printf "| %-38s | %7d | %9.1f | %10s |\n", impl[i], w, ms[k], eff
      }
  }' "$out"
