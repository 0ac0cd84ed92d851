#!/usr/bin/env bash
# The same inference through the router as KServe v2 JSON, as JSON with binary tensor data, and as gRPC, driven by
# h2load (a gRPC call is an HTTP/2 POST of a framed message: h2load sends the same bytes a gRPC client would).
# Prints a Markdown table, median and worst of N alternating rounds (about 4 minutes). Run from the repository root:
#   bash Benchmarks/grpc/run.sh [--rounds N] [--seconds S]
#   bash Benchmarks/grpc/run.sh --stack [--rounds N]   grpc-swift 2's server against a Hedgerow worker, both answering
#                                                      ServerLive (builds Benchmarks/grpc/grpc-swift-spike: ~14 min)
set -euo pipefail
make --no-print-directory release bench-tools >/dev/null
if [ "${1:-}" = "--stack" ]; then
  shift
  (cd Benchmarks/grpc/grpc-swift-spike && swift build -c release >/dev/null)
  exec python3 Benchmarks/grpc/stack.py "$@"
fi
exec python3 Benchmarks/grpc/run.py "$@"
