#!/usr/bin/env bash
# The ranker split over 4 shards against unsplit on one worker, and split with a shard replica stalled (SIGSTOP
# 50 ms every 500 ms), lookup hedging on against off. Prints Markdown tables (about 5 minutes). From the repository
# root:
#   bash Benchmarks/sharding/run.sh [--rounds N] [--seconds S] [--rate R] [--users U --items I --dim D]
set -euo pipefail
make --no-print-directory release bench-tools >/dev/null
exec python3 Benchmarks/sharding/run.py "$@"
