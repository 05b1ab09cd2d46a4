#!/usr/bin/env bash
# The few-shot table of docs/results.md: for N images per class drawn (seeded) from Fashion-MNIST's
# training set (90% train, 10% val; tested on all 10,000 test images, 64 px), four methods on the same
# tree, one after the other, each timed as a whole program:
#   probe    logistic regression on the frozen Lite0's pooled features (benchmarks/fewshot_probe.py)
#   fastai   fastai 2.8 fine_tune(EPOCHS) with the same Lite0 body and its create_head (fewshot_fastai.py)
#   blog     ftmeta finetune --recipe blog (the blog's recipe, 2 epochs)
#   default  ftmeta finetune (the default policy)
#
# Usage: benchmarks/run_fewshot.sh BUILD_DIR [N...]        (default N: 10 30 100 1000)
# Env: OUT (default out/fewshot), THREADS (torch threads of every method, default 2), SEED (0),
#      FASTAI_EPOCHS (10; FASTAI_EPOCHS_1000 for N = 1000, default 3), METHODS (default "probe fastai blog default").
# Needs the peers' venv: benchmarks/requirements-fewshot.txt, made here in BUILD_DIR/fewshot-venv if missing.
# Prints one markdown row per (N, method) with the test accuracy, the wall time and the load average.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(cd "${1:?usage: run_fewshot.sh BUILD_DIR [N...]}" && pwd)
shift
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10 30 100 1000)
out=${OUT:-$root/out/fewshot}
threads=${THREADS:-2}
seed=${SEED:-0}
methods=${METHODS:-probe fastai blog default}
export OMP_NUM_THREADS=$threads

venv=$build/fewshot-venv
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$root/benchmarks/requirements-fewshot.txt" "$venv/.requirements"; then
  echo "run_fewshot.sh: creating $venv from benchmarks/requirements-fewshot.txt" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$root/benchmarks/requirements-fewshot.txt"
  cp "$root/benchmarks/requirements-fewshot.txt" "$venv/.requirements"
fi
py=$venv/bin/python
cmake --build "$build" --target finetune >/dev/null
finetune=$build/examples/finetune
mkdir -p "$out"

echo "| images per class | method | test accuracy | wall seconds | load before |"
echo "| ---: | --- | ---: | ---: | --- |"
for n in "${sizes[@]}"; do
  data=$out/data-n$n
  "$py" "$root/benchmarks/fewshot_data.py" "$data" --per-class "$n" --seed "$seed" >&2
  epochs=${FASTAI_EPOCHS:-10}
  [ "$n" != 1000 ] || epochs=${FASTAI_EPOCHS_1000:-3}
  for m in $methods; do
    log=$out/n$n-$m.log
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    t0=$(date +%s.%N)
    case $m in
      probe) "$py" "$root/benchmarks/fewshot_probe.py" "$data" --threads "$threads" >"$log" 2>&1 ;;
      fastai) "$py" "$root/benchmarks/fewshot_fastai.py" "$data" --epochs "$epochs" --threads "$threads" --seed "$seed" >"$log" 2>&1 ;;
      blog) rm -rf "$out/n$n-blog"; "$finetune" --data "$data" --out "$out/n$n-blog" --recipe blog --seed "$seed" >"$log" 2>&1 ;;
      default) rm -rf "$out/n$n-default"; "$finetune" --data "$data" --out "$out/n$n-default" --seed "$seed" >"$log" 2>&1 ;;
      *) echo "run_fewshot.sh: unknown method $m" >&2; exit 2 ;;
    esac
    secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
    acc=$(grep -o 'test accuracy: [0-9.]*' "$log" | tail -1 | cut -d' ' -f3)
    label=$m
    [ "$m" != fastai ] || label="fastai fine_tune($epochs)"
    printf "| %s | %s | %s | %.1f | %s |\n" "$n" "$label" "${acc:-failed}" "$secs" "$load"
  done
done
