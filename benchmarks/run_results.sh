#!/usr/bin/env bash
# The runs behind docs/results.md: EfficientNet-Lite0 fine-tuned on Fashion-MNIST in C++ (full data and
# few-shot), each against the same network trained from scratch with the same budget, and the blog's
# recipe written the classic Python way (benchmarks/python_baseline.py) side by side with ftmeta.
#
# Usage: benchmarks/run_results.sh BUILD_DIR [RUN...]
#   RUN: full-pretrained full-scratch few-pretrained few-scratch side-by-side side-by-side-nhwc
#        (default: all, in that order)
# Env: OUT (default out/results), SIZE (input side, default 64), FULL_EPOCHS (10), FEW_EPOCHS (15),
#      SIDE_EPOCHS (2), SIDE_PER_CLASS (1000), THREADS (torch threads for both sides, default 2).
# The side-by-side defaults are the main job's settings (scripts/finetune.sh).
# Each run writes OUT/RUN/ (log, metrics.csv, checkpoints); the last lines of every log are the
# figures docs/results.md quotes. Runs are sequential: run them on a quiet machine (or two at once
# with THREADS=1 each, as docs/results.md did for the full-data pair).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${1:?usage: run_results.sh BUILD_DIR [RUN...]}" && pwd)
shift
runs=("$@")
[ ${#runs[@]} -gt 0 ] || runs=(full-pretrained full-scratch few-pretrained few-scratch side-by-side side-by-side-nhwc)
out=${OUT:-$root/out/results}
size=${SIZE:-64}
threads=${THREADS:-2}
python=$build/venv/bin/python
[ -x "$python" ] || python=$root/build/venv/bin/python
export OMP_NUM_THREADS=$threads

cmake --build "$build" --target finetune >/dev/null
finetune=$build/examples/finetune
mkdir -p "$out"

# finetune NAME ARGS...: one C++ run, timed, its log in OUT/NAME/log.txt.
run_finetune() {
  local name=$1
  shift
  mkdir -p "$out/$name"
  echo "== $name: finetune --image-size $size $* (load: $(cut -d' ' -f1-3 /proc/loadavg))"
  local t0=$SECONDS
  "$finetune" --out "$out/$name" --image-size "$size" "$@" 2>&1 | tee "$out/$name/log.txt" | grep -E '^(epoch [0-9]+/[0-9]+  train|test|data)'
  echo "wall seconds: $((SECONDS - t0)) (load after: $(cut -d' ' -f1-3 /proc/loadavg))" | tee -a "$out/$name/log.txt"
}

for run in "${runs[@]}"; do
  case $run in
    # The whole training set for a longer run: the tuned recipe (examples/recipe.hpp), NHWC on the CPU.
    full-pretrained) run_finetune "$run" --per-class 0 --epochs "${FULL_EPOCHS:-10}" --recipe tuned --channels-last ;;
    full-scratch) run_finetune "$run" --per-class 0 --epochs "${FULL_EPOCHS:-10}" --recipe tuned --channels-last --no-pretrained ;;
    few-pretrained) run_finetune "$run" --recipe blog --per-class 100 --test-per-class 0 --epochs "${FEW_EPOCHS:-15}" ;;
    few-scratch) run_finetune "$run" --recipe blog --per-class 100 --test-per-class 0 --epochs "${FEW_EPOCHS:-15}" --no-pretrained ;;
    side-by-side | side-by-side-nhwc)
      # The same data tree, epochs, batch, input size, threads and one loading worker on both sides;
      # side-by-side-nhwc runs both sides with NHWC (channels_last) weights and inputs.
      epochs=${SIDE_EPOCHS:-2}
      suffix=${run#side-by-side}
      format=()
      [ -z "$suffix" ] || format=(--channels-last)
      run_finetune "side-ftmeta$suffix" --recipe blog --per-class "${SIDE_PER_CLASS:-1000}" --epochs "$epochs" --workers 1 ${format[@]+"${format[@]}"}
      mkdir -p "$out/side-python$suffix"
      echo "== side-python$suffix: python_baseline.py --image-size $size --epochs $epochs ${format[*]-} (load: $(cut -d' ' -f1-3 /proc/loadavg))"
      t0=$SECONDS
      "$python" "$root/benchmarks/python_baseline.py" "$out/side-ftmeta$suffix/fashion-mnist" --epochs "$epochs" \
        --image-size "$size" --workers 1 --threads "$threads" ${format[@]+"${format[@]}"} 2>&1 | tee "$out/side-python$suffix/log.txt"
      echo "wall seconds: $((SECONDS - t0)) (load after: $(cut -d' ' -f1-3 /proc/loadavg))" | tee -a "$out/side-python$suffix/log.txt"
      ;;
    *) echo "run_results.sh: unknown run '$run' (full-pretrained full-scratch few-pretrained few-scratch side-by-side side-by-side-nhwc)" >&2; exit 2 ;;
  esac
done
