#!/usr/bin/env bash
# The hedging benchmark: healthy / one replica delaying 5% of requests by 50 ms / one replica frozen 50 ms every
# 500 ms, each with hedging off and on, plus the router against a worker directly. Prints a Markdown table.
# Run from the repository root:  bash Benchmarks/hedging/run.sh [extra `hedgerow bench` flags]
set -euo pipefail
make --no-print-directory release >/dev/null
exec .build/release/hedgerow bench "$@"
