#!/usr/bin/env bash
# Row 6: one hour of mixed load against one server (SQLite, in-process bus):
# 1000 subscribers at 20 messages/s, 30 logins a minute, 100 stream
# reconnects a second; RSS and descriptors sampled every 10 s.
. "$(dirname "$0")/lib.sh"
PID=$(start_chat 8270)
{
    header
    "$L" --url http://127.0.0.1:8270 --server-pid "$PID" --deadline 3900 \
        soak -s 1000 -p 4 -r 20 -d 3600 --logins-per-minute 30 --reconnects 100 --sample 10 --warmup 300
} >"$OUT/soak.txt" 2>&1
stop "$PID"
