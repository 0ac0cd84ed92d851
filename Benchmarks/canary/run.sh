#!/usr/bin/env bash
# Canary mirroring cost: digits on `hedgerow up` (router + 2 workers, release build) with v1 stable and v2 (a copy
# of v1) as a mirrored canary. Stable's latency is measured open loop with mirroring off, at 20 % and at 100 %, the
# desired state edited between cells on the same cluster, cells interleaved run by run (off, 20, 100, off, ...),
# by h2load and by `hedgerow bench --target`. Prints p50/p99 per cell (median and worst of --runs) and p99 against
# mirroring off. The rate defaults to a quarter of the closed-loop capacity measured with mirroring off (at most
# 3,000 req/s, what `hedgerow bench`'s one-thread generator holds).
# Run from the repository root:  bash Benchmarks/canary/run.sh [--seconds 10] [--runs 3] [--rate N]
set -euo pipefail
seconds=10; runs=3; rate=0
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --rate) rate="$2"; shift 2 ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
done
make --no-print-directory release bench-tools >/dev/null
exec python3 Benchmarks/canary/canary.py --binary .build/release/hedgerow --seconds "$seconds" --runs "$runs" --rate "$rate"
