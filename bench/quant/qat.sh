#!/bin/bash
# Quantization-aware fine-tuning (train/qat) of the INT8 benchmark files that
# bench/quant_models.sh wrote, measured by edgeflow on the same held-out
# frames as the PTQ report (Megamind) and on a second clip never trained on
# (vtest), PTQ and QAT side by side:
#   bench/quant/qat.sh [OUT_DIR] [STEPS] [MODELS]  (default out/quant, 300 steps, both models)
# Trains on OUT_DIR/NAME.frames/calib.npy (the calibration frames) and the
# still images in data/. Writes OUT_DIR/NAME.qat.int8.onnx and
# OUT_DIR/NAME.qat.log; when QAT is better on the issue's metric (selfie:
# mask IoU mean, BlazeFace: best-detection max |diff|), OUT_DIR/NAME.int8.onnx
# becomes the fine-tuned file (the PTQ one is kept as NAME.ptq.int8.onnx).
set -euo pipefail
cd "$(dirname "$0")/../.."
EF=${EF_BUILD_DIR:-build}/edgeflow
OUT=${1:-out/quant}
STEPS=${2:-300}
MODELS=${3:-selfie_segmentation face_detection_short_range}
IMAGES=$(ls data/*.jpg | paste -sd,)
qat() {  # NAME METRIC [--mean a,b,c --std a,b,c]  (the image options, for qat.py and quantize alike)
  local name=$1 metric=$2; shift 2
  local model=models/cache/$name.tflite bench=$OUT/$name.int8.onnx log=$OUT/$name.qat.log
  if [ ! -f "$model" ] || [ ! -f "$OUT/$name.frames/calib.npy" ]; then
    echo "SKIPPED $name: run bench/quant_models.sh first"; return
  fi
  [ -f "$OUT/$name.ptq.int8.onnx" ] || cp "$bench" "$OUT/$name.ptq.int8.onnx"
  [ -f "$OUT/$name.float.onnx" ] || "$EF" convert "$model" "$OUT/$name.float.onnx" >/dev/null
  /usr/bin/python3 train/qat/qat.py "$OUT/$name.float.onnx" "$OUT/$name.ptq.int8.onnx" "$OUT/$name.frames/calib.npy" \
    "$OUT/$name.qat.int8.onnx" --images "$IMAGES" --steps "$STEPS" --features 1 --threads 2 --seed 1 "$@" 2>&1 \
    | grep --line-buffered -v Warning | tee "$log"
  for clip in Megamind vtest; do
    for f in ptq qat; do
      echo "== $f, held-out frames of $clip" | tee -a "$log"
      "$EF" quantize "$model" --calib "data/$clip.avi" --frames 100 --eval-frames 100 "$@" \
        --evaluate "$OUT/$name.$f.int8.onnx" 2>/dev/null | tail -n +2 | tee -a "$log"
    done
  done
  echo "load: $(uptime | sed 's/.*load average: //')" | tee -a "$log"
  # The issue's metric on the Megamind held-out frames: higher IoU mean / lower best-detection max wins.
  local v better
  v=$(grep -A3 "== .*Megamind" "$log" | sed -n "s/.*$metric \([0-9.]*\).*/\1/p" | head -2 | paste -sd' ')
  if [ "$metric" = "IoU mean" ]; then better=$(echo "$v" | awk '{print ($2 > $1)}'); else better=$(echo "$v" | awk '{print ($2 < $1)}'); fi
  if [ "$better" = 1 ]; then
    cp "$OUT/$name.qat.int8.onnx" "$bench"; echo "$name: QAT is better ($metric PTQ, QAT: $v): $bench is the fine-tuned file" | tee -a "$log"
  else
    cp "$OUT/$name.ptq.int8.onnx" "$bench"; echo "$name: QAT is not better ($metric PTQ, QAT: $v): $bench stays the PTQ file" | tee -a "$log"
  fi
}
for m in $MODELS; do
  case $m in
    selfie_segmentation) qat "$m" "IoU mean" ;;
    face_detection_short_range) qat "$m" "best detection: max|diff|" --mean 0.5,0.5,0.5 --std 0.5,0.5,0.5 ;;
    *) echo "bench/quant/qat.sh: unknown model $m" >&2; exit 1 ;;
  esac
done
