#!/bin/sh
# DOA accuracy table (held-out simulated rooms, by SNR and RT60), noise-only
# and turn-taking scores, and the real-time factor of the classical pipeline.
# usage: bench/audio/run.sh [build-dir] [rooms per cell]
B=${1:-build}
ROOMS=${2:-6}
exec "$B/edgeflow" audio bench --rooms "$ROOMS" --snr 30 --snr 20 --snr 10 --snr 5 --snr 0 \
  --rt60 0.2 --rt60 0.4 --rt60 0.7
