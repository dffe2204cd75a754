#!/bin/sh
# Makes the learned DOA model deterministically: simulated training rooms
# (seeds 100000.. and 200000.., speech disjoint from the benchmark's; SNR
# -5..25 dB, RT60 0.1..1.0 s, talkers at -85..+85 deg, wider than the
# benchmark's +-75 so that near-endfire talkers are not at the edge of what
# the network saw) -> train.py (fixed seeds) -> ONNX.
# usage: train/doa/train.sh [build-dir] [out.onnx]
set -eu
B=${1:-build}
OUT=${2:-.cache/models/doa_cnn_xspec.onnx}
D=$(mktemp -d /tmp/ef-doa-data.XXXXXX)
trap 'rm -rf "$D"' EXIT
# whole sentences (every 2nd voiced frame: neighbours are near-copies) and 1 s pieces (more rooms per second simulated)
"$B/edgeflow" audio dataset --out "$D/a" --scenes 240 --seed 100000 --threads 2 --max-az 85 --stride 2
"$B/edgeflow" audio dataset --out "$D/b" --scenes 1200 --seed 200000 --chunk 1.0 --threads 2 --max-az 85
mkdir -p "$(dirname "$OUT")"
/usr/bin/python3 "$(dirname "$0")/train.py" "$OUT.part" "$D/a" "$D/b" --epochs 6 --threads "${EF_TRAIN_THREADS:-1}"
mv "$OUT.part" "$OUT"
