#!/usr/bin/env bash
# The 30-minute soak (not in CI): every example model through `hedgerow up` (release build, 3 workers), mixed
# good and bad requests over both APIs, a worker killed every 5 minutes, a YAML edit every minute, RSS every 10 s.
# Run from the repository root:  bash Benchmarks/soak/run.sh [--minutes 30]
set -euo pipefail
make --no-print-directory release >/dev/null
exec python3 Benchmarks/soak/soak.py --binary .build/release/hedgerow "$@"
