#!/usr/bin/env bash
# Hedging against a stalling replica, with an outside load generator: the digits model on `hedgerow up` (router
# + 2 workers, release build), one worker frozen (SIGSTOP) for 50 ms every 500 ms, h2load sending a fixed rate
# (open loop) at the router. Each cell is a fresh cluster, 10 s warm-up, 15 s measured, in four modes: the
# least-requests balancer with hedging off, the default peak-EWMA balancer with hedging off, peak-EWMA with
# hedging on (budget 5%), and hedging off again (an A/A cell: the noise floor of a ratio of two cells). Scenarios: stall at 100/200/400 req/s; healthy (no stall) at 400 req/s; and a load step
# (10 s closed loop, then 100 req/s) that tracks how fast the router's hedge delay settles to the new load.
# Reports per cell p99/p99.9 (all requests, nearest rank), failures, extra requests (hedges + retries per
# request), budget refusals and hedge wins, then the goals, paired run by run. Runs are interleaved over modes.
# Run from the repository root:  bash Benchmarks/hedging/stall.sh [--runs 5] [--scenarios stall,healthy,step]
#   [--rates 100,200,400] [--seconds 15] [--warmup 10] [--budget 5] [--json FILE]
set -euo pipefail
make --no-print-directory release bench-tools >/dev/null
exec python3 Benchmarks/hedging/stall.py --binary .build/release/hedgerow "$@"
