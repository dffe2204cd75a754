#!/bin/bash
# CLI error behaviour, as a user meets it:
#   cli_test.sh path/to/edgeflow MODELS_DIR
# Every bad invocation must exit non-zero (and not by a signal, i.e. < 128),
# print a message naming what is wrong, and leave no output file behind.
set -uo pipefail
EF="${1:?usage: cli_test.sh EDGEFLOW MODELS_DIR}"
MODELS="${2:?usage: cli_test.sh EDGEFLOW MODELS_DIR}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0

ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1: $2"; [ -s "$T/err" ] && sed 's/^/     | /' "$T/err" | head -8; }
# Something set-up provides is missing: a skip when run by hand, a failure
# under ./x test (EF_REQUIRE_ASSETS=1), right after set-up made it.
missing() {
  if [ "${EF_REQUIRE_ASSETS:-}" = 1 ]; then bad "$1" "missing although ./x setup ran"; else echo "SKIPPED: $1"; fi
}

# expect_fail NAME REGEX OUTDIR -- COMMAND...   (OUTDIR '-' when none)
expect_fail() {
  local name="$1" re="$2" out="$3"; shift 4
  "$@" >"$T/out" 2>"$T/err"
  local rc=$?
  cat "$T/out" >>"$T/err"
  if [ $rc -eq 0 ]; then bad "$name" "exit 0, want non-zero"; return; fi
  if [ $rc -ge 128 ]; then bad "$name" "crashed (exit $rc)"; return; fi
  if ! grep -qiE -- "$re" "$T/err"; then bad "$name" "message does not match /$re/"; return; fi
  if [ "$out" != - ] && [ -n "$(find "$out" -type f 2>/dev/null)" ]; then
    bad "$name" "left files behind: $(find "$out" -type f | tr '\n' ' ')"; return
  fi
  ok "$name (exit $rc: $(grep -v '^\s*$' "$T/err" | head -1 | cut -c1-110))"
}

# expect_ok NAME -- COMMAND...
expect_ok() {
  local name="$1"; shift 2
  "$@" >"$T/out" 2>"$T/err"
  local rc=$?
  if [ $rc -eq 0 ]; then ok "$name"; else cat "$T/out" >>"$T/err"; bad "$name" "exit $rc"; fi
}

[ -x "$EF" ] || { echo "no executable $EF"; exit 1; }

# --- without a model
expect_fail "no subcommand" "subcommand|usage|required" - -- "$EF"
expect_fail "unknown subcommand" "frobnicate|subcommand|extra" - -- "$EF" frobnicate
expect_fail "unknown global flag" "--no-such-flag" - -- "$EF" --no-such-flag inspect x.onnx
expect_fail "unknown subcommand flag" "--no-such-flag" - -- "$EF" inspect --no-such-flag x.onnx
expect_fail "inspect: missing file" "/nonexistent/model\.onnx" - -- "$EF" inspect /nonexistent/model.onnx
mkdir -p "$T/o1"
expect_fail "run: missing model file" "nonexistent/model\.onnx" "$T/o1" -- "$EF" run /nonexistent/model.onnx --out "$T/o1"
expect_fail "bench: missing model file" "nonexistent/model\.onnx" - -- "$EF" bench /nonexistent/model.onnx --runs 1 --warmup 0
printf 'this is not an onnx file\n' >"$T/junk.onnx"
expect_fail "inspect: junk file" "junk\.onnx" - -- "$EF" inspect "$T/junk.onnx"
: >"$T/empty.onnx"
expect_fail "inspect: empty file" "empty\.onnx" - -- "$EF" inspect "$T/empty.onnx"
expect_fail "analyze: nothing to do" "model file.*--measure-machine.*--compare-blocks" - -- "$EF" analyze
expect_fail "analyze: --block-size 2" "block-size" - -- "$EF" analyze --compare-blocks --block-size 2
expect_fail "analyze: unwritable machine file" "/proc/nope/machine\.json: cannot write" - -- \
  "$EF" analyze --measure-machine --machine /proc/nope/machine.json

