#!/bin/bash
# meeting.yaml speed: segmentation + blur + face detection + auto-framing on a
# 1280x720 input (Megamind.avi upscaled), no debug overlay, against the
# straightforward baseline (bench/pipeline/baseline_ort.cc: the same models in
# ONNX Runtime, OpenCV pre/post-processing, one frame after the other), all
# in one script, rounds alternating:
#
#   1. edgeflow, the file as fast as it goes (every frame): throughput FPS;
#   2. edgeflow, the file played like a 30 FPS camera (live: frames that find
#      the pipeline full are dropped and counted): end-to-end latency from
#      the frame's arrival to its write into the mp4, and whether 30 FPS is
#      sustained (no drops);
#   3. the baseline, ORT with 1 and with 2 intra-op threads, as fast as it goes
#      (its per-frame time is its latency).
#
# Prints medians over the rounds: FPS, latency p50/p95, drops, peak RSS, CPU
# time per frame and (edgeflow) the critical path's CPU time (the latency an
# idle machine would give), and the ratios edgeflow/baseline (the baseline's
# better thread count).
#
#   bench/pipeline/bench_meeting.sh [--frames N] [--rounds R] [--threads T]
#
# Timed numbers need a quiet machine: the load average is printed before and
# after; numbers taken at load > 2.5 are provisional.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD="${EF_BUILD_DIR:-$ROOT/build}"
MODELS="${EF_MODELS_DIR:-$ROOT/models/cache}"
INPUT="${EF_INPUT:-/usr/share/doc/opencv-doc/examples/data/Megamind.avi}"
OUT="${EF_OUT:-$ROOT/out/bench}"
frames=270 rounds=3 threads=1
while [ $# -gt 0 ]; do
  case "$1" in
    --frames) frames="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
ORT_LIB=$(ls "$ROOT"/bench/node_modules/onnxruntime-node/bin/napi-v*/linux/x64/libonnxruntime.so.1 2>/dev/null | head -1 || true)
BASELINE="$BUILD/bench/pipeline/baseline_ort"
mkdir -p "$OUT"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "input: $INPUT resized to 1280x720, $frames frames, $rounds rounds"

# Each run appends "fps p50 p95 drops frames_out rss_mib cpu_ms_per_frame critical_path_cpu_ms" to $OUT/LABEL.txt.
# CPU per frame = the process's user + sys time (start-up included) / frames out: a
# busy machine stretches wall times but hardly the CPU a frame costs.
record() {  # label, "fps p50 p95 drops frames_out", critical path
  local label="$1" rss user sys
  read -r rss user sys <"$OUT/$label.time"
  echo "$2" | awk -v rss="$((rss / 1024))" -v cpu="$(echo "$user $sys" | awk '{print ($1 + $2) * 1000}')" -v cp="$3" \
    '{printf "%s %s %.1f %s\n", $0, rss, cpu / $5, cp}' >>"$OUT/$label.txt"
}
run_ef() {  # label, extra --set ...
  local label="$1"; shift
  /usr/bin/time -f '%M %U %S' -o "$OUT/$label.time" "$BUILD/edgeflow" pipeline run "$ROOT/pipelines/meeting.yaml" \
    --set input="$INPUT" --set resize=1280x720 --set debug=false --set threads="$threads" --set models="$MODELS" \
    --set output="$OUT/$label.mp4" --set results="$OUT/$label.jsonl" --set camera.max_frames="$frames" \
    --set options.progress=false "$@" 2>/dev/null >"$OUT/$label.log"
  record "$label" "$(grep '^pipeline:' "$OUT/$label.log" |
    sed -E 's/.*, ([0-9]+) out in .* = ([0-9.]+) FPS; latency p50 ([0-9.]+) ms p95 ([0-9.]+) ms; dropped ([0-9]+) at sources.*/\2 \3 \4 \5 \1/')" \
    "$(grep -o 'critical path: [0-9.]*' "$OUT/$label.log" | awk '{print $3}')"
}
run_base() {  # ORT intra-op threads
  local label="baseline_t$1"
  /usr/bin/time -f '%M %U %S' -o "$OUT/$label.time" "$BASELINE" --lib "$ORT_LIB" --threads "$1" \
    --seg "$OUT/selfie_segmentation_landscape.onnx" --face "$OUT/face_detection_short_range.onnx" \
    --input "$INPUT" --resize 1280x720 --frames "$frames" --output "$OUT/$label.mp4" --results "$OUT/$label.jsonl" \
    >"$OUT/$label.log"
  record "$label" "$(sed -E 's/.*: ([0-9]+) frames in .* = ([0-9.]+) FPS; latency p50 ([0-9.]+) ms p95 ([0-9.]+) ms.*/\2 \3 \4 0 \1/' "$OUT/$label.log")" "-"
}
median() {  # file, column -> median
  awk -v c="$2" '{print $c}' "$1" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'
}

