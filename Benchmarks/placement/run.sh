#!/usr/bin/env bash
# The placement benchmark: 10,000 model versions × 2 replicas over 1,000 workers, planned from scratch and after a
# one-model edit. Run from the repository root:  bash Benchmarks/placement/run.sh [extra `hedgerow bench-placement` flags]
set -euo pipefail
make --no-print-directory release >/dev/null
exec .build/release/hedgerow bench-placement "$@"
