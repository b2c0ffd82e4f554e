#!/usr/bin/env bash
# Issue #20: what the activity rollup's trigger costs the SQLite message
# writer. The same binary, on fresh data directories, with the trigger and
# without it (dropped before the server starts): the open-loop durable post
# rate of BENCHMARKS.md's row t4open (4 posters keeping up to 32 posts in
# flight, one subscriber), three alternating pairs. Output: writecost.txt.
. "$(dirname "$0")/../2026-11-27/lib.sh"
OUT=$(dirname "$0")
PORT=8261

# run VARIANT: one 10 s open-loop run on a fresh directory.
run() {
    local dir pid
    dir=$(mktemp -d)
    # The first start creates and migrates the database.
    pid=$(start_chat $PORT ROCKET_DATA_DIR="$dir")
    stop "$pid"
    if [ "$1" = without ]; then
        sqlite3 "$dir/chat.db" "DROP TRIGGER messages_count_activity;"
    fi
    pid=$(start_chat $PORT ROCKET_DATA_DIR="$dir")
    echo "== $1 the trigger"
    "$L" --url "http://127.0.0.1:$PORT" --target chat --server-pid "$pid" fanout -s 1 -p 4 -r 40000 -d 10 |
        grep -E "posts|delivered|POST" | head -6
    echo "rollup rows: $(sqlite3 "$dir/chat.db" 'SELECT count(*) FROM activity_rooms')"
    stop "$pid"
    rm -rf "$dir"
}

{
    header
    for _ in 1 2 3; do
        run with
        run without
    done
} >"$OUT/writecost.txt" 2>&1
