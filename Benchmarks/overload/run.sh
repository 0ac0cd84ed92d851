#!/usr/bin/env bash
# Overload: the encoder example on `hedgerow up` (router + 2 workers, release build). Capacity is measured
# closed-loop (h2load -c 8 -m 4, admission control off); then h2load drives the pool open-loop at twice that rate,
# with the workers' admission control on (default --max-queue-delay-ms 100) and off (0). Reports goodput (share of
# capacity), p50/p99 of admitted requests, shed 503s, other failures, peak RSS of every process, and whether every
# process is still up. Each cell runs --runs times (median and worst printed).
# Run from the repository root:  bash Benchmarks/overload/run.sh [--seconds 15] [--runs 3]
set -euo pipefail
seconds=15; runs=3
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
done
make --no-print-directory release bench-tools >/dev/null
exec python3 Benchmarks/overload/overload.py --binary .build/release/hedgerow --seconds "$seconds" --runs "$runs"
