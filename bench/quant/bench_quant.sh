#!/bin/bash
# FP32 vs INT8 in edgeflow, and ONNX Runtime (npm onnxruntime-node 1.30) on
# the same INT8 QDQ file, in one run; plus INT8-vs-FP32 accuracy on real photos.
#
#   bench/quant/bench_quant.sh [--rounds N] [--runs R] [--warmup W] [--threads "1 2"] [--models "mobilenet_v2 selfie blazeface"]
#
# INT8 files (out/quant/*.int8.onnx): made by `edgeflow quantize` when the
# build has it, else by bench/quant/make_qdq.py (ORT-style QDQ: per-channel
# int8 weights, per-tensor uint8 activations, min/max over the photos in
# data/). TFLite models go through `edgeflow convert` first. FP32 runs the
# original file (.onnx / .tflite). Each round runs every engine once (one
# process each: W warm-ups, R timed runs, its median); the table shows the
# median of the round medians. ratio > 1: edgeflow INT8 is faster.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD="${EF_BUILD_DIR:-$ROOT/build}"
EF="$BUILD/edgeflow"
OUT="$ROOT/out/quant"
rounds=3 runs=30 warmup=10 threads_list="1 2" models="mobilenet_v2 selfie blazeface"
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --threads) threads_list="$2"; shift 2 ;;
    --models) models="$2"; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench_quant.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -x "$EF" ] || { echo "error: $EF not built" >&2; exit 1; }
mkdir -p "$OUT"
PY=/usr/bin/python3

# name -> fp32 file, input name, input size, value range, accuracy kind
spec() {
  case "$1" in
    mobilenet_v2) echo "$ROOT/.cache/models/mobilenet_v2.onnx input 224x224 nchw imagenet classifier" ;;
    selfie) echo "$ROOT/models/cache/selfie_segmentation.tflite input_1 256x256 nhwc 0:1 segmenter" ;;
    blazeface) echo "$ROOT/models/cache/face_detection_short_range.tflite input 128x128 nhwc -1:1 detector" ;;
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

median_of() { sort -g | awk '{a[NR]=$1} END {if (NR==0) exit 1; print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
json_median() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const l=s.trim().split("\n").filter(x=>x.startsWith("{")).pop();if(!l)process.exit(1);console.log(JSON.parse(l).median_ms)})'; }

results=$(mktemp)
acc=$(mktemp)
trap 'rm -f "$results" "$acc"' EXIT
for m in $models; do
  read -r fp32 iname size layout range kind <<<"$(spec "$m")"
  [ -f "$fp32" ] || { echo "error: $fp32 missing" >&2; exit 1; }
  in_dir=$(inputs_for "$m" "$size" "$layout" "$range")
  int8="$OUT/$m.int8.onnx"
  if [ ! -f "$int8" ]; then
    if "$EF" quantize --help >/dev/null 2>&1 && "$EF" quantize "$fp32" --calib "$ROOT/data" --out "$int8" >&2; then
      echo "$m: INT8 file by edgeflow quantize" >&2
    else
      src="$fp32"
      case "$fp32" in *.tflite) src="$OUT/$m.fp32.onnx"; "$EF" convert "$fp32" "$src" >&2 ;; esac
      $PY "$ROOT/bench/quant/make_qdq.py" "$src" "$int8" "$in_dir"/*.npy 2>&1 | grep -v 'W:onnxruntime' >&2
      echo "$m: INT8 file by bench/quant/make_qdq.py (edgeflow quantize not available)" >&2
    fi
  fi
  EF="$EF" $PY "$ROOT/bench/quant/accuracy.py" "$kind" "$fp32" "$int8" "$iname" "$in_dir"/*.npy | sed "s/^/$m /" >>"$acc"
  for t in $threads_list; do
    for r in $(seq "$rounds"); do
      f=$("$EF" bench "$fp32" --threads "$t" --runs "$runs" --warmup "$warmup" --json | json_median)
      q=$("$EF" bench "$int8" --threads "$t" --runs "$runs" --warmup "$warmup" --json | json_median)
      o=$(node "$ROOT/bench/ort_runner.js" "$int8" --threads "$t" --runs "$runs" --warmup "$warmup" --json | json_median)
      printf '%s %s %s %s %s\n' "$m" "$t" "$f" "$q" "$o" >>"$results"
      printf '  %-13s threads %s round %s: FP32 %8.3f  INT8 %8.3f  ORT INT8 %8.3f ms\n' "$m" "$t" "$r" "$f" "$q" "$o" >&2
    done
  done
done

echo
echo "edgeflow FP32 vs INT8 vs ONNX Runtime $(node -p "require('$ROOT/bench/node_modules/onnxruntime-node/package.json').version") on the same INT8 QDQ file; median of $rounds rounds x $runs runs after $warmup warm-ups"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%Y-%m-%d)"
echo
echo "| model | threads | FP32 ms | INT8 ms | INT8 speed-up | ORT INT8 ms | ORT / edgeflow INT8 |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for m in $models; do
  for t in $threads_list; do
    f=$(awk -v m="$m" -v t="$t" '$1==m && $2==t {print $3}' "$results" | median_of)
    q=$(awk -v m="$m" -v t="$t" '$1==m && $2==t {print $4}' "$results" | median_of)
    o=$(awk -v m="$m" -v t="$t" '$1==m && $2==t {print $5}' "$results" | median_of)
    awk -v m="$m" -v t="$t" -v f="$f" -v q="$q" -v o="$o" 'BEGIN {printf "| %s | %s | %.2f | %.2f | %.2fx | %.2f | %.2f |\n", m, t, f, q, f/q, o, o/q}'
  done
done
echo
echo "accuracy, INT8 vs FP32 (edgeflow), on the photos in data/:"
cat "$acc"
