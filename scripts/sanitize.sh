#!/usr/bin/env bash
# Builds the weights-reader tests (tests/unit/weights_*.cpp: torch.save legacy and zip, safetensors,
# load_into) with AddressSanitizer and UndefinedBehaviorSanitizer, writes their references, and runs
# them; any sanitizer report fails the run. LibTorch itself is not instrumented (the wheel's
# binaries), so reports point into ftmeta's readers and the tests.
#   scripts/sanitize.sh [BUILD_DIR (default build-sanitize)] [extra Catch2 arguments]
# Environment: FTMETA_PYTHON (default build/venv/bin/python), FTMETA_JOBS (default 1).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(realpath -m "${1:-$root/build-sanitize}")
shift || true
python=${FTMETA_PYTHON:-$root/build/venv/bin/python}
# The filter keeps the weights unit tests (and one small static test: CMake needs a source there).
flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1"
mkdir -p "$build"
cmake -G Ninja -S "$root" -B "$build" -DFTMETA_PYTHON="$python" -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DFTMETA_TEST_FILTER='weights_|static/models_backbone_spec' -DFTMETA_BUILD_EXAMPLES=OFF > "$build/configure.log"
cmake --build "$build" -j "${FTMETA_JOBS:-1}" --target ftmeta_unit
"$python" "$root/tests/python/make_refs.py" "$build/tests/refs" weights models
# protect_shadow_gap=0: the CUDA-enabled torch libraries map memory where ASan's gap would be.
# detect_leaks=0: torch's global registries are never freed at exit (not ftmeta's allocations).
ASAN_OPTIONS=protect_shadow_gap=0:detect_leaks=0:halt_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  OMP_NUM_THREADS=1 FTMETA_REFS_DIR="$build/tests/refs" FTMETA_PYTHON="$python" \
  "$build/tests/ftmeta_unit" "[weights]" "$@"
