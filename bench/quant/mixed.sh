#!/bin/bash
# Accuracy-driven mixed precision on the MediaPipe models: `edgeflow quantize
# --target` keeps the most harmful layers float until the issue's accuracy
# target holds on the calibration frames, reports the held-out frames and
# times float, every-layer-int8 and the written file in one process.
#   bench/quant/mixed.sh [OUT_DIR] [THREADS]     (default out/quant, 1)
# Writes OUT_DIR/NAME.mixed.int8.onnx and NAME.mixed.log.
set -euo pipefail
cd "$(dirname "$0")/../.."
EF=${EF_BUILD_DIR:-build}/edgeflow
OUT=${1:-out/quant}
THREADS=${2:-1}
mkdir -p "$OUT"
run() {  # NAME MODEL ARGS...
  local name=$1 model=$2; shift 2
  if [ ! -f "$model" ]; then echo "SKIPPED: $model not found (./x setup)"; return; fi
  "$EF" quantize "$model" --calib data/Megamind.avi --frames 100 --eval-frames 100 --method percentile \
    --correct weights --threads "$THREADS" "$@" --out "$OUT/$name.mixed.int8.onnx" >"$OUT/$name.mixed.log"
  echo "load: $(uptime | sed 's/.*load average: //')" >>"$OUT/$name.mixed.log"
  echo "== $name"
  grep -A1 -- "^--target" "$OUT/$name.mixed.log"
  grep -A2 "^final outputs\|^with every layer" "$OUT/$name.mixed.log" | grep -o "mask IoU.*\|best detection.*"
  grep "^latency" "$OUT/$name.mixed.log"
}
run selfie_segmentation models/cache/selfie_segmentation.tflite --target iou=0.98
run face_detection_short_range models/cache/face_detection_short_range.tflite --mean 0.5,0.5,0.5 --std 0.5,0.5,0.5 \
  --target score=0.02