have_base=1
if [ -z "$ORT_LIB" ] || [ ! -x "$BASELINE" ]; then
  echo "no baseline: needs bench/node_modules/onnxruntime-node (bench/compare_ort.sh --install-only) and $BASELINE"
  have_base=0
else
  for m in selfie_segmentation_landscape face_detection_short_range; do
    "$BUILD/edgeflow" convert "$MODELS/$m.tflite" "$OUT/$m.onnx" >/dev/null
  done
fi
rm -f "$OUT"/{ef_file,ef_live,baseline_t1,baseline_t2}.txt
for ((r = 1; r <= rounds; ++r)); do
  run_ef ef_file
  run_ef ef_live --set live=true --set camera.fps=30
  if [ "$have_base" = 1 ]; then run_base 1; run_base 2; fi
  echo "round $r/$rounds done (load $(cut -d' ' -f1 /proc/loadavg))"
done

echo
printf '%-44s %7s %7s %7s %6s %8s %9s %8s\n' "median of $rounds rounds" FPS "p50 ms" "p95 ms" drops "RSS MiB" "CPU ms/f" "crit. ms"
row() {
  printf '%-44s %7s %7s %7s %6s %8s %9s %8s\n' "$1" "$(median "$2" 1)" "$(median "$2" 2)" "$(median "$2" 3)" \
    "$(median "$2" 4)" "$(median "$2" 6)" "$(median "$2" 7)" "$(median "$2" 8)"
}
row "edgeflow meeting.yaml, file, every frame" "$OUT/ef_file.txt"
row "edgeflow meeting.yaml, live 30 FPS camera" "$OUT/ef_live.txt"
if [ "$have_base" = 1 ]; then
  row "baseline ORT 1 thread + OpenCV, one loop" "$OUT/baseline_t1.txt"
  row "baseline ORT 2 threads + OpenCV, one loop" "$OUT/baseline_t2.txt"
  b1=$(median "$OUT/baseline_t1.txt" 1) b2=$(median "$OUT/baseline_t2.txt" 1)
  best=$(echo "$b1 $b2" | awk '{print ($1 > $2) ? $1 : $2}')
  bt=$(echo "$b1 $b2" | awk '{print ($1 > $2) ? 1 : 2}')
  bp95=$(median "$OUT/baseline_t$bt.txt" 3)
  echo "ratio FPS edgeflow / baseline ($bt thread(s)): $(echo "$(median "$OUT/ef_file.txt" 1) $best" | awk '{printf "%.2f", $1 / $2}')x;" \
       "p95 latency baseline / edgeflow live: $(echo "$bp95 $(median "$OUT/ef_live.txt" 3)" | awk '{printf "%.2f", $1 / $2}')x"
fi
live_in=$((frames)) live_out=$(median "$OUT/ef_live.txt" 5)
echo "live 30 FPS: $live_out of $live_in frames out (median), p95 $(median "$OUT/ef_live.txt" 3) ms (targets: every frame at 30 FPS, p95 <= 50 ms)"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