M="$MODELS/segnet.onnx"
X="$MODELS/segnet.input.npy"
if [ ! -f "$M" ] || [ ! -f "$X" ]; then
  missing "$M (tools/make_test_models.sh); only the model-free cases ran"
  echo "$pass passed, $fail failed"
  [ $fail -eq 0 ]
  exit
fi

# --- with a model
expect_fail "run: unknown flag" "--bogus" - -- "$EF" run "$M" --bogus
expect_fail "bench: --runs 0" "runs" - -- "$EF" bench "$M" --runs 0
expect_fail "bench: --threads not a number" "threads" - -- "$EF" bench "$M" --threads many
head -c 2000 "$M" >"$T/truncated.onnx"
expect_fail "inspect: truncated model" "truncated\.onnx" - -- "$EF" inspect "$T/truncated.onnx"
mkdir -p "$T/o2"
expect_fail "run: truncated model" "truncated\.onnx" "$T/o2" -- "$EF" run "$T/truncated.onnx" --input input="$X" --out "$T/o2"
mkdir -p "$T/o3"
expect_fail "run: missing input file" "nonexistent/x\.npy" "$T/o3" -- "$EF" run "$M" --input input=/nonexistent/x.npy --out "$T/o3"
mkdir -p "$T/o4"
expect_fail "run: unknown input name" "nosuchinput" "$T/o4" -- "$EF" run "$M" --input nosuchinput="$X" --out "$T/o4"
mkdir -p "$T/o5"
expect_fail "run: no input given" "input" "$T/o5" -- "$EF" run "$M" --out "$T/o5"
if [ -f "$MODELS/mobilenet_v2.input.npy" ]; then
  mkdir -p "$T/o6"
  expect_fail "run: wrong input shape" "input.*(shape|expected|\[1,3,128,128\])" "$T/o6" -- \
    "$EF" run "$M" --input input="$MODELS/mobilenet_v2.input.npy" --out "$T/o6"
fi
head -c 100 "$X" >"$T/short.npy"
mkdir -p "$T/o7"
expect_fail "run: truncated .npy" "short\.npy" "$T/o7" -- "$EF" run "$M" --input input="$T/short.npy" --out "$T/o7"
mkdir -p "$T/o8"
expect_fail "run: image file missing" "nonexistent/photo\.jpg" "$T/o8" -- "$EF" run "$M" --image /nonexistent/photo.jpg --out "$T/o8"

# --- and the good paths
expect_ok "inspect segnet" -- "$EF" inspect "$M"
mkdir -p "$T/good"
expect_ok "run segnet" -- "$EF" run "$M" --input input="$X" --out "$T/good"
if [ -f "$T/good/output.npy" ]; then ok "run wrote output.npy"; else bad "run wrote output.npy" "files: $(ls "$T/good")"; fi
expect_ok "bench --json" -- "$EF" bench "$M" --threads 1 --runs 3 --warmup 1 --json
if grep -qE '^\{.*"model".*"threads": ?1.*"runs": ?3.*"median_ms".*"min_ms".*"max_ms".*\}$' "$T/out"; then
  ok "bench --json prints one JSON object with model/threads/runs/median_ms/min_ms/max_ms"
else
  bad "bench --json format" "got: $(head -c 300 "$T/out")"
fi

# --- analyze: bad machine files and input shapes, then the good path on a synthetic machine
cat >"$T/machine.json" <<'EOF2'
{"version": 1, "cpu": "synthetic", "isa": "avx512f", "threads": 2,
 "fp32_gflops_1t": 100, "fp32_gflops_all": 180, "triad_gbs_1t": 10, "triad_gbs_all": 16,
 "read_gbs_1t": 12, "read_gbs_all": 20, "copy_gbs_1t": 11, "copy_gbs_all": 18}
