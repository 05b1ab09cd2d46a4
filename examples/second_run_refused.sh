#!/usr/bin/env bash
# examples/second_run_refused.sh: a second finetune on the --out of a running one is refused with
# a message naming the first's PID; after the first is killed (SIGKILL, no clean-up), a third run
# takes its stale lock over (CTest: example.finetune.locked).
#   second_run_refused.sh FINETUNE OUT_DIR FINETUNE_ARGS...
set -uo pipefail
finetune=$1 out=$2
shift 2
rm -rf "$out"
"$finetune" --out "$out" "$@" > "$out.first.log" 2>&1 &
pid=$!
for _ in $(seq 1 3000); do
  [[ -s $out/ftmeta.lock ]] && break
  sleep 0.1
done
second=$("$finetune" --out "$out" "$@" 2>&1)
rc=$?
echo "second run: exit $rc: $second"
kill -9 "$pid"
wait "$pid" 2> /dev/null
[[ $rc -eq 2 ]] || { echo "FAIL: expected exit status 2"; exit 1; }
grep -q "finetune: the output folder $out is in use by another run (PID $pid, lock file $out/ftmeta.lock)" <<< "$second" ||
  { echo "FAIL: the message does not name PID $pid"; exit 1; }
# the first run was killed: its lock is stale and the next run takes it over (--lr-find: a short run)
third=$("$finetune" --out "$out" "$@" --lr-find --lr-find-steps 5 2>&1) || { echo "$third"; exit 1; }
grep -q "lock: took over $out/ftmeta.lock from PID $pid (no longer running)" <<< "$third" || { echo "$third"; echo "FAIL: stale lock"; exit 1; }
echo "second run refused; stale lock taken over"
