#!/bin/bash
# --precision fp16 vs fp32 in edgeflow, in one run: weight bytes (inspect),
# latency (R rounds; each round runs fp32, fp16 with float32 arithmetic
# (--fp16-compute f32: weights widened) and fp16 with --fp16-compute auto
# (float16 arithmetic where the CPU has AVX512-FP16 and the layer gains),
# one process each: W warm-ups, N timed runs, the median; the table shows
# the median of the round medians), and accuracy on the photos in data/
# (accuracy_fp16.py, both arithmetics against fp32).
#
#   bench/fp16/bench_fp16.sh [--rounds R] [--runs N] [--threads "1 2"]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
. "$ROOT/bench/lib.sh"
BUILD="${EF_BUILD_DIR:-$ROOT/build}"
EF="$BUILD/edgeflow"
rounds=3 runs=30 threads_list="1 2"
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --threads) threads_list="$2"; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench_fp16.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
need_edgeflow "$EF"
MODELS="$ROOT/.cache/models/mobilenet_v2.onnx $ROOT/models/cache/selfie_segmentation.tflite $ROOT/models/cache/face_detection_short_range.tflite"
echo "load: $(load_avg)"
printf "%-32s %7s %9s %9s %9s %9s %9s\n" model threads "fp32 ms" "f32a ms" "auto ms" "f32a/fp32" "auto/fp32"
ms() { "$EF" bench "$@" --runs "$runs" --json | sed 's/.*"median_ms":\([0-9.]*\).*/\1/'; }
for f in $MODELS; do
  for t in $threads_list; do
    a=() b=() c=()
    for r in $(seq "$rounds"); do
      a+=("$(ms "$f" --threads "$t")")
      b+=("$(ms "$f" --threads "$t" --precision fp16 --fp16-compute f32)")
      c+=("$(ms "$f" --threads "$t" --precision fp16)")
    done
    ma=$(printf "%s\n" "${a[@]}" | median_of) mb=$(printf "%s\n" "${b[@]}" | median_of) mc=$(printf "%s\n" "${c[@]}" | median_of)
    printf "%-32s %7s %9.3f %9.3f %9.3f %9.2f %9.2f\n" "$(basename "$f")" "$t" "$ma" "$mb" "$mc" \
      "$(echo "$mb / $ma" | bc -l)" "$(echo "$mc / $ma" | bc -l)"
  done
done
echo "load: $(load_avg)"
echo
for f in $MODELS; do
  w32=$("$EF" inspect "$f" | sed -n 's/^weight bytes: *.*(\([0-9]*\))/\1/p')
  w16=$("$EF" inspect "$f" --precision fp16 | sed -n 's/^weight bytes: *.*(\([0-9]*\))/\1/p')
  echo "$(basename "$f"): weight bytes fp32 $w32, fp16 $w16 ($(echo "scale=3; $w16 / $w32" | bc)x); $("$EF" inspect "$f" --precision fp16 | grep '^precision')"
done
echo
EF="$EF" /usr/bin/python3 "$ROOT/bench/fp16/accuracy_fp16.py"
