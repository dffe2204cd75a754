#!/bin/bash
# Quantization-aware fine-tuning (train/qat) of the INT8 benchmark files that
# bench/quant_models.sh wrote, measured by edgeflow on the same held-out
# frames as the PTQ report (Megamind) and on a second clip never trained on
# (vtest), PTQ and QAT side by side:
#   bench/quant/qat.sh [OUT_DIR] [STEPS] [MODELS]  (default out/quant, 300 steps, both models)
# Trains on OUT_DIR/NAME.frames/calib.npy (the calibration frames) and the
# still images in data/. Writes OUT_DIR/NAME.qat.int8.onnx and
# OUT_DIR/NAME.qat.log; OUT_DIR/NAME.int8.onnx (the benchmark file) stays
# the PTQ one. The Megamind "held-out" frames interleave with the
# calibration frames (every other frame), so after training on those the
# Megamind QAT numbers are an optimistic bound, not a held-out result:
# choosing a file on them would select on the test frames. vtest was never
# trained on.
set -euo pipefail
cd "$(dirname "$0")/../.."
EF=${EF_BUILD_DIR:-build}/edgeflow
OUT=${1:-out/quant}
STEPS=${2:-300}
MODELS=${3:-selfie_segmentation face_detection_short_range}
IMAGES=$(ls data/*.jpg | paste -sd,)
qat() {  # NAME [--mean a,b,c --std a,b,c]  (the image options, for qat.py and quantize alike)
  local name=$1; shift
  local model=models/cache/$name.tflite bench=$OUT/$name.int8.onnx log=$OUT/$name.qat.log
  if [ ! -f "$model" ] || [ ! -f "$OUT/$name.frames/calib.npy" ]; then
    echo "SKIPPED $name: run bench/quant_models.sh first"; return
  fi
  cp "$bench" "$OUT/$name.ptq.int8.onnx"
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
}
for m in $MODELS; do
  case $m in
    selfie_segmentation) qat "$m" ;;
    face_detection_short_range) qat "$m" --mean 0.5,0.5,0.5 --std 0.5,0.5,0.5 ;;
    *) echo "bench/quant/qat.sh: unknown model $m" >&2; exit 1 ;;
  esac
done
