#!/bin/bash
# FP32 vs INT8 in edgeflow, and ONNX Runtime (npm onnxruntime-node) on the
# same INT8 QDQ file, in one run; plus INT8-vs-FP32 accuracy on the photos.
#
#   bench/quant/bench_quant.sh [--rounds N] [--runs R] [--warmup W] [--threads "1 2"] [--models "mobilenet_v2 selfie blazeface"] [--before BUILD_DIR]
#
# The INT8 files are the ones `edgeflow quantize` writes with
# bench/quant_models.sh (out/quant/*.int8.onnx, calibrated on real video
# frames; run first when a file is missing). FP32 runs the original file
# (.onnx / .tflite). Each round runs every engine in turn (FP32, INT8, ORT
# INT8; one process each: W warm-ups, R timed runs, its median) and measures
# each engine's CPU time per run, (CPU of a process with R runs - CPU of one
# with 1 run) / (R - 1), which a busy machine disturbs far less than the wall
# clock (BlazeFace, ~1 ms a run, gets 10 R runs). The tables show the median
# over the rounds. ratio > 1: edgeflow INT8 is faster. --before DIR also
# runs DIR/edgeflow (another build) on the INT8 file in every round, right
# before this build's INT8, and adds a table of the two.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
. "$ROOT/bench/lib.sh"
BUILD="${EF_BUILD_DIR:-$ROOT/build}"
EF="$BUILD/edgeflow"
OUT="$ROOT/out/quant"
rounds=3 runs=30 warmup=10 threads_list="1 2" models="mobilenet_v2 selfie blazeface" before=""
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --threads) threads_list="$2"; shift 2 ;;
    --models) models="$2"; shift 2 ;;
    --before) before="$2"; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench_quant.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
need_edgeflow "$EF"
[ -z "$before" ] || need_edgeflow "$before/edgeflow"
[ "$runs" -ge 2 ] || { echo "error: --runs must be at least 2" >&2; exit 2; }
mkdir -p "$OUT"
PY=/usr/bin/python3

# name -> fp32 file, input name, input size, value range, accuracy kind, INT8 file (bench/quant_models.sh)
spec() {
  case "$1" in
    mobilenet_v2) echo "$ROOT/.cache/models/mobilenet_v2.onnx input 224x224 nchw imagenet classifier mobilenet_v2" ;;
    selfie) echo "$ROOT/models/cache/selfie_segmentation.tflite input_1 256x256 nhwc 0:1 segmenter selfie_segmentation" ;;
    blazeface) echo "$ROOT/models/cache/face_detection_short_range.tflite input 128x128 nhwc -1:1 detector face_detection_short_range" ;;
    *) echo "error: unknown model $1" >&2; exit 2 ;;
  esac
}

