#!/usr/bin/env bash
# A failed rank must end the others with a message within a timeout, never a hang (127.0.0.1):
#   1. rank 1 killed (SIGKILL) mid-training: rank 0 stops within 30 s naming itself;
#   2. rank 1 alive but silent: rank 0 stops after FTMETA_DIST_TIMEOUT (3 s), naming the timeout;
#   3. rank 1 never started: rank 0's rendezvous fails within the timeout;
#   4. malformed launch variables: exit status 2 and the variable's name.
#   run_failure.sh BUILD/distributed_train
set -uo pipefail
bin=$1
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$work"; }
trap cleanup EXIT
export OMP_NUM_THREADS=1
fail() { echo "FAIL: $*" >&2; for f in "$work"/*.log; do echo "--- $f" >&2; cat "$f" >&2; done; exit 1; }
free_port() {
  local p=$((33000 + RANDOM % 4000))
  while (: </dev/tcp/127.0.0.1/$p) 2>/dev/null; do p=$((p + 1)); done
  echo "$p"
}
# rank R of 2 in the background, its stderr in $work/NAME.log; sets $pid
start() {
  local name=$1 rank=$2 port=$3 tmo=$4; shift 4
  env WORLD_SIZE=2 RANK="$rank" MASTER_ADDR=127.0.0.1 MASTER_PORT="$port" FTMETA_DIST_TIMEOUT="$tmo" \
    "$bin" --steps 400 --batch 32 "$@" >"$work/$name.out" 2>"$work/$name.log" &
  pid=$!
  pids+=("$pid")
}
# waits up to $2 s for pid $1; sets $rc (124: still running) and $took (seconds)
wait_for() {
  local t0=$SECONDS
  while kill -0 "$1" 2>/dev/null && ((SECONDS - t0 < $2)); do sleep 0.2; done
  if kill -0 "$1" 2>/dev/null; then rc=124; else wait "$1"; rc=$?; fi
  took=$((SECONDS - t0))
}

echo "== 1. rank 1 killed at step 5"
port=$(free_port)
start killed0 0 "$port" 120; p0=$pid
start killed1 1 "$port" 120 --die-rank 1 --die-step 5
wait_for "$p0" 30
((rc != 0 && rc != 124)) || fail "rank 0 did not stop within 30 s after its peer died (status $rc)"
grep -q "distributed: rank 0 of 2" "$work/killed0.log" || fail "rank 0's message does not name it"
echo "rank 0 stopped in ${took} s with status $rc: $(head -c 300 "$work/killed0.log")"

echo "== 2. rank 1 silent from step 5, timeout 3 s"
port=$(free_port)
start silent0 0 "$port" 3; p0=$pid
start silent1 1 "$port" 3 --hang-rank 1 --hang-step 5; p1=$pid
wait_for "$p0" 60
((rc != 0 && rc != 124)) || fail "rank 0 did not stop within 60 s although its peer was silent (status $rc)"
grep -q "within 3 s" "$work/silent0.log" || fail "rank 0's message does not give the timeout"
kill -9 "$p1" 2>/dev/null
echo "rank 0 stopped in ${took} s with status $rc: $(head -c 300 "$work/silent0.log")"

echo "== 3. rank 1 never starts, timeout 3 s"
start alone0 0 "$(free_port)" 3; p0=$pid
wait_for "$p0" 60
((rc != 0 && rc != 124)) || fail "rank 0 waited more than 60 s for a rank that never came (status $rc)"
grep -q "rendezvous" "$work/alone0.log" || fail "rank 0's message does not say the rendezvous failed"
echo "rank 0 stopped in ${took} s with status $rc: $(head -c 300 "$work/alone0.log")"

echo "== 4. malformed variables"
out=$(env WORLD_SIZE=2 RANK=abc MASTER_ADDR=127.0.0.1 MASTER_PORT=1 "$bin" 2>&1); rc=$?
((rc == 2)) && [[ $out == *"RANK='abc' is not an integer"* ]] || fail "RANK=abc gave status $rc: $out"
out=$(env WORLD_SIZE=2 RANK=1 MASTER_PORT=1 "$bin" 2>&1); rc=$?
((rc == 2)) && [[ $out == *"MASTER_ADDR is not set"* ]] || fail "missing MASTER_ADDR gave status $rc: $out"
echo "failure: ok"
