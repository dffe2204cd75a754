#!/bin/bash
# Delta execution on real video against dense edgeflow (same run) and against
# ONNX Runtime running the same model densely (npm onnxruntime-node, CPU).
#
#   bench/delta/delta_vs_ort.sh MODEL VIDEO [--rounds N] [-- extra edgeflow bench flags]
#
# Each round: `edgeflow bench MODEL --video VIDEO --delta --json ...` (dense
# and delta sessions alternating per frame), then `node bench/ort_runner.js`
# on the same model (a .tflite is converted with `edgeflow convert` first),
# 30 runs after 10 warm-ups. Prints per round and the median over rounds of
# dense ms, delta ms, ORT ms, MACs ratio, mean and pooled mask IoU (0 without
# a mask output), top-1 agreement of score vectors (0 without), the two speed
# ratios and the dense/delta ratio of the thread CPU time (less sensitive to a
# busy machine).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD="${EF_BUILD_DIR:-$ROOT/build}"
[ $# -ge 2 ] || { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
model="$1" video="$2"; shift 2
rounds=3
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --) shift; break ;;
    *) echo "delta_vs_ort.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
onnx="$model"
if [[ "$model" == *.tflite ]]; then
  onnx="$(mktemp -d)/$(basename "${model%.tflite}").onnx"
  "$BUILD/edgeflow" convert "$model" "$onnx" >/dev/null
fi
printf '%-6s %9s %9s %9s %8s %9s %10s %7s %12s %10s %10s\n' round dense_ms delta_ms ort_ms macs_x iou pooled_iou top1 \
  dense/delta ort/delta cpu_ratio
results=()
for r in $(seq 1 "$rounds"); do
  j=$("$BUILD/edgeflow" bench "$model" --video "$video" --delta --json "$@")
  o=$(node "$ROOT/bench/ort_runner.js" "$onnx" --threads 1 --runs 30 --warmup 10 --json)
  line=$(node -e '
    const e = JSON.parse(process.argv[1]), o = JSON.parse(process.argv[2]);
    const ort = o.median_ms;
    console.log([e.dense_ms, e.delta_ms, ort, e.mac_reduction, e.mean_iou, e.pooled_iou, e.top1_agreement, e.dense_ms / e.delta_ms, ort / e.delta_ms, e.cpu_speedup].map(x => x.toFixed(3)).join(" "));
  ' "$j" "$o")
  results+=("$line")
  printf '%-6s %9s %9s %9s %8s %9s %10s %7s %12s %10s %10s\n' "$r" $line
done
printf '%s\n' "${results[@]}" | node -e '
  const rows = require("fs").readFileSync(0, "utf8").trim().split("\n").map(l => l.split(" ").map(Number));
  const med = k => { const v = rows.map(r => r[k]).sort((a, b) => a - b); const n = v.length; return n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2; };
  console.log(["median", ...[0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map(k => med(k).toFixed(3))].map((s, i) => i ? s.padStart([0, 9, 9, 9, 8, 9, 10, 7, 12, 10, 10][i]) : s.padEnd(6)).join(" "));
'
