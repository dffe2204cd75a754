#!/bin/sh
# Makes the learned DOA model deterministically: simulated training rooms
# (seeds 100000.. and 200000.., speech disjoint from the benchmark's) ->
# train.py (fixed seeds, one thread) -> ONNX.
# usage: train/doa/train.sh [build-dir] [out.onnx]
set -eu
B=${1:-build}
OUT=${2:-.cache/models/doa_cnn_xspec.onnx}
D=$(mktemp -d /tmp/ef-doa-data.XXXXXX)
trap 'rm -rf "$D"' EXIT
"$B/edgeflow" audio dataset --out "$D/a" --scenes 160 --seed 100000 --threads 2 --snr 0 30 --rt60 0.1 0.9
"$B/edgeflow" audio dataset --out "$D/b" --scenes 400 --seed 200000 --chunk 1.0 --threads 2 --snr 0 30 --rt60 0.1 0.9
mkdir -p "$(dirname "$OUT")"
/usr/bin/python3 "$(dirname "$0")/train.py" "$OUT.part" "$D/a" "$D/b" --epochs 4 --threads "${EF_TRAIN_THREADS:-1}"
mv "$OUT.part" "$OUT"
