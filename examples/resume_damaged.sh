#!/usr/bin/env bash
# examples/resume_damaged.sh: --resume from a last.pt cut short, or with one byte changed, is refused
# with a message naming the file (and its intact predecessor, last.prev.pt), and nothing is written
# (CTest: example.finetune.resume_damaged).
#   resume_damaged.sh FINETUNE FINISHED_RUN_DIR WORK_DIR FINETUNE_ARGS...
set -uo pipefail
finetune=$1 source=$2 work=$3
shift 3
status=0
for damage in truncate flip; do
  out=$work/$damage
  rm -rf "$out"
  mkdir -p "$work"
  cp -r "$source" "$out"
  size=$(stat -c %s "$out/last.pt")
  if [[ $damage == truncate ]]; then
    truncate -s $((size * 2 / 3)) "$out/last.pt"
  else
    printf '\x5a' | dd of="$out/last.pt" bs=1 seek=$((size / 2)) conv=notrunc status=none
  fi
  before=$(md5sum "$out/last.pt" "$out/metrics.csv")
  log=$("$finetune" --out "$out" "$@" --resume 2>&1)
  rc=$?
  echo "$damage: exit $rc: $(echo "$log" | tail -1)"
  if [[ $rc -eq 0 ]]; then echo "  FAIL: resumed from a damaged checkpoint"; status=1; fi
  if ! grep -q "checkpoint $out/last.pt is damaged" <<< "$log"; then echo "  FAIL: the message does not name $out/last.pt"; status=1; fi
  if [[ -f $out/last.prev.pt ]] && ! grep -q "last.prev.pt (epoch [0-9]*) is intact" <<< "$log"; then
    echo "  FAIL: the intact predecessor is not named"; status=1
  fi
  [[ $(md5sum "$out/last.pt" "$out/metrics.csv") == "$before" ]] || { echo "  FAIL: files changed"; status=1; }
done
[[ $status -eq 0 ]] && echo "damaged checkpoints refused"
exit $status
