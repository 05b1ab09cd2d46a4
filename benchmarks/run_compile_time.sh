#!/usr/bin/env bash
# Compile time of the canonical TUs: each object's own compile command (as ninja runs it) timed
# ROUNDS times with /usr/bin/time -v; prints the minimum wall seconds, the CPU seconds (user + system)
# and the peak RSS of that round, with the load average before each TU (on a shared machine the CPU
# seconds are the steadier figure: waiting for a core does not count).
# Usage: benchmarks/run_compile_time.sh [BUILD_DIR] [ROUNDS]
# The TUs: benchmarks/compile_time/bare_torch.cpp and one_recipe_trainer.cpp (no precompiled header;
# the latter header-only and over ftmeta::core), examples/finetune.cpp and examples/minimal.cpp (as
# built: with the shared precompiled header, over ftmeta::core when FTMETA_USE_CORE is on).
# Then src/ftmeta_core.cpp (ftmeta::core, compiled once per build). An object the build does not
# define (an older checkout) is skipped.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
rounds=${2:-3}
objects=(
  benchmarks/CMakeFiles/compile_bare_torch.dir/compile_time/bare_torch.cpp.o
  benchmarks/CMakeFiles/compile_one_recipe_trainer.dir/compile_time/one_recipe_trainer.cpp.o
  benchmarks/CMakeFiles/compile_one_recipe_trainer_core.dir/compile_time/one_recipe_trainer.cpp.o
  examples/CMakeFiles/finetune.dir/finetune.cpp.o
  examples/CMakeFiles/minimal.dir/minimal.cpp.o
  CMakeFiles/ftmeta_core.dir/src/ftmeta_core.cpp.o
)
# What the objects need first: the precompiled header, and the compiled core when it is in use.
pre=(ftmeta_pch)
ninja -C "$build" -t targets all | grep -q '^ftmeta_core:' && pre+=(ftmeta_core)
nice -n 15 ninja -C "$build" -j2 "${pre[@]}" >/dev/null
printf '%-32s %8s %8s %10s  %s\n' TU "wall s" "cpu s" "peak MiB" "load (1, 5, 15 min) before"
for obj in "${objects[@]}"; do
  cmd=$(ninja -C "$build" -t commands "$obj" 2>/dev/null | tail -1) || continue
  [ -n "$cmd" ] || continue
  best="" rss=""
  for ((i = 0; i < rounds; ++i)); do
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    out=$(cd "$build" && { /usr/bin/time -v bash -c "$cmd" >/dev/null; } 2>&1)
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' <<<"$out" | awk -F: '{print $(NF-1)*60 + $NF}')
    kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' <<<"$out")
    cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {print s}' <<<"$out")
    if [ -z "$best" ] || awk "BEGIN{exit !($wall < $best)}"; then best=$wall rss=$kb bestload=$load bestcpu=$cpu; fi
    loads+="$load; "
  done
  printf '%-32s %8.1f %8.1f %10d  %s\n' "$(sed 's|.*CMakeFiles/\([^/]*\)\.dir/.*|\1|' <<<"$obj")" "$best" "$bestcpu" $((rss / 1024)) "$bestload (all rounds: ${loads% ; })"
  loads=""
done