inputs_for() {  # name size layout range -> directory of .npy photos
  local dir="$OUT/$1.inputs"
  if [ ! -d "$dir" ]; then
    if [ "$4" = imagenet ]; then  # torchvision normalisation, as the PyTorch reference input
      $PY - "$dir" "$2" "$ROOT"/data/*.jpg <<'PYEOF'
import sys, os, numpy as np
from PIL import Image
out, size, files = sys.argv[1], sys.argv[2], sys.argv[3:]
w, h = (int(v) for v in size.split("x"))
os.makedirs(out, exist_ok=True)
m, s = np.array([0.485, 0.456, 0.406], np.float32), np.array([0.229, 0.224, 0.225], np.float32)
for k, f in enumerate(files):
    x = (np.asarray(Image.open(f).convert("RGB").resize((w, h), Image.BILINEAR), np.float32) / 255 - m) / s
    np.save(f"{out}/{k:03d}.npy", np.ascontiguousarray(x.transpose(2, 0, 1)[None]))
PYEOF
    else
      $PY "$ROOT/bench/quant/frames_npy.py" "$dir" "$2" "$3" "${4%%:*}" "${4##*:}" "$ROOT"/data/*.jpg
    fi
  fi
  echo "$dir"
}

# CPU seconds (user + system) of one command.
cpu_s() { local TIMEFORMAT='%U %S'; { time "$@" >/dev/null 2>&1; } 2>&1 | awk '{print $1 + $2}'; }
# engine model threads runs -> "wall_median_ms cpu_ms_per_run"
measure() {
  local eng=$1 model=$2 t=$3 runs=$4 cmd
  case "$eng" in
    ort) cmd=(node "$ROOT/bench/ort_runner.js" "$model") ;;
    before) cmd=("$before/edgeflow" bench "$model") ;;
    *) cmd=("$EF" bench "$model") ;;
  esac
  local wall one many
  wall=$("${cmd[@]}" --threads "$t" --runs "$runs" --warmup "$warmup" --json | json_fields median_ms)
  one=$(cpu_s "${cmd[@]}" --threads "$t" --runs 1 --warmup "$warmup" --json)
  many=$(cpu_s "${cmd[@]}" --threads "$t" --runs "$runs" --warmup "$warmup" --json)
  awk -v w="$wall" -v a="$one" -v b="$many" -v r="$runs" 'BEGIN {printf "%s %.4f\n", w, (b - a) * 1000 / (r - 1)}'
}

results=$(mktemp)
acc=$(mktemp)
prior=$(mktemp)
trap 'rm -f "$results" "$acc" "$prior"' EXIT
for m in $models; do
  read -r fp32 iname size layout range kind qname <<<"$(spec "$m")"
  [ -f "$fp32" ] || { echo "error: $fp32 missing" >&2; exit 1; }
  in_dir=$(inputs_for "$m" "$size" "$layout" "$range")
  int8="$OUT/$qname.int8.onnx"
  if [ ! -f "$int8" ]; then
    echo "$m: $int8 missing; writing the INT8 files with bench/quant_models.sh" >&2
    EF_BUILD_DIR="$BUILD" "$ROOT/bench/quant_models.sh" "$OUT" >&2
  fi
  [ -f "$int8" ] || { echo "error: $int8 was not written (see bench/quant_models.sh)" >&2; exit 1; }
  EF="$EF" $PY "$ROOT/bench/quant/accuracy.py" "$kind" "$fp32" "$int8" "$iname" "$in_dir"/*.npy | sed "s/^/$m /" >>"$acc"
  n=$runs
  [ "$m" = blazeface ] && n=$((runs * 10))  # ~1 ms a run: more runs for the CPU-time difference
  for t in $threads_list; do
    for r in $(seq "$rounds"); do
      read -r fw fc <<<"$(measure ef "$fp32" "$t" "$n")"
      if [ -n "$before" ]; then
        read -r bw bc <<<"$(measure before "$int8" "$t" "$n")"
        printf '%s %s %s %s\n' "$m" "$t" "$bw" "$bc" >>"$prior"
      fi
      read -r qw qc <<<"$(measure ef "$int8" "$t" "$n")"
      read -r ow oc <<<"$(measure ort "$int8" "$t" "$n")"
      printf '%s %s %s %s %s %s %s %s\n' "$m" "$t" "$fw" "$qw" "$ow" "$fc" "$qc" "$oc" >>"$results"
      printf '  %-10s threads %s round %s: wall FP32 %8.3f INT8 %8.3f ORT %8.3f ms | CPU/run FP32 %8.3f INT8 %8.3f ORT %8.3f ms\n' \
        "$m" "$t" "$r" "$fw" "$qw" "$ow" "$fc" "$qc" "$oc" >&2
    done
  done
done

echo
echo "edgeflow FP32 vs INT8 vs ONNX Runtime $(node -p "require('$ROOT/bench/node_modules/onnxruntime-node/package.json').version") on the same INT8 QDQ file (bench/quant_models.sh); median of $rounds rounds x $runs runs after $warmup warm-ups"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%Y-%m-%d)"
echo
echo "| model | threads | FP32 ms | INT8 ms | INT8 speed-up | ORT INT8 ms | ORT / edgeflow INT8 | CPU ms/run FP32 / INT8 / ORT | CPU speed-up INT8, ORT/INT8 |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for m in $models; do
  for t in $threads_list; do
    col() { awk -v m="$m" -v t="$t" -v c="$1" '$1==m && $2==t {print $c}' "$results" | median_of; }
    awk -v m="$m" -v t="$t" -v f="$(col 3)" -v q="$(col 4)" -v o="$(col 5)" -v fc="$(col 6)" -v qc="$(col 7)" -v oc="$(col 8)" \
      'BEGIN {printf "| %s | %s | %.2f | %.2f | %.2fx | %.2f | %.2f | %.2f / %.2f / %.2f | %.2fx, %.2f |\n", m, t, f, q, f/q, o, o/q, fc, qc, oc, fc/qc, oc/qc}'
  done
done
if [ -n "$before" ]; then
  echo
  echo "INT8, $before/edgeflow (before) vs this build, same rounds; ratio > 1: this build is faster"
  echo
  echo "| model | threads | before ms | INT8 ms | wall ratio | CPU ms/run before / INT8 | CPU ratio |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
  for m in $models; do
    for t in $threads_list; do
      bw=$(awk -v m="$m" -v t="$t" '$1==m && $2==t {print $3}' "$prior" | median_of)
      bc=$(awk -v m="$m" -v t="$t" '$1==m && $2==t {print $4}' "$prior" | median_of)
      qw=$(awk -v m="$m" -v t="$t" '$1==m && $2==t {print $4}' "$results" | median_of)
      qc=$(awk -v m="$m" -v t="$t" '$1==m && $2==t {print $7}' "$results" | median_of)
      awk -v m="$m" -v t="$t" -v bw="$bw" -v bc="$bc" -v qw="$qw" -v qc="$qc" \
        'BEGIN {printf "| %s | %s | %.3f | %.3f | %.3fx | %.3f / %.3f | %.3fx |\n", m, t, bw, qw, bw/qw, bc, qc, bc/qc}'
    done
  done
fi
echo
echo "accuracy, INT8 vs FP32 (edgeflow), on the photos in data/ (bench/quant_models.sh logs: held-out video frames):"
cat "$acc"
