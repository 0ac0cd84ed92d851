#!/usr/bin/env bash
# The scikit-learn examples (iris-logreg, iris-forest, diabetes-gbr) served by Hedgerow (`hedgerow up`: router and
# 2 workers, release build) and by Seldon MLServer 1.7.1 with its sklearn runtime (parallel_workers 2, its own
# virtualenv with pinned versions; train.py rebuilds the same models and checks them against the ONNX exports'
# references), one row per request in KServe v2 JSON. Both servers are first checked to give the same numbers; then
# h2load measures each closed loop (Hedgerow over h2c and HTTP/1.1, MLServer over HTTP/1.1, which is all it speaks),
# cells interleaved run by run. Prints req/s, p50 and p99 (median and worst of --runs) and the req/s ratios.
# The runtime alone against onnxruntime on the same models: bash Benchmarks/runtime/run.sh --models iris-logreg,...
# Run from the repository root:  bash Benchmarks/classic-ml/run.sh [--seconds 10] [--runs 3]
set -euo pipefail
make --no-print-directory release bench-tools >/dev/null
exec python3 Benchmarks/classic-ml/classic_ml.py --binary .build/release/hedgerow "$@"