EOF2
head -c 60 "$T/machine.json" >"$T/cut.json"
expect_fail "analyze: truncated machine file" "cut\.json.*not a machine file" - -- "$EF" analyze "$M" --machine "$T/cut.json" --runs 1
printf 'not json' >"$T/junk.json"
expect_fail "analyze: junk machine file" "junk\.json.*not a machine file" - -- "$EF" analyze "$M" --machine "$T/junk.json" --runs 1
expect_fail "analyze: missing machine file" "/nonexistent/m\.json: cannot read.*--measure-machine" - -- \
  "$EF" analyze "$M" --machine /nonexistent/m.json --runs 1
expect_fail "analyze: bad --input-shape" "--shape input.*bad dimension 'y'" - -- \
  "$EF" analyze "$M" --machine "$T/machine.json" --input-shape input=1xyx8x8 --runs 1
expect_fail "analyze: --input-shape without =" "--shape: expected NAME=VALUE" - -- \
  "$EF" analyze "$M" --machine "$T/machine.json" --input-shape 1x3x8x8 --runs 1
expect_fail "analyze: --input-shape unknown input" "no input named 'nosuch'" - -- \
  "$EF" analyze "$M" --machine "$T/machine.json" --input-shape nosuch=1x3x8x8 --runs 1
expect_fail "analyze: --input-shape wrong rank" "input 'input'.*rank" - -- \
  "$EF" analyze "$M" --machine "$T/machine.json" --input-shape input=1x3x8 --runs 1
expect_fail "analyze: unwritable roofline" "/nonexistent/r\.svg" - -- \
  "$EF" analyze "$M" --machine "$T/machine.json" --runs 1 --roofline /nonexistent/r.svg
expect_ok "analyze segnet --json --roofline" -- "$EF" analyze "$M" --machine "$T/machine.json" --runs 2 --json \
  --roofline "$T/roof.svg"
layers=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sum(1 for l in d["layers"] if l["flops"]>0 and l["ms"]>0))' "$T/out" 2>/dev/null)
circles=$(grep -o '<circle class="layer"' "$T/roof.svg" 2>/dev/null | wc -l)
if [ -n "$layers" ] && [ "$layers" -gt 0 ] && [ "$layers" = "$circles" ]; then
  ok "analyze --json parses; the SVG has one point per arithmetic layer ($circles)"
else
  bad "analyze --json / SVG points" "layers=$layers circles=$circles"
fi
if command -v xmllint >/dev/null; then
  if xmllint --noout "$T/roof.svg" 2>"$T/err"; then ok "roofline SVG is well-formed XML"; else bad "roofline SVG XML" "xmllint"; fi
fi

