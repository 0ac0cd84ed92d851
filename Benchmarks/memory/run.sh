#!/usr/bin/env bash
# A worker's resident memory (VmRSS) against its loaded models' weights: one release-build worker with the
# recommender (25.6 MB of embedding tables) and the encoder loaded, RSS read empty, loaded and idle, then every 0.25 s
# while h2load sends each model its reference batch over and over (-c 4 -m 8 per model). Prints the steady median
# and the maximum against the goal, weights + 64 MiB.
# Run from the repository root:  bash Benchmarks/memory/run.sh [--seconds 20]
set -euo pipefail
make --no-print-directory release bench-tools >/dev/null
exec python3 Benchmarks/memory/memory.py --binary .build/release/hedgerow "$@"
