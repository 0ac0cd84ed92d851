#!/usr/bin/env bash
# Our runtime vs onnxruntime on the example models (see run.py). Usage: bash Benchmarks/runtime/run.sh [run.py flags]
set -euo pipefail
cd "$(dirname "$0")/../.."
swift build -c release --product hedgerow
VENV=${HEDGEROW_BENCH_VENV:-.build/bench-venv}
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet onnxruntime numpy
fi
exec "$VENV/bin/python" Benchmarks/runtime/run.py "$@"
