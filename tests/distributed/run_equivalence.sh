#!/usr/bin/env bash
# Data-parallel equivalence on 127.0.0.1: the same training run (12 SGD-momentum steps, global
# batch 32) alone, as two ranks of 16 (examples/launch.sh), and, when a Python with torch is
# given, as two ranks started by torchrun itself, must end with the same weights and the same
# reduced metrics; with BatchNorm layers, two ranks with synchronized BatchNorm must match one
# process (and two without must not). Then rank 0's checkpoint must load into a single-process run
# unchanged.
#   run_equivalence.sh BUILD/distributed_train [PYTHON]
set -euo pipefail
bin=$1 py=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
launch=$here/../../examples/launch.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=1 FTMETA_DIST_TIMEOUT=60
args=(--steps 12 --batch 32 --samples 192)

echo "== one process, batch 32"
timeout 120 "$bin" "${args[@]}" --out "$work/one.bin"
echo "== two processes (examples/launch.sh), 16 each"
timeout 120 "$launch" --nproc 2 -- "$bin" "${args[@]}" --out "$work/two.bin" --save "$work/two.pt"
"$bin" --compare "$work/one.bin" "$work/two.bin" --tol 1e-5
echo "== four processes, 8 each"
timeout 180 "$launch" --nproc 4 -- "$bin" "${args[@]}" --out "$work/four.bin"
"$bin" --compare "$work/one.bin" "$work/four.bin" --tol 1e-5
echo "== BatchNorm: two processes of 16 with synchronized BatchNorm, one of 32 with plain BatchNorm"
timeout 120 "$bin" "${args[@]}" --bn --out "$work/bn_one.bin"
timeout 120 "$launch" --nproc 2 -- "$bin" "${args[@]}" --sync-bn --out "$work/bn_sync.bin"
"$bin" --compare "$work/bn_one.bin" "$work/bn_sync.bin" --tol 1e-5
echo "== the control: per-rank BatchNorm statistics do differ from one process's"
timeout 120 "$launch" --nproc 2 -- "$bin" "${args[@]}" --bn --out "$work/bn_local.bin"
if "$bin" --compare "$work/bn_one.bin" "$work/bn_local.bin" --tol 1e-5; then
  echo "FAIL: two ranks with unsynchronized BatchNorm matched one process: the check above proves nothing" >&2
  exit 1
fi
echo "== the two-process checkpoint in a single process"
timeout 60 "$bin" --steps 0 --load "$work/two.pt" --out "$work/loaded.bin"
"$bin" --compare "$work/two.bin" "$work/loaded.bin" --tol 0 --weights-only
if [[ -n $py ]] && "$py" -c "import torch.distributed.run" 2>/dev/null; then
  echo "== two processes started by torchrun"
  port=$((31000 + RANDOM % 2000))
  timeout 180 "$py" -m torch.distributed.run --nproc-per-node 2 --master-addr 127.0.0.1 --master-port "$port" \
    --no-python "$bin" "${args[@]}" --out "$work/torchrun.bin"
  "$bin" --compare "$work/one.bin" "$work/torchrun.bin" --tol 1e-5
fi
echo "equivalence: ok"