# --- quantize: bad calibration data, bad flags, already-quantized models
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
VIDEO="$SRC/data/vtest.avi"
if [ -f "$VIDEO" ] && [ -f "$SRC/data/messi5.jpg" ]; then
  Q="$T/q"; mkdir -p "$Q" "$T/few" "$T/emptydir" "$T/junkdir"
  cp "$SRC/data/messi5.jpg" "$SRC/data/baboon.jpg" "$SRC/data/fruits.jpg" "$T/few/"
  printf 'not an image\n' >"$T/junkdir/a.jpg"; printf 'nor this\n' >"$T/junkdir/b.png"
  head -c 300000 "$VIDEO" >"$T/cut.avi"
  QF=(--frames 8 --eval-frames 2 --out "$Q/m.int8.onnx")
  expect_fail "quantize: too few frames in a directory" "3 readable images, but 10 are needed" "$Q" -- "$EF" quantize "$M" --calib "$T/few" "${QF[@]}"
  expect_fail "quantize: --frames below the minimum" "--frames 3.*at least 8" "$Q" -- "$EF" quantize "$M" --calib "$VIDEO" --frames 3 --out "$Q/m.int8.onnx"
  expect_fail "quantize: empty calibration directory" "emptydir.*empty" "$Q" -- "$EF" quantize "$M" --calib "$T/emptydir" "${QF[@]}"
  expect_fail "quantize: no readable image" "junkdir.*no readable image" "$Q" -- "$EF" quantize "$M" --calib "$T/junkdir" "${QF[@]}"
  expect_fail "quantize: missing video" "nonexistent/clip\.avi.*not found" "$Q" -- "$EF" quantize "$M" --calib /nonexistent/clip.avi "${QF[@]}"
  expect_fail "quantize: truncated video" "cut\.avi.*(truncated|corrupt)" "$Q" -- "$EF" quantize "$M" --calib "$T/cut.avi" "${QF[@]}"
  expect_fail "quantize: bad --method" "unknown calibration method 'fast'" "$Q" -- "$EF" quantize "$M" --calib "$VIDEO" --method fast "${QF[@]}"
  expect_fail "quantize: unknown --keep-float layer" "no layer named 'nope'" "$Q" -- "$EF" quantize "$M" --calib "$VIDEO" --keep-float first,nope "${QF[@]}"
  expect_fail "quantize: bad --keep-float auto:N" "auto:0: expected auto or auto:N" "$Q" -- "$EF" quantize "$M" --calib "$VIDEO" --keep-float auto:0 "${QF[@]}"
  expect_fail "quantize: --target without a value" "--target iou: no '='" "$Q" -- "$EF" quantize "$M" --calib "$VIDEO" --target iou "${QF[@]}"
  expect_fail "quantize: --target out of range" "--target iou=2: iou is a fraction" "$Q" -- "$EF" quantize "$M" --calib "$VIDEO" --target iou=2 "${QF[@]}"
  expect_fail "quantize: --target for an output the model lacks" "--target top1: the model has no classifier output" "$Q" -- "$EF" quantize "$M" --calib "$VIDEO" --target top1=0.9 "${QF[@]}"
  expect_fail "quantize: output not .onnx" "must end in \.onnx" "$Q" -- "$EF" quantize "$M" --calib "$VIDEO" --frames 8 --out "$Q/m.int8"
  expect_ok "quantize segnet" -- "$EF" quantize "$M" --calib "$VIDEO" --frames 8 --eval-frames 2 --out "$T/seg.int8.onnx"
  if [ -f "$T/seg.int8.onnx" ] && grep -q "final outputs" "$T/out" && grep -q "SNR" "$T/out"; then
    ok "quantize wrote the file and the error report"
  else
    bad "quantize output" "$(head -c 300 "$T/out")"
  fi
  # --target: layers kept float until the calibration frames meet it (segnet: SNR 42 dB with every layer int8)
  expect_ok "quantize --target snr=50" -- "$EF" quantize "$M" --calib "$VIDEO" --frames 8 --eval-frames 2 --target snr=50 --out "$T/segt.int8.onnx"
  if grep -q "as written: output SNR .* (target >= 50 dB): met" "$T/out" && grep -q "^  .*--target: rank 1," "$T/out" &&
     grep -q "^latency .*every layer int8 .*this file" "$T/out"; then
    ok "quantize --target kept the most harmful layers float, met the target and timed the files"
  else
    bad "quantize --target output" "$(grep -A3 -- '--target' "$T/out" | head -c 400)"
  fi
  expect_ok "quantize --keep-float auto:2" -- "$EF" quantize "$M" --calib "$VIDEO" --frames 8 --eval-frames 2 --keep-float auto:2 --out "$T/sega.int8.onnx"
  if [ "$(grep -c -- "--keep-float auto: rank" "$T/out")" = 2 ]; then ok "quantize --keep-float auto:2 kept 2 layers float"; else bad "quantize --keep-float auto:2" "$(grep -A4 'kept float' "$T/out" | head -c 400)"; fi
  expect_fail "quantize: already quantized model" "already quantized" "$Q" -- "$EF" quantize "$T/seg.int8.onnx" --calib "$VIDEO" "${QF[@]}"
  # --evaluate: a given QDQ file on the same held-out frames (report only); --save-frames: the model inputs
  expect_ok "quantize --evaluate" -- "$EF" quantize "$M" --calib "$VIDEO" --frames 8 --eval-frames 2 --evaluate "$T/seg.int8.onnx" --save-frames "$T/qframes"
  if grep -q "final outputs" "$T/out" && [ -s "$T/qframes/calib.npy" ] && [ -s "$T/qframes/eval.npy" ]; then
    ok "quantize --evaluate reported and --save-frames wrote calib.npy and eval.npy"
  else
    bad "quantize --evaluate output" "$(head -c 300 "$T/out")"
  fi
  expect_fail "quantize: --out and --evaluate" "either --out.*or --evaluate" "$Q" -- "$EF" quantize "$M" --calib "$VIDEO" --evaluate "$T/seg.int8.onnx" "${QF[@]}"
  expect_fail "quantize: --evaluate without eval frames" "--evaluate needs --eval-frames > 0" "$Q" -- "$EF" quantize "$M" --calib "$VIDEO" --frames 8 --eval-frames 0 --evaluate "$T/seg.int8.onnx"
  if [ -f "$MODELS/mobilenet_v2.onnx" ]; then
    expect_fail "quantize: --evaluate with another model's file" "seg\.int8\.onnx: its input does not match" "$Q" -- "$EF" quantize "$MODELS/mobilenet_v2.onnx" --calib "$VIDEO" --frames 8 --eval-frames 2 --evaluate "$T/seg.int8.onnx"
  fi
