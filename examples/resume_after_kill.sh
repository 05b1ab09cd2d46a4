#!/usr/bin/env bash
# examples/resume_after_kill.sh: a run killed with SIGKILL during epoch 2, then resumed with
# --resume, must leave the metrics of a run never interrupted (CTest: example.finetune.kill_resume).
#   resume_after_kill.sh FINETUNE OUT_DIR UNINTERRUPTED_OUT_DIR CHECK_SCRIPT FINETUNE_ARGS...
set -uo pipefail
finetune=$1 out=$2 reference=$3 check=$4
shift 4
rm -rf "$out"
"$finetune" --out "$out" "$@" > "$out.log" 2>&1 &
pid=$!
# wait for epoch 1's checkpoint, then kill during epoch 2
for _ in $(seq 1 6000); do
  [[ -f $out/last.pt ]] && break
  kill -0 "$pid" 2> /dev/null || { echo "finetune ended before writing last.pt:"; cat "$out.log"; exit 1; }
  sleep 0.1
done
[[ -f $out/last.pt ]] || { echo "no last.pt after 600 s"; kill -9 "$pid"; exit 1; }
kill -9 "$pid"
wait "$pid" 2> /dev/null
echo "killed finetune (pid $pid) after epoch 1; resuming"
"$finetune" --out "$out" "$@" --resume || exit 1
cmake -DDIR="$out" -DSAME_AS="$reference" -P "$check"
