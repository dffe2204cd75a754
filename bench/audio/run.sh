#!/bin/sh
# DOA accuracy table (held-out simulated rooms, by SNR and RT60), noise-only
# and turn-taking scores, and the real-time factors, for SRP-PHAT and the
# learned CNN (.cache/models/doa_cnn_xspec.onnx, made by train/doa/train.sh).
# usage: bench/audio/run.sh [build-dir] [rooms per cell, default 40] [first room seed, default 5000]
# The held-out rooms are seeds 5000-19999 (training uses >= 100000, tuning 60000):
# RESULTS.md's table is the mean of two runs, seeds 5000 and 7000 (80 rooms per cell).
B=${1:-build}
ROOMS=${2:-40}
SEED=${3:-5000}
exec "$B/edgeflow" audio bench --rooms "$ROOMS" --seed "$SEED" --snr 20 --snr 10 --snr 5 --snr 0 \
  --rt60 0.2 --rt60 0.4 --rt60 0.7 --estimator srp --estimator cnn --rtf-seconds 10
