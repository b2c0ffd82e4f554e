#!/usr/bin/env bash
# Issue #20: what the activity rollup's trigger costs the message writer.
# The same binary on fresh databases, with the trigger and without it
# (dropped before the server starts): the open-loop durable post rate of
# BENCHMARKS.md's row t4open (4 posters keeping up to 32 posts in flight,
# one subscriber, 10 s), three alternating pairs on SQLite, then on
# PostgreSQL (one instance). Output: writecost.txt.
. "$(dirname "$0")/../2026-11-27/lib.sh"
OUT=$(dirname "$0")
PORT=8261

# run ENGINE VARIANT: one 10 s open-loop run on a fresh database.
run() {
    local engine=$1 variant=$2 dir pid db drop count
    dir=$(mktemp -d)
    local env=(ROCKET_DATA_DIR="$dir")
    if [ "$engine" = postgres ]; then
        db=cost_$(date +%s%N)
        psql -q -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE $db"
        env+=(ROCKET_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db")
        drop=(psql -q -h 127.0.0.1 -U postgres -d "$db" -c "DROP TRIGGER messages_count_activity ON messages")
        count=(psql -qtA -h 127.0.0.1 -U postgres -d "$db" -c "SELECT count(*) FROM activity_rooms")
    else
        drop=(sqlite3 "$dir/chat.db" "DROP TRIGGER messages_count_activity")
        count=(sqlite3 "$dir/chat.db" "SELECT count(*) FROM activity_rooms")
    fi
    # The first start creates and migrates the database.
    pid=$(start_chat $PORT "${env[@]}")
    stop "$pid"
    [ "$variant" = with ] || "${drop[@]}"
    pid=$(start_chat $PORT "${env[@]}")
    echo "== $engine, $variant the trigger"
    "$L" --url "http://127.0.0.1:$PORT" --target chat --server-pid "$pid" fanout -s 1 -p 4 -r 40000 -d 10 |
        grep -E "^(posts|deliveries|POST latency|run):"
    stop "$pid"
    echo "rollup rows after: $("${count[@]}")"
    [ "$engine" = postgres ] && psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE $db"
    rm -rf "$dir"
}

{
    header
    for engine in sqlite postgres; do
        for _ in 1 2 3; do
            run "$engine" with
            run "$engine" without
        done
    done
} >"$OUT/writecost.txt" 2>&1
