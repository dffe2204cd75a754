#!/bin/bash
# Where delta execution's MACs go and what holding changes back costs in
# agreement: one gate at a time, the others exact (threshold 0); then the
# ideal input gate (`--ideal-gate K`: delta runs on the clip's median
# background except where a pixel differs from it by more than K grey
# levels, dense on the raw frames), the bound for any gate that skips noise.
#
#   bench/delta/gate_sweep.sh MODEL VIDEO [--frames N] [-- extra edgeflow bench flags]
#
# Rows: all gates exact; the frame gate (--input-threshold) alone at 2, 8,
# 32; the convolution gates (--threshold) alone at 0.5, 2, 8; the global
# gate (--global-threshold, SE scales) alone at 0.01, 0.05; the ideal gate
# at K 2, 4, 8, 16, 32 (dilated 4 or 12 pixels) and K 32 with the global
# gate at 0.05. Each row is one `edgeflow bench MODEL --video VIDEO --delta
# --no-fallback --json` run (default 150 frames) and prints dense/delta
# MACs, mean and pooled mask IoU, max |dense - delta|, top-1 agreement of
# score vectors, the dense/delta thread CPU time ratio and, for the ideal
# gate, the pixels kept from the frame and changed between frames.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD="${EF_BUILD_DIR:-$ROOT/build}"
. "$ROOT/bench/lib.sh"
[ $# -ge 2 ] || { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
model="$1" video="$2"; shift 2
frames=150
while [ $# -gt 0 ]; do
  case "$1" in
    --frames) frames="$2"; shift 2 ;;
    --) shift; break ;;
    *) echo "gate_sweep.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
need_edgeflow "$BUILD/edgeflow"
echo "load $(load_avg)"
printf '%-56s %7s %9s %10s %9s %7s %6s %7s %8s\n' gates macs_x mean_iou pooled_iou max_diff top1 cpu_x kept changed
rows=("" "--input-threshold 2" "--input-threshold 8" "--input-threshold 32" "--threshold 0.5" "--threshold 2"
      "--threshold 8" "--global-threshold 0.01" "--global-threshold 0.05" "--ideal-gate 2" "--ideal-gate 4"
      "--ideal-gate 8" "--ideal-gate 8 --ideal-dilate 12" "--ideal-gate 16 --ideal-dilate 12"
      "--ideal-gate 32 --ideal-dilate 12" "--ideal-gate 32 --ideal-dilate 12 --global-threshold 0.05")
for row in "${rows[@]}"; do
  read -ra flags <<<"$row"
  for g in --threshold --input-threshold --global-threshold; do  # the gates a row does not set: exact
    [[ " $row " == *" $g "* ]] || flags+=("$g" 0)
  done
  f=$("$BUILD/edgeflow" bench "$model" --video "$video" --delta --no-fallback --json --frames "$frames" \
        "${flags[@]}" "$@" |
      json_fields mac_reduction mean_iou pooled_iou max_abs_diff top1_agreement cpu_speedup ideal_moving ideal_changed)
  read -r macs iou piou diff top1 cpu kept changed <<<"$f"
  printf '%-56s %7.2f %9.4f %10.4f %9.4g %7.3f %6.2f %7.3f %8.3f\n' "${row:-all exact}" "$macs" "$iou" "$piou" "$diff" \
    "$top1" "$cpu" "$kept" "$changed"
done
