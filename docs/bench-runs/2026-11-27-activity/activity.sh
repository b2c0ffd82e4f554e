#!/usr/bin/env bash
# Issue #20: the activity page's answer time on the 10,000,000-message
# SQLite history of issue #19 (`chat-load seed`, 1,000 rooms, one message a
# second, so about 116 days), and the migration that fills the rollup when
# a database with history is upgraded. $1 is the data directory (seeded
# there first if it holds no chat.db; about 5 GB and 20 minutes).
#
# Outputs: activity-page.txt (answer times, and the rollup's size),
# activity-backfill.txt (the upgrade's start time, and whether the
# rebuilt rollup answers exactly as the one the triggers kept).
. "$(dirname "$0")/../2026-11-27/lib.sh"
OUT=$(dirname "$0")
DIR=${1:-/work/seed10m}
PORT=8260
BASE="http://127.0.0.1:$PORT"
PASSWORD="correct horse battery"
JAR=$(mktemp)

if [ ! -e "$DIR/chat.db" ]; then
    mkdir -p "$DIR"
    "$L" seed --sqlite-data-dir "$DIR" >"$OUT/seed.txt" 2>/dev/null
fi

# start: the server on the seeded directory; sets PID, prints the time it
# took to answer (so call it directly, not in $(...)).
start() {
    local t0
    t0=$(date +%s%N)
    ROCKET_RATE_LIMITS=false ROCKET_DATA_DIR="$DIR" ROCKET_PORT=$PORT ROCKET_LOG_LEVEL=off "$CHAT" >/dev/null 2>&1 &
    PID=$!
    wait_up $PORT
    echo "answered after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
}

log_in() {
    rm -f "$JAR"
    local token
    token=$(curl -s -c "$JAR" -b "$JAR" "$BASE/login" | grep -o 'name="csrf" value="[^"]*"' | head -1 | cut -d'"' -f4)
    curl -s -o /dev/null -c "$JAR" -b "$JAR" -H "Origin: $BASE" \
        --data-urlencode "username=boss" --data-urlencode "password=$PASSWORD" --data-urlencode "csrf=$token" "$BASE/login"
}

# timed LABEL QUERY ACCEPT: 50 answers after 3 to warm up; p50, p99, max.
timed() {
    local label=$1 query=$2 accept=$3
    for _ in 1 2 3; do curl -s -o /dev/null -b "$JAR" -H "Accept: $accept" "$BASE/admin/activity$query"; done
    for _ in $(seq 50); do
        curl -s -o /dev/null -b "$JAR" -H "Accept: $accept" -w '%{http_code} %{time_total}\n' "$BASE/admin/activity$query"
    done | awk -v label="$label" '
        $1 != 200 { bad++ } { ms[NR] = $2 * 1000 }
        END {
            n = asort(ms)
            printf "%-28s n=%d p50 %.1f ms  p99 %.1f ms  max %.1f ms  non-200: %d\n", label, n, ms[int(n*0.5)], ms[int(n*0.99)], ms[n], bad
        }'
}

{
    header
    echo "data directory $DIR: $(du -sh "$DIR" | cut -f1)"
    echo "rows: messages $(sqlite3 "$DIR/chat.db" 'SELECT count(*) FROM messages')," \
        "activity_rooms $(sqlite3 "$DIR/chat.db" 'SELECT count(*) FROM activity_rooms')," \
        "activity_people $(sqlite3 "$DIR/chat.db" 'SELECT count(*) FROM activity_people')"
    ROCKET_DATA_DIR="$DIR" "$CHAT" user add boss <<<"$PASSWORD" >/dev/null 2>&1
    ROCKET_DATA_DIR="$DIR" "$CHAT" user set-role boss admin >/dev/null 2>&1
    echo -n "start: "; start
    log_in
    timed "JSON, 30 days" "?days=30" "application/json"
    timed "JSON, a year" "?days=365" "application/json"
    timed "page (HTML), 30 days" "?days=30" "text/html"
    timed "page (HTML), a year" "?days=365" "text/html"
    curl -s -b "$JAR" "$BASE/admin/activity?days=365" >"$OUT/report-by-triggers.json"
    stop "$PID"
} >"$OUT/activity-page.txt" 2>&1

{
    header
    # Back to the schema before the rollup's migration, history kept: the
    # next start applies it again, filling the rollup from 10M messages.
    sqlite3 "$DIR/chat.db" "DROP TRIGGER messages_count_activity; DROP TABLE activity_rooms; \
        DROP TABLE activity_people; DELETE FROM _sqlx_migrations WHERE version = 17;"
    echo -n "start with the migration to apply: "; start
    log_in
    curl -s -b "$JAR" "$BASE/admin/activity?days=365" >"$OUT/report-by-backfill.json"
    # The open streams may differ (none in either); the rest must not.
    if cmp -s "$OUT/report-by-triggers.json" "$OUT/report-by-backfill.json"; then
        echo "the rollup rebuilt from the messages answers exactly as the one the triggers kept"
    else
        echo "DIFFERENT: the rebuilt rollup answers otherwise than the triggers' (see the two report-*.json)"
    fi
    stop "$PID"
    echo -n "start after it: "; start
    stop "$PID"
} >"$OUT/activity-backfill.txt" 2>&1
rm -f "$JAR"
