#!/usr/bin/env bash
# Row 3: 10,000,000 messages over 1,000 rooms written into a fresh SQLite
# data directory ($1, default /work/hist10m), the server's start time on it,
# then every read timed. About 5 GB of disk.
. "$(dirname "$0")/lib.sh"
DIR=${1:-/work/hist10m}
if [ ! -e "$DIR/chat.db" ]; then
    mkdir -p "$DIR"
    "$L" seed --sqlite-data-dir "$DIR" >"$OUT/history-seed-sqlite.txt" 2>/dev/null
fi
{
    header
    for start in 1 2 3; do
        t0=$(date +%s%N)
        ROCKET_RATE_LIMITS=false ROCKET_DATA_DIR="$DIR" ROCKET_PORT=8250 ROCKET_LOG_LEVEL=off "$CHAT" >/dev/null 2>&1 &
        PID=$!
        wait_up 8250
        echo "start $start: answered after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
        [ "$start" = 3 ] || stop "$PID"
    done
    "$L" --url http://127.0.0.1:8250 --server-pid "$PID" --deadline 1800 history --rounds 200
    stop "$PID"
} >"$OUT/history-sqlite.txt" 2>&1
