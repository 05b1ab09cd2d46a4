#!/usr/bin/env bash
# examples/launch.sh: runs N ranks of a data-parallel program on this machine, with the variables
# torchrun sets (WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR, MASTER_PORT), so ftmeta's
# ProcessGroup::from_env() forms the group. `torchrun --nproc-per-node N --no-python PROGRAM ...`
# does the same (and more); this needs nothing but bash.
#
#   examples/launch.sh --nproc 2 -- build/examples/finetune --epochs 1
#
# --port P      the rendezvous port (default: a free one from 29500 on)
# --timeout S   FTMETA_DIST_TIMEOUT: how long a rank waits for a silent peer (default: ftmeta's)
# When a rank fails, the others get --grace seconds (default 30) to stop on their own with their
# message, then are killed. The exit status is the first failing rank's, else 0.
set -uo pipefail

nproc=2 port="" timeout="" grace=30
while [[ $# -gt 0 ]]; do
  case $1 in
    --nproc) nproc=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --grace) grace=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "launch.sh: unknown flag $1 (usage: launch.sh [--nproc N] [--port P] [--timeout S] -- PROGRAM ARGS...)" >&2; exit 2 ;;
  esac
done
[[ $# -ge 1 ]] || { echo "launch.sh: no program given (usage: launch.sh [--nproc N] -- PROGRAM ARGS...)" >&2; exit 2; }
[[ $nproc =~ ^[1-9][0-9]*$ ]] || { echo "launch.sh: --nproc '$nproc' is not a positive integer" >&2; exit 2; }

if [[ -z $port ]]; then
  port=$((29500 + RANDOM % 2000))
  while (: </dev/tcp/127.0.0.1/$port) 2>/dev/null; do port=$((port + 1)); done
fi

declare -A rank_of
for ((r = 0; r < nproc; r++)); do
  env WORLD_SIZE="$nproc" RANK="$r" LOCAL_RANK="$r" MASTER_ADDR=127.0.0.1 MASTER_PORT="$port" \
    ${timeout:+FTMETA_DIST_TIMEOUT=$timeout} "$@" &
  rank_of[$!]=$r
done

status=0 left=$nproc
while ((left > 0)); do
  wait -n -p done_pid
  rc=$?
  left=$((left - 1))
  if ((rc != 0 && status == 0)); then
    status=$rc
    echo "launch.sh: rank ${rank_of[$done_pid]} exited with status $rc; stopping the others within ${grace} s" >&2
    # the survivors should stop on their own with a message; kill them if not
    (sleep "$grace"; for p in "${!rank_of[@]}"; do kill -9 "$p" 2>/dev/null; done) &
    killer=$!
  fi
done
[[ -n ${killer:-} ]] && kill "$killer" 2>/dev/null
exit "$status"
