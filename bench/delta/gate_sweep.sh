#!/bin/bash
# Where delta execution's MACs go and what holding changes back costs in
# agreement: one gate at a time, the others exact (threshold 0).
#
#   bench/delta/gate_sweep.sh MODEL VIDEO [--frames N] [-- extra edgeflow bench flags]
#
# Rows: all gates exact; the frame gate (--input-threshold) alone at 2, 8,
# 32; the convolution gates (--threshold) alone at 0.5, 2, 8; the global
# gate (--global-threshold, SE scales) alone at 0.01, 0.05. Each row is one
# `edgeflow bench MODEL --video VIDEO --delta --no-fallback --json` run
# (default 60 frames) and prints dense/delta MACs, mean and pooled mask IoU,
# max |dense - delta|, top-1 agreement of score vectors, and the dense/delta
# thread CPU time ratio.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD="${EF_BUILD_DIR:-$ROOT/build}"
. "$ROOT/bench/lib.sh"
[ $# -ge 2 ] || { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
model="$1" video="$2"; shift 2
frames=60
while [ $# -gt 0 ]; do
  case "$1" in
    --frames) frames="$2"; shift 2 ;;
    --) shift; break ;;
    *) echo "gate_sweep.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
need_edgeflow "$BUILD/edgeflow"
echo "load $(load_avg)"
printf '%-56s %8s %9s %10s %10s %9s %8s\n' gates macs_x mean_iou pooled_iou max_diff top1 cpu_x
for g in "0 0 0" "0 2 0" "0 8 0" "0 32 0" "0.5 0 0" "2 0 0" "8 0 0" "0 0 0.01" "0 0 0.05"; do
  read -r t ti tg <<<"$g"
  f=$("$BUILD/edgeflow" bench "$model" --video "$video" --delta --no-fallback --json --frames "$frames" \
        --threshold "$t" --input-threshold "$ti" --global-threshold "$tg" "$@" |
      json_fields mac_reduction mean_iou pooled_iou max_abs_diff top1_agreement cpu_speedup)
  read -r macs iou piou diff top1 cpu <<<"$f"
  printf '%-56s %8.2f %9.4f %10.4f %10.4g %9.3f %8.2f\n' "--threshold $t --input-threshold $ti --global-threshold $tg" \
    "$macs" "$iou" "$piou" "$diff" "$top1" "$cpu"
done
