#!/bin/bash
# meeting.yaml speed: segmentation + blur + face detection + auto-framing on a
# 1280x720 input (Megamind.avi upscaled), every frame, no debug overlay.
# Prints FPS, p95 end-to-end latency and peak RSS, then the same models in
# ONNX Runtime (converted with `edgeflow convert`, model time only, the
# baseline's lower bound) and the ratio.
#
#   bench/pipeline/bench_meeting.sh [--frames N] [--threads T]
#
# Run it on an otherwise idle machine: a timed number is only meaningful
# with the machine named and nothing else running.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD="${EF_BUILD_DIR:-$ROOT/build}"
MODELS="${EF_MODELS_DIR:-$ROOT/models/cache}"
INPUT="${EF_INPUT:-/usr/share/doc/opencv-doc/examples/data/Megamind.avi}"
OUT="${EF_OUT:-$ROOT/out/bench}"
frames=270 threads=1
while [ $# -gt 0 ]; do
  case "$1" in
    --frames) frames="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$OUT"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/time -v -o "$OUT/time.txt" "$BUILD/edgeflow" pipeline run "$ROOT/pipelines/meeting.yaml" \
  --set input="$INPUT" --set resize=1280x720 --set debug=false --set threads="$threads" \
  --set models="$MODELS" --set output="$OUT/meeting_720p.mp4" --set results="$OUT/results.jsonl" \
  --set camera.max_frames="$frames" 2>/dev/null | tee "$OUT/summary.txt"
rss_kb=$(grep 'Maximum resident' "$OUT/time.txt" | awk '{print $NF}')
echo "peak RSS: $((rss_kb / 1024)) MiB"
fps=$(grep -o '= [0-9.]* FPS' "$OUT/summary.txt" | awk '{print $2}')

# Peer: the same two models in ONNX Runtime (model time only, per frame).
if command -v node >/dev/null && [ -d "$ROOT/bench/node_modules/onnxruntime-node" ]; then
  total=0
  for m in selfie_segmentation_landscape face_detection_short_range; do
    "$BUILD/edgeflow" convert "$MODELS/$m.tflite" "$OUT/$m.onnx" >/dev/null
    ms=$(node "$ROOT/bench/ort_runner.js" "$OUT/$m.onnx" --threads "$threads" --runs 50 --json |
         node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);console.log(j.median_ms??j.median??j.p50_ms)})')
    echo "ORT $m: $ms ms"
    total=$(echo "$total + $ms" | bc -l)
  done
  ort_fps=$(echo "1000 / $total" | bc -l)
  printf 'ORT models alone, back to back: %.1f FPS upper bound for a frame loop; edgeflow pipeline: %s FPS; ratio %.2f\n' \
    "$ort_fps" "$fps" "$(echo "$fps / $ort_fps" | bc -l)"
else
  echo "ONNX Runtime not installed (bench/compare_ort.sh --install-only): no peer ratio"
fi
