#!/usr/bin/env bash
# examples/interrupt_resume.sh: SIGINT or SIGTERM during epoch 2 stops finetune at the next step with
# exit status 130 or 143 and a line saying how to continue; --resume then finishes the run with the
# metrics of one never interrupted. With MODE=twice, a second SIGINT right after the first exits at
# once (130); last.pt stays a consistent checkpoint and the resumed run is still exact
# (CTest: example.finetune.interrupt.{int,term,twice}).
#   interrupt_resume.sh FINETUNE OUT_DIR UNINTERRUPTED_OUT_DIR CHECK_SCRIPT MODE(int|term|twice) FINETUNE_ARGS...
set -uo pipefail
finetune=$1 out=$2 reference=$3 check=$4 mode=$5
shift 5
rm -rf "$out"
mkdir -p "$(dirname "$out")"
"$finetune" --out "$out" "$@" > "$out.log" 2>&1 &
pid=$!
for _ in $(seq 1 6000); do  # epoch 1's checkpoint, then the signal lands in epoch 2
  [[ -f $out/last.pt ]] && break
  kill -0 "$pid" 2> /dev/null || { echo "finetune ended before writing last.pt:"; cat "$out.log"; exit 1; }
  sleep 0.1
done
case $mode in
  int) kill -INT "$pid"; expect=130 ;;
  term) kill -TERM "$pid"; expect=143 ;;
  twice) kill -INT "$pid"; sleep 0.05; kill -INT "$pid"; expect=130 ;;
esac
start=$(date +%s)
wait "$pid"
rc=$?
cat "$out.log" | tail -3
echo "finetune exited with $rc after $(( $(date +%s) - start )) s (expected $expect)"
[[ $rc -eq $expect ]] || exit 1
if [[ $mode == twice ]]; then
  grep -q "second signal: exiting now" "$out.log" || { echo "FAIL: no line for the second signal"; exit 1; }
else
  grep -q "finetune: interrupted by SIG$( [[ $mode == int ]] && echo INT || echo TERM): stopped on request in epoch 2 after batch [0-9]* of [0-9]*; saved $out/last.pt; to continue exactly: .* --resume" "$out.log" ||
    { echo "FAIL: no line saying how to resume"; exit 1; }
fi
ls "$out"/*.tmp.* 2> /dev/null && { echo "FAIL: a temporary file was left"; exit 1; }
"$finetune" --out "$out" "$@" --resume > "$out.resume.log" 2>&1 || { cat "$out.resume.log"; exit 1; }
grep "resuming" "$out.resume.log"
cmake -DDIR="$out" -DSAME_AS="$reference" -P "$check" || exit 1
echo "interrupted and resumed exactly"
