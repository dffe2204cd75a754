#!/bin/bash
# edgeflow vs ONNX Runtime (CPU, npm onnxruntime-node 1.30.x), same ONNX
# files, same inputs, same machine, in one run.
#
#   bench/compare_ort.sh [--rounds N] [--runs R] [--warmup W] [--models "a b"] [--threads "1 2"]
#   bench/compare_ort.sh --install-only     # just install onnxruntime-node
#
# For each model and thread count the two engines alternate N rounds (default
# 3); each round is one process per engine doing W warm-up (default 10) and R
# timed runs (default 30) and reporting its median. The table shows the median
# of the round medians; ratio = ORT / edgeflow (> 1: edgeflow is faster).
# The min columns (fastest run of all rounds) are less sensitive to other
# processes on a busy machine than the medians. On a busy machine, run the
# script under a real-time priority (as root): `chrt -f 10 bench/compare_ort.sh`
# (both engines inherit it; other processes no longer preempt them).
# ORT: intraOpNumThreads=T, interOpNumThreads=1, graphOptimizationLevel=all.
# Models come from tools/make_test_models.sh (.cache/models, or $EF_MODELS_DIR);
# edgeflow from build/ (or $EF_BUILD_DIR).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BENCH="$ROOT/bench"
. "$BENCH/lib.sh"
BUILD="${EF_BUILD_DIR:-$ROOT/build}"
MODELS_DIR="${EF_MODELS_DIR:-$ROOT/.cache/models}"
ORT_SPEC="onnxruntime-node@~1.30.0"
rounds=3 runs=30 warmup=10 models="mobilenet_v2 resnet18 segnet" threads_list="1 2" install_only=0
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --models) models="$2"; shift 2 ;;
    --threads) threads_list="$2"; shift 2 ;;
    --install-only) install_only=1; shift ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare_ort.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ "$runs" -ge 30 ] && [ "$warmup" -ge 10 ] || echo "note: fewer than 30 runs / 10 warm-ups: not a reportable measurement" >&2

ort_version() { node -p "require('$BENCH/node_modules/onnxruntime-node/package.json').version" 2>/dev/null || true; }
case "$(ort_version)" in
  1.30.*) ;;
  *)
    echo "installing $ORT_SPEC into bench/node_modules" >&2
    # The package bundles the CPU binaries; its postinstall would only fetch
    # optional GPU files from outside the npm registry: skip it.
    ONNXRUNTIME_NODE_INSTALL=skip npm install --prefix "$BENCH" --no-save --no-package-lock \
      --no-audit --no-fund --loglevel=error "$ORT_SPEC" >&2
    case "$(ort_version)" in 1.30.*) ;; *) echo "error: onnxruntime-node 1.30 did not install" >&2; exit 1 ;; esac
    ;;
esac
[ $install_only = 1 ] && exit 0

EF="$BUILD/edgeflow"
need_edgeflow "$EF"
bash "$ROOT/tools/make_test_models.sh" "$MODELS_DIR" >&2


cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
results=$(mktemp)
trap 'rm -f "$results"' EXIT
for m in $models; do
  f="$MODELS_DIR/$m.onnx"
  [ -f "$f" ] || { echo "error: $f missing" >&2; exit 1; }
  for t in $threads_list; do
    for r in $(seq "$rounds"); do
      ef=$("$EF" bench "$f" --threads "$t" --runs "$runs" --warmup "$warmup" --json | json_fields median_ms min_ms) ||
        { echo "error: edgeflow bench failed on $m (threads $t)" >&2; exit 1; }
      ort=$(node "$BENCH/ort_runner.js" "$f" --threads "$t" --runs "$runs" --warmup "$warmup" --json | json_fields median_ms min_ms) ||
        { echo "error: ort_runner failed on $m (threads $t)" >&2; exit 1; }
      read -r ef efmin <<<"$ef"
      read -r ort ortmin <<<"$ort"
      printf '%s %s %s %s %s %s\n' "$m" "$t" "$ef" "$ort" "$efmin" "$ortmin" >>"$results"
      printf '  %-13s threads %s round %s: edgeflow %8.3f ms  ORT %8.3f ms  (min %.3f / %.3f)\n' "$m" "$t" "$r" "$ef" "$ort" "$efmin" "$ortmin" >&2
    done
  done
done

echo
echo "edgeflow vs ONNX Runtime $(ort_version) (CPU EP), median of $rounds alternating rounds × $runs runs after $warmup warm-ups"
echo "machine: $cpu, $(nproc) cores; $(date -u +%Y-%m-%d)"
echo
echo "machine load (uptime): $(load_avg)"
echo
echo "| model | threads | edgeflow median ms | ORT median ms | ratio ORT/edgeflow | edgeflow min ms | ORT min ms | min ratio |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for m in $models; do
  for t in $threads_list; do
    ef=$(awk -v m="$m" -v t="$t" '$1==m && $2==t {print $3}' "$results" | median_of)
    ort=$(awk -v m="$m" -v t="$t" '$1==m && $2==t {print $4}' "$results" | median_of)
    efmin=$(awk -v m="$m" -v t="$t" '$1==m && $2==t {print $5}' "$results" | sort -g | head -1)
    ortmin=$(awk -v m="$m" -v t="$t" '$1==m && $2==t {print $6}' "$results" | sort -g | head -1)
    awk -v m="$m" -v t="$t" -v e="$ef" -v o="$ort" -v em="$efmin" -v om="$ortmin" \
      'BEGIN {printf "| %s | %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n", m, t, e, o, o/e, em, om, om/em}'
  done
done
