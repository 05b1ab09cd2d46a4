#!/usr/bin/env bash
# Data-parallel scaling of the finetune example itself (EfficientNet-Lite0 + the blog's head,
# Fashion-MNIST at 64x64) with 1 and 2 processes on 127.0.0.1 (Gloo), one torch thread per rank,
# the same global batch (strong scaling), with and without synchronized BatchNorm. The training
# throughput is the trainer's own (metrics.csv: train_images_per_s of the last epoch, loading and
# evaluation excluded). Efficiency = (2-rank images/s) / (2 x 1-rank images/s).
# Usage: benchmarks/run_finetune_scaling.sh [BUILD_DIR (build)] [PER_CLASS (40)] [EPOCHS (2)] [GLOBAL_BATCH (32)]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
per_class=${2:-40}
epochs=${3:-2}
batch=${4:-32}
bin=$build/examples/finetune
[[ -x $bin ]] || { echo "run_finetune_scaling.sh: build $bin first (ninja -C $build finetune)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=1

echo "# $(uname -m), $(getconf _NPROCESSORS_ONLN) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "# finetune, Fashion-MNIST $per_class per class at 64x64, $epochs epochs, global batch $batch, 1 thread per rank"
echo "# load before: $(uptime | sed 's/.*load average: //')"
# export the data once (this run is not timed)
"$bin" --per-class "$per_class" --epochs 1 --batch-size "$batch" --workers 0 --out "$work/export" >/dev/null
common=(--data "$work/export/fashion-mnist" --epochs "$epochs" --batch-size "$batch" --image-size 64 --workers 0 --seed 0)
# images/s of the last epoch's training, from metrics.csv
rate() { awk -F, 'NR == 1 { for (i = 1; i <= NF; ++i) if ($i == "train_images_per_s") c = i } END { print $c }' "$1/metrics.csv"; }
run() {  # name ranks extra-flags...
  local name=$1 ranks=$2; shift 2
  if ((ranks == 1)); then
    "$bin" "${common[@]}" "$@" --out "$work/$name" >/dev/null
  else
    "$here/examples/launch.sh" --nproc "$ranks" -- "$bin" "${common[@]}" "$@" --out "$work/$name" >/dev/null
  fi
  rate "$work/$name"
}
one=$(run one 1)
two=$(run two 2)
one_bn=$(run one_bn 1 --sync-bn)
two_bn=$(run two_bn 2 --sync-bn)
echo "# load after: $(uptime | sed 's/.*load average: //')"
printf "| %-34s | %5s | %12s | %10s |\n" "finetune, global batch $batch" ranks "train img/s" efficiency
printf "|%s|%s|%s|%s|\n" "------------------------------------" "-------" "--------------" "------------"
row() { printf "| %-34s | %5d | %12.1f | %10s |\n" "$1" "$2" "$3" "$4"; }
row "per-rank BatchNorm" 1 "$one" ""
row "per-rank BatchNorm" 2 "$two" "$(awk -v a="$one" -v b="$two" 'BEGIN { printf "%.2f", b / (2 * a) }')"
row "--sync-bn" 1 "$one_bn" ""
row "--sync-bn" 2 "$two_bn" "$(awk -v a="$one_bn" -v b="$two_bn" 'BEGIN { printf "%.2f", b / (2 * a) }')"
