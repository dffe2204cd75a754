#!/bin/bash
# edgeflow vs ONNX Runtime at 1 thread by CPU time instead of wall time:
# less sensitive to other processes on a busy machine than
# bench/compare_ort.sh (a process that waits for a core uses no CPU time).
#
#   bench/compare_ort_cpu.sh [--rounds N] [--runs R] [--models "a b"]
#
# Per round and engine: the process CPU time (user + sys) of a run with R+5
# inferences minus that of a run with 5 (load, compile and warm-up cancel),
# divided by R (default 200). Rounds alternate the engines (default 3);
# ratio = ORT / edgeflow (> 1: edgeflow is faster). 1 thread only: at 2
# threads CPU time also counts the workers' spinning.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
. "$ROOT/bench/lib.sh"
BUILD="${EF_BUILD_DIR:-$ROOT/build}"
MODELS_DIR="${EF_MODELS_DIR:-$ROOT/.cache/models}"
rounds=3 runs=200 models="mobilenet_v2 resnet18 segnet"
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --models) models="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare_ort_cpu.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
EF="$BUILD/edgeflow"
need_edgeflow "$EF"
[ -d "$ROOT/bench/node_modules/onnxruntime-node" ] || bash "$ROOT/bench/compare_ort.sh" --install-only
TIMEFORMAT='%U %S'
cpu_s() { { time "$@" >/dev/null 2>&1; } 2>&1 | awk '{print $1 + $2}'; }
per_run_ms() {  # command prefix; the run count is appended
  local a b
  a=$(cpu_s "$@" 5) b=$(cpu_s "$@" $((runs + 5)))
  awk -v a="$a" -v b="$b" -v n="$runs" 'BEGIN {printf "%.3f", (b - a) * 1000 / n}'
}
echo "| model | round | edgeflow CPU ms/run | ORT CPU ms/run | ratio ORT/edgeflow |"
echo "| --- | ---: | ---: | ---: | ---: |"
for m in $models; do
  f="$MODELS_DIR/$m.onnx"
  [ -f "$f" ] || { echo "error: $f missing (tools/make_test_models.sh)" >&2; exit 1; }
  for r in $(seq "$rounds"); do
    ef=$(per_run_ms "$EF" bench "$f" --threads 1 --warmup 3 --json --runs)
    ort=$(per_run_ms node "$ROOT/bench/ort_runner.js" "$f" --threads 1 --warmup 3 --json --runs)
    awk -v m="$m" -v r="$r" -v e="$ef" -v o="$ort" 'BEGIN {printf "| %s | %s | %.2f | %.2f | %.2f |\n", m, r, e, o, o / e}'
  done
done
echo "load (uptime): $(load_avg)"
