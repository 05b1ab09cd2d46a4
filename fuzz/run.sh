#!/usr/bin/env bash
# fuzz/run.sh: builds the libFuzzer targets of the weights readers and of the image decode rule
# (torch-free cores, clang++-14 with -fsanitize=fuzzer,address,undefined) and runs each for a
# bounded time; prints executions, seconds and findings per target. Not part of the CMake build.
#   fuzz/run.sh [SECONDS_PER_TARGET (default 60)] [WORK_DIR (default build-fuzz)] [TARGET...]
# Targets: pickle safetensors jpeg png (default: all). jpeg and png link OpenCV and libjpeg, which
# are not instrumented: the findings are in ftmeta's code (data/decode.hpp) and what it hands them.
# Seeds: fuzz/seeds/<target>/ if present, plus the reference files of tests/python/refs when a
# refs folder is found ($FTMETA_REFS_DIR, else build/tests/refs). Findings (crash-*, leak-*,
# timeout-*) are left in WORK_DIR/<target>/ and make the script exit non-zero.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
work=$(realpath -m "${2:-$root/build-fuzz}")
cxx=${CXX_FUZZ:-clang++-14}
refs=${FTMETA_REFS_DIR:-$root/build/tests/refs}
shift 2 2>/dev/null || shift $# 
targets=${*:-pickle safetensors jpeg png}
mkdir -p "$work"
status=0
for target in $targets; do
  dir=$work/$target
  mkdir -p "$dir/corpus"
  case $target in
    jpeg|png)
      src=$root/fuzz/image_fuzz.cpp
      extra="-DFTMETA_FUZZ_$(echo $target | tr a-z A-Z) -DFTMETA_WITH_LIBJPEG=1 $(pkg-config --cflags opencv4)"
      libs="-lopencv_imgcodecs -lopencv_core -ljpeg" ;;
    *) src=$root/fuzz/${target}_fuzz.cpp extra="" libs="" ;;
  esac
  "$cxx" -std=c++20 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=undefined -I "$root/include" $extra "$src" -o "$dir/${target}_fuzz" $libs
  [ -d "$root/fuzz/seeds/$target" ] && cp -n "$root/fuzz/seeds/$target"/* "$dir/corpus/" 2>/dev/null || true
  if [ -d "$refs" ]; then
    if [ $target = jpeg ] || [ $target = png ]; then
      # the decode references (all 8 EXIF orientations, CMYK, 16-bit, alpha, palette), option byte 0 or 1 first
      for f in "$refs"/decode/*.$( [ $target = jpeg ] && echo jpg || echo png); do
        [ -f "$f" ] && { printf '\x00' | cat - "$f" > "$dir/corpus/$(basename "$f").0"; printf '\x07' | cat - "$f" > "$dir/corpus/$(basename "$f").7"; } || true
      done
    elif [ $target = pickle ]; then
      # legacy files are pickles as they are; zip archives hold theirs as archive/data.pkl
      for f in "$refs"/weights/*legacy*.pt; do [ -f "$f" ] && cp -n "$f" "$dir/corpus/" || true; done
      for f in "$refs"/weights/*zip*.pt; do
        [ -f "$f" ] && unzip -p "$f" '*/data.pkl' > "$dir/corpus/$(basename "$f").pkl" 2>/dev/null || true
      done
    else
      for f in "$refs"/models/dtypes.safetensors; do [ -f "$f" ] && cp -n "$f" "$dir/corpus/" || true; done
    fi
  fi
  log=$dir/run.log
  # findings of earlier runs move aside, so the count below is this run's
  mkdir -p "$dir/earlier"
  find "$dir" -maxdepth 1 \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) -exec mv {} "$dir/earlier/" \;
  start=$(date +%s)
  (cd "$dir" && ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
    "./${target}_fuzz" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
      -print_final_stats=1 corpus > "$log" 2>&1) || status=1
  took=$(( $(date +%s) - start ))
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo "?")
  findings=$(find "$dir" -maxdepth 1 \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  echo "fuzz $target: $runs executions in ${took}s (limit ${seconds}s), coverage $cov edges, corpus $(ls "$dir/corpus" | wc -l) files, findings $findings (log: $log)"
  [ "$findings" -eq 0 ] || status=1
done
exit $status
