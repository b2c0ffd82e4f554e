#!/usr/bin/env bash
# Row 5: 5,000 streams dropped at once and reconnecting 100 messages behind.
# BEFORE=<chat binary without shared replay reads> also runs it against that.
. "$(dirname "$0")/lib.sh"
for which in ${BEFORE:+before} after; do
    [ "$which" = before ] && BIN=$BEFORE || BIN=$CHAT
    PID=$(CHAT=$BIN start_chat 8260 ROCKET_METRICS=true) || exit 1
    { header; "$L" --url http://127.0.0.1:8260 --server-pid "$PID" resume-storm --streams 5000 --behind 100; } \
        >"$OUT/storm-$which.txt" 2>&1
    stop "$PID"
done
