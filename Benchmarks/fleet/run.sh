#!/usr/bin/env bash
# The control plane at fleet size: one real synchronizer driven by simulated workers (1,000, 5,000 and 10,000 by
# default), each size on a fresh synchronizer. Run from the repository root:
#   bash Benchmarks/fleet/run.sh [extra `hedgerow bench-fleet` flags, e.g. --workers 1000]
# The synchronizer holds a connection per worker and each simulator process a listening socket and a connection per
# worker: 10,000 workers need an open-files limit (`ulimit -n`) of about 12,000.
set -euo pipefail
make --no-print-directory release >/dev/null
exec .build/release/hedgerow bench-fleet "$@"
