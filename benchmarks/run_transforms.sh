#!/bin/sh
# Runs bench_transforms and its Python peers (benchmarks/transforms_peers.py) in one go, one thread each,
# and prints the Transforms table of docs/benchmarks.md with the machine, versions and load.
# Usage: benchmarks/run_transforms.sh [BUILD_DIR (default build)] [PASSES_CPP (10)] [PASSES_PY (3)]
# FTMETA_BENCH_CORPUS=DIR: the JPEGs under DIR (class subfolders allowed), decoded as found, on both sides;
# unset: the mate-backgrounds photos cut to 500x375.
# FTMETA_BENCH_CLOCK=cpu times each side by its thread's CPU time instead of wall-clock (a shared machine).
# FTMETA_BENCH_ROUNDS=N (3): the two programs run N times, alternating (ftmeta, peers, ftmeta, ...), and each row
# keeps its best time; on a VM whose speed drifts over minutes, both sides then see the same phases.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$here/build}
passes_cpp=${2:-10}
passes_py=${3:-3}
python=${FTMETA_PYTHON:-$here/build/venv/bin/python}
ninja -C "$build" -j1 bench_transforms >/dev/null
out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "# $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "# load before: $(uptime | sed 's/.*load average: //')"
rounds=${FTMETA_BENCH_ROUNDS:-3}
: >"$out"
i=0
while [ "$i" -lt "$rounds" ]; do
  OMP_NUM_THREADS=1 "$build/benchmarks/bench_transforms" "$passes_cpp" >>"$out"
  OMP_NUM_THREADS=1 "$python" "$here/benchmarks/transforms_peers.py" "$passes_py" >>"$out"
  i=$((i + 1))
done
echo "# $rounds rounds, alternating ftmeta and its peers; each row: its best round"
echo "# load after: $(uptime | sed 's/.*load average: //')"
grep '^#' "$out" | sort -u
awk '
  /^#/ { next }
  { if (!($1 in t) || $2 < t[$1]) t[$1] = $2 }
  END {
    row = "| %-34s | %9.3f | %s |\n"
    printf "| %-34s | %9s | %s |\n", "canonical chain (one thread)", "ms/image", "ftmeta fused is"
    printf "| %-34s | %9s | %s |\n", "---", "---:", "---"
    printf row, "ftmeta fused, float32 CHW", t["ftmeta_canonical"], "1x"
    printf row, "torchvision (PIL input)", t["torchvision_canonical"], sprintf("%.1fx faster (target 12x)", t["torchvision_canonical"] / t["ftmeta_canonical"])
    printf row, "albumentations (numpy input)", t["albumentations_canonical"], sprintf("%.1fx faster (target 3x)", t["albumentations_canonical"] / t["ftmeta_canonical"])
    printf row, "bare cv::resize INTER_AREA, same crop", t["bare_resize_same_crop"], sprintf("%.2fx the resize (target <= 1.3x)", t["ftmeta_canonical"] / t["bare_resize_same_crop"])
    printf row, "bare PIL resize of a crop (same law)", t["pil_resize_crop"], sprintf("%.2fx the resize", t["ftmeta_canonical"] / t["pil_resize_crop"])
    printf "\n"
    printf "| %-34s | %9s | %s |\n", "classic chain (one thread)", "ms/image", "ftmeta fused is"
    printf "| %-34s | %9s | %s |\n", "---", "---:", "---"
    printf row, "ftmeta fused, float32 CHW", t["ftmeta_fused"], "1x"
    printf row, "ftmeta fused, uint8 CHW", t["ftmeta_fused_uint8"], sprintf("%.2fx faster", t["ftmeta_fused_uint8"] / t["ftmeta_fused"])
    printf row, "ftmeta unfused (op by op)", t["ftmeta_unfused"], sprintf("%.1fx faster", t["ftmeta_unfused"] / t["ftmeta_fused"])
    printf row, "torchvision (PIL input)", t["torchvision"], sprintf("%.1fx faster", t["torchvision"] / t["ftmeta_fused"])
    printf row, "albumentations (numpy input)", t["albumentations"], sprintf("%.1fx faster (target 4x)", t["albumentations"] / t["ftmeta_fused"])
    printf row, "bare cv::warpAffine to 224x224", t["bare_warp"], sprintf("%.2fx the warp (target <= 1.3x)", t["ftmeta_fused"] / t["bare_warp"])
    printf row, "ftmeta fused, no ColorJitter", t["ftmeta_fused_nojitter"], sprintf("%.2fx the warp", t["ftmeta_fused_nojitter"] / t["bare_warp"])
    printf row, "ftmeta fused, ColorJitter hue only", t["ftmeta_fused_hue_only"], sprintf("%.2fx the warp", t["ftmeta_fused_hue_only"] / t["bare_warp"])
    printf row, "ftmeta fused, ColorJitter without hue", t["ftmeta_fused_no_hue"], sprintf("%.2fx the warp", t["ftmeta_fused_no_hue"] / t["bare_warp"])
    printf row, "no rotation: ftmeta fused", t["ftmeta_fused_norot"], "1x"
    printf row, "no rotation: ftmeta unfused", t["ftmeta_unfused_norot"], sprintf("%.1fx faster", t["ftmeta_unfused_norot"] / t["ftmeta_fused_norot"])
    printf row, "no rotation: torchvision", t["torchvision_norot"], sprintf("%.1fx faster", t["torchvision_norot"] / t["ftmeta_fused_norot"])
    printf row, "no rotation: albumentations", t["albumentations_norot"], sprintf("%.1fx faster", t["albumentations_norot"] / t["ftmeta_fused_norot"])
    printf row, "no rotation: bare cv::resize of a crop", t["bare_resize"], sprintf("%.2fx the resize", t["ftmeta_fused_norot"] / t["bare_resize"])
  }' "$out"
