#!/bin/bash
# edgeflow vs native TFLite 2.9 (+XNNPACK) vs ONNX Runtime 1.30 on the
# MediaPipe models, in one run.
#
#   bench/mediapipe.sh [--rounds N] [--runs R] [--threads "1 2"] [--models "face_detection_short_range ..."] [--cpu]
#
# For each model and thread count, N alternating rounds (default 3) of:
#   build/bench/tflite/bench_tflite   edgeflow and TFLite in one process on the
#                                     same .tflite file and the same input
#   bench/ort_runner.js               ONNX Runtime on the file `edgeflow convert`
#                                     wrote from that .tflite (.cache/onnx/)
# each reporting the median of R runs (default 30); the table shows the median
# of the round medians and the ratios peer / edgeflow (> 1: edgeflow faster).
# TFLite cannot run selfie_segmentation (MediaPipe's custom op): "n/a".
# --cpu: every run timed by its process's CPU time instead of wall time (all
# three engines; robust to other load, meaningful at 1 thread only).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
. "$ROOT/bench/lib.sh"
BUILD="${EF_BUILD_DIR:-$ROOT/build}"
CACHE="$ROOT/models/cache"
rounds=3 runs=30 threads_list="1 2" timing=""
models="face_detection_short_range face_detection_full_range palm_detection_lite hand_landmark_lite selfie_segmentation"
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --models) models="$2"; shift 2 ;;
    --threads) threads_list="$2"; shift 2 ;;
    --cpu) timing="--cpu"; shift ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "mediapipe.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ "$runs" -ge 30 ] || echo "note: fewer than 30 runs: not a reportable measurement" >&2

EF="$BUILD/edgeflow" BT="$BUILD/bench/tflite/bench_tflite"
[ -x "$EF" ] && [ -x "$BT" ] || { echo "error: build edgeflow and bench_tflite first (./x build)" >&2; exit 1; }
bash "$ROOT/bench/compare_ort.sh" --install-only
lib=$(bash "$ROOT/bench/tflite/fetch_tflite_c.sh")
mkdir -p "$ROOT/.cache/onnx"

results=$(mktemp)
trap 'rm -f "$results"' EXIT
for m in $models; do
  tfl="$CACHE/$m.tflite" onnx="$ROOT/.cache/onnx/$m.onnx"
  [ -f "$tfl" ] || { echo "error: $tfl missing (tools/fetch_models.sh)" >&2; exit 1; }
  [ "$onnx" -nt "$tfl" ] && [ "$onnx" -nt "$EF" ] || "$EF" convert "$tfl" "$onnx" >/dev/null
  for t in $threads_list; do
    for r in $(seq "$rounds"); do
      # bench_tflite prints: model threads tflite_ms|n/a edgeflow_ms ratio
      line=$("$BT" --lib "$lib" --runs "$runs" --threads "$t" $timing "$tfl" | tail -n 1)
      tf=$(awk '{print $3}' <<<"$line") ef=$(awk '{print $4}' <<<"$line")
      ort=$(node "$ROOT/bench/ort_runner.js" "$onnx" --threads "$t" --runs "$runs" --warmup 10 --json $timing | json_fields median_ms) ||
        { echo "error: ort_runner failed on $m (threads $t)" >&2; exit 1; }
      printf '%s %s %s %s %s\n' "$m" "$t" "$ef" "$tf" "$ort" >>"$results"
      printf '  %-28s threads %s round %s: edgeflow %8s ms  TFLite %8s ms  ORT %8.3f ms\n' "$m" "$t" "$r" "$ef" "$tf" "$ort" >&2
    done
  done
done

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
echo
echo "MediaPipe models: edgeflow vs TFLite 2.9+XNNPACK vs ONNX Runtime (on the exported ONNX)"
echo "median of $rounds alternating rounds x $runs runs${timing:+ (process CPU time)}; machine: $cpu, $(nproc) cores; load $(load_avg); $(date -u +%Y-%m-%d)"
echo
echo "| model | threads | edgeflow ms | TFLite ms | ORT ms | TFLite/edgeflow | ORT/edgeflow |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for m in $models; do
  for t in $threads_list; do
    col() { awk -v m="$m" -v t="$t" -v c="$1" '$1==m && $2==t && $c!="n/a" {print $c}' "$results" | median_of || echo n/a; }
    ef=$(col 3) tf=$(col 4) ort=$(col 5)
    awk -v m="$m" -v t="$t" -v e="$ef" -v f="$tf" -v o="$ort" 'BEGIN {
      r = (f == "n/a") ? "n/a" : sprintf("%.2f", f / e);
      printf "| %s | %s | %.3f | %s | %.3f | %s | %.2f |\n", m, t, e, (f == "n/a" ? "n/a" : sprintf("%.3f", f)), o, r, o / e }'
  done
done