else
  missing "$VIDEO for the quantize tests"
fi

# --- delta execution: per-layer thresholds files, calibration that cannot meet its target
if [ -f "$VIDEO" ]; then
  DF=(--video "$VIDEO" --delta --frames 3)
  expect_fail "bench --delta: missing thresholds file" "nonexistent/t\.txt: cannot open" - -- "$EF" bench "$M" "${DF[@]}" --layer-thresholds /nonexistent/t.txt
  printf 'nosuchconv 1.5\n' >"$T/lt.txt"
  expect_fail "bench --delta: unknown layer in thresholds file" "'nosuchconv': no convolution" - -- "$EF" bench "$M" "${DF[@]}" --layer-thresholds "$T/lt.txt"
  printf 'conv1 fast\n' >"$T/lt.txt"
  expect_fail "bench --delta: bad thresholds line" "lt\.txt:1: expected 'layer threshold'" - -- "$EF" bench "$M" "${DF[@]}" --layer-thresholds "$T/lt.txt"
  expect_fail "bench --delta --calibrate: unreachable target said clearly" "NO THRESHOLD MEETS THE TARGET" - -- "$EF" bench "$M" "${DF[@]}" --calibrate --target-error 1e-12
  expect_fail "bench --ideal-gate without --delta" "--ideal-gate needs --delta" - -- "$EF" bench "$M" --video "$VIDEO" --frames 3 --ideal-gate 8
  expect_fail "bench --ideal-gate out of range" "--ideal-gate.*255|255.*--ideal-gate" - -- "$EF" bench "$M" "${DF[@]}" --ideal-gate 300
  # K 0, no dilation: every pixel that differs from the background is kept,
  # so the ideal frames are the frames (delta at threshold 0 == dense); K 255:
  # every frame is the background, nothing moves or changes.
  if "$EF" bench "$M" "${DF[@]}" --no-fallback --ideal-gate 0 --ideal-dilate 0 --json >"$T/out" 2>"$T/err" &&
     grep -qE '"max_abs_diff":(0|[0-9.]+e-(0[5-9]|[1-9][0-9])),' "$T/out"; then  # < 1e-4
    ok "bench --ideal-gate 0: the ideal frames are the frames"
  else bad "bench --ideal-gate 0: the ideal frames are the frames" "$(cat "$T/out")"; fi
  if "$EF" bench "$M" "${DF[@]}" --no-fallback --ideal-gate 255 --json >"$T/out" 2>"$T/err" &&
     grep -q '"ideal_moving":0.00000,"ideal_changed":0.00000' "$T/out"; then
    ok "bench --ideal-gate 255: the background only"
  else bad "bench --ideal-gate 255: the background only" "$(cat "$T/out")"; fi
else
  missing "$VIDEO for the delta tests"
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
