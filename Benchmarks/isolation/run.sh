#!/usr/bin/env bash
# Isolation: p99 latency of model A (digits) on one worker while model B (the 25.6 MB recommender) is loaded,
# warmed up and unloaded over and over on the same worker, against the same load with nothing loading.
# Loads run on their own thread, never on the event loops or the inference threads.
# Usage (repository root): bash Benchmarks/isolation/run.sh [--rate N] [--seconds S]
set -euo pipefail
cd "$(dirname "$0")/../.."
RATE=400
SECONDS_PER_RUN=10
while [ $# -gt 0 ]; do
    case "$1" in
        --rate) RATE=$2; shift 2 ;;
        --seconds) SECONDS_PER_RUN=$2; shift 2 ;;
        *) echo "unknown flag $1" >&2; exit 2 ;;
    esac
done
swift build -c release --product hedgerow >/dev/null
BIN=.build/release/hedgerow
WORK=$(mktemp -d)
PORT=${HEDGEROW_ISOLATION_PORT:-19710}
echo "isolation-token" > "$WORK/token"
"$BIN" worker --listen "127.0.0.1:$PORT" --name iso --admin-token-file "$WORK/token" --repository Models > "$WORK/worker.log" 2>&1 &
WORKER=$!
LOADER=""
trap 'kill $WORKER $LOADER 2>/dev/null || true; rm -rf "$WORK"' EXIT
admin() { curl -s -o /dev/null -w '%{http_code}' -X "$1" -H "Authorization: Bearer isolation-token" "http://127.0.0.1:$PORT$2"; }
state() { curl -s -H "Authorization: Bearer isolation-token" "http://127.0.0.1:$PORT/admin/state"; }
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/metrics" && break; sleep 0.1; done
admin PUT /admin/models/digits/versions/1 >/dev/null
for _ in $(seq 1 100); do state | grep -q '"AVAILABLE"' && break; sleep 0.1; done

echo "worker: 2 inference threads; model A: digits at $RATE req/s open loop for $SECONDS_PER_RUN s; model B: recommender (25.6 MB)"
"$BIN" bench --target "127.0.0.1:$PORT" --rate "$RATE" --seconds 3 >/dev/null   # warm-up
echo "== A alone"
"$BIN" bench --target "127.0.0.1:$PORT" --rate "$RATE" --seconds "$SECONDS_PER_RUN" | tail -n +3

# B: load (parse, allocate 25.6 MB of tables, warm-up run), wait for AVAILABLE, unload, pause 0.25 s
# (HEDGEROW_ISOLATION_PAUSE); again and again.
(
    cycles=0
    while true; do
        admin PUT /admin/models/recommender/versions/1 >/dev/null
        for _ in $(seq 1 200); do state | grep -q '"model":"recommender"[^}]*"AVAILABLE"' && break; sleep 0.02; done
        admin DELETE /admin/models/recommender/versions/1 >/dev/null
        cycles=$((cycles + 1))
        echo "$cycles" > "$WORK/cycles"
        sleep "${HEDGEROW_ISOLATION_PAUSE:-0.25}"
    done
) &
LOADER=$!
sleep 1
echo "== A while B loads and unloads in a loop"
"$BIN" bench --target "127.0.0.1:$PORT" --rate "$RATE" --seconds "$SECONDS_PER_RUN" | tail -n +3
kill $LOADER 2>/dev/null || true
echo "B load/unload cycles during the run: $(cat "$WORK/cycles" 2>/dev/null || echo 0)"
