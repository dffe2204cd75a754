#!/usr/bin/env bash
# Build one libFuzzer target with clang + ASan and run it for a bounded time.
#   tests/fuzz/run_fuzz.sh fuzz_onnx [SECONDS=60] [BUILD_DIR=<repo>/build-fuzz]
# The corpus starts from seeds_<name>.py (small valid models, written with
# /usr/bin/python3) and/or seeds/<name>/, and grows in BUILD_DIR/corpus/.
# Crash inputs are saved in BUILD_DIR/artifacts/<target>/; exit status is
# non-zero if the fuzzer found anything. Exit 77 (ctest: skipped) without clang.
set -euo pipefail
target=${1:?usage: run_fuzz.sh fuzz_<name> [seconds] [build_dir]}
secs=${2:-60}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
bdir=${3:-$src/build-fuzz}
name=${target#fuzz_}

cxx=${EF_FUZZ_CXX:-$(command -v clang++-14 || command -v clang++ || true)}
cc=${EF_FUZZ_CC:-$(command -v clang-14 || command -v clang || true)}
if [[ -z "$cxx" || -z "$cc" ]]; then
  echo "SKIP: clang not found (install clang-14 libclang-rt-14-dev)"; exit 77
fi

mkdir -p "$bdir"
gen=Ninja; command -v ninja >/dev/null || gen="Unix Makefiles"
jobs=${EF_FUZZ_JOBS:-2}
(
  flock 9  # several fuzz tests may share the build tree
  if [[ ! -f "$bdir/CMakeCache.txt" ]]; then
    cmake -S "$src" -B "$bdir" -G "$gen" -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" -DEDGEFLOW_FUZZ=ON >"$bdir/configure.log" 2>&1 ||
      { cat "$bdir/configure.log"; exit 1; }
  fi
  cmake --build "$bdir" --target "$target" -j "$jobs" >"$bdir/build-$target.log" 2>&1 ||
    { tail -50 "$bdir/build-$target.log"; exit 1; }
) 9>"$bdir/.lock"

corpus="$bdir/corpus/$target"
art="$bdir/artifacts/$target"
mkdir -p "$corpus" "$art"
if [[ -f "$here/seeds_$name.py" && -x /usr/bin/python3 ]]; then
  /usr/bin/python3 "$here/seeds_$name.py" "$corpus" || echo "warning: seeds_$name.py failed; fuzzing from what is there"
fi
# TFLite seeds: the crafted models of the importer tests, written by the
# main build's unit_tflite (nothing binary is kept in git).
main_tests=$(dirname "$bdir")/tests
if [[ $name == tflite && -x $main_tests/unit_tflite ]]; then
  EF_TFLITE_DUMP_SEEDS="$corpus" "$main_tests/unit_tflite" --gtest_filter='TFLiteImport.*:TFLiteBadInput.TinyModelIsValid' \
    >/dev/null 2>&1 || echo "warning: unit_tflite could not write seeds"
fi
# Inputs that once crashed or hung the loader start every run.
if [[ -d "$here/regressions/$name" ]]; then cp -n "$here/regressions/$name"/* "$corpus"/ 2>/dev/null || true; fi
echo "fuzzing $target for ${secs}s, corpus $corpus ($(ls "$corpus" | wc -l) files)"
exe=$(find "$bdir" -type f -name "$target" -perm -u+x | head -1)
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
  "$exe" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 -max_len=65536 \
  -artifact_prefix="$art/" -print_final_stats=1 "$corpus" 2>"$bdir/$target.log" || {
  status=$?
  tail -60 "$bdir/$target.log"
  echo "FAILED: $target found a problem; reproducer(s) in $art/ (run: $exe <file>)"
  exit $status
}
grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|Done [0-9]+ runs" "$bdir/$target.log" || true
echo "$target: no crash in ${secs}s"
