#!/bin/bash
# INT8 QDQ files of the benchmark models, written by `edgeflow quantize`, with
# their accuracy reports (float vs int8 on held-out real frames):
#   bench/quant_models.sh [OUT_DIR]      (default out/quant; logs beside the files)
# These are the files the INT8 speed benchmarks run. Then bench/quant/qat.sh
# fine-tunes selfie and BlazeFace (train/qat) and keeps the better file
# (QAT_STEPS=0 skips it).
set -euo pipefail
cd "$(dirname "$0")/.."
EF=${EF_BUILD_DIR:-build}/edgeflow
OUT=${1:-out/quant}
mkdir -p "$OUT"
run() {  # NAME MODEL ARGS...
  local name=$1 model=$2; shift 2
  if [ ! -f "$model" ]; then echo "SKIPPED: $model not found (./x setup)"; return; fi
  "$EF" quantize "$model" "$@" --out "$OUT/$name.int8.onnx" | tee "$OUT/$name.log"
  echo "load: $(uptime | sed 's/.*load average: //')" | tee -a "$OUT/$name.log"
}
run mobilenet_v2 .cache/models/mobilenet_v2.onnx --calib data/vtest.avi --frames 100 --eval-frames 300 \
  --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225
run selfie_segmentation models/cache/selfie_segmentation.tflite --calib data/Megamind.avi --frames 100 \
  --eval-frames 100 --method percentile --correct weights --save-frames "$OUT/selfie_segmentation.frames"
run face_detection_short_range models/cache/face_detection_short_range.tflite --calib data/Megamind.avi \
  --frames 100 --eval-frames 100 --method percentile --correct weights --mean 0.5,0.5,0.5 --std 0.5,0.5,0.5 \
  --save-frames "$OUT/face_detection_short_range.frames"
[ "${QAT_STEPS:-300}" = 0 ] || bench/quant/qat.sh "$OUT" "${QAT_STEPS:-300}"
