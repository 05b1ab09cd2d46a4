#!/usr/bin/env bash
# The ONNX rows of docs/benchmarks.md: file sizes, and per-image CPU latency of one forward pass at
# batch 1 and 32, OpenCV DNN (the export_onnx file, as predict_onnx runs it) against LibTorch (the
# checkpoint, as predict runs it), with 1 thread and with all cores. Run on a quiet machine.
# Usage: benchmarks/run_onnx_latency.sh CHECKPOINT [ITERS]   (env: BUILD=build)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD:-$root/build}
checkpoint=${1:?usage: run_onnx_latency.sh CHECKPOINT [ITERS]}
iters=${2:-20}
ninja -C "$build" export predict_onnx bench_onnx_latency >/dev/null
onnx=$(mktemp -d)/model.onnx
"$build/examples/export" --checkpoint "$checkpoint" --onnx "$onnx" >&2
all=$(nproc)
echo "| | size |"
echo "|---|---|"
echo "| checkpoint (LibTorch archive, with optimizer state) | $(du -h "$checkpoint" | cut -f1) |"
echo "| ONNX file (BatchNorm folded, float32) | $(du -h "$onnx" | cut -f1) |"
echo "| predict_onnx binary + its shared libraries | $(ldd "$build/examples/predict_onnx" | awk '/=>/ {print $3}' | xargs du -cLh "$build/examples/predict_onnx" | tail -1 | cut -f1) |"
echo "| predict binary + its shared libraries | $(ldd "$build/examples/predict" | awk '/=>/ {print $3}' | xargs du -cLh "$build/examples/predict" | tail -1 | cut -f1) |"
echo
echo "| runtime | threads | batch | ms per image (median of $iters) |"
echo "|---|---|---|---|"
for threads in 1 "$all"; do
  for batch in 1 32; do
    for runtime in libtorch opencv; do
      line=$(OMP_NUM_THREADS=$threads "$build/benchmarks/bench_onnx_latency" --runtime $runtime --checkpoint "$checkpoint" \
             --onnx "$onnx" --batch $batch --threads $threads --iters "$iters")
      ms=$(sed -n 's/.*ms_per_image=\([0-9.e+-]*\).*/\1/p' <<<"$line")
      size=$(sed -n 's/.*size=\([0-9]*\).*/\1/p' <<<"$line")
      printf '| %s | %s | %s | %.2f |\n' "$([ $runtime = opencv ] && echo 'OpenCV DNN 4.6' || echo LibTorch)" "$threads" "$batch" "$ms"
    done
  done
done
echo
echo "Input ${size}x${size}, forward pass only (decoding and preprocessing excluded), $(lscpu | sed -n 's/^Model name: *//p'), $all cores."
