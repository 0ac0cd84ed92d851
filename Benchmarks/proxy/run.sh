#!/usr/bin/env bash
# The data-plane benchmark: the same two Hedgerow workers reached directly, through HAProxy 2.6 (1 thread, h2 -> h2,
# leastconn), through nghttpx (1 worker), through the libnghttp2 spike (Benchmarks/proxy/nghttp2-spike: SwiftNIO
# sockets, libnghttp2 framing, 1 event loop) and through the Hedgerow router, driven by h2load; then HTTP/1.1 clients
# end to end through the router (and Seldon MLServer with --mlserver, which builds its own virtualenv). Prints a
# Markdown table of the median and worst of 3 runs (about 8 minutes). Run from the repository root:
#   bash Benchmarks/proxy/run.sh [--runs N] [--mlserver] [--only haproxy,hedgerow] [--keep]
set -euo pipefail
make --no-print-directory release bench-tools >/dev/null
for p in haproxy nghttp2-proxy libnghttp2-dev; do
  dpkg -s $p >/dev/null 2>&1 || { SUDO=$([ "$(id -u)" = 0 ] || echo sudo); $SUDO apt-get install -y -qq $p >/dev/null; }
done
(cd Benchmarks/proxy/nghttp2-spike && swift build -c release >/dev/null)
exec python3 Benchmarks/proxy/proxy.py --spike Benchmarks/proxy/nghttp2-spike/.build/release/NGHTTP2Spike "$@"
