#!/usr/bin/env bash
# Row 2: 4,950 rooms with 4 subscribers each (19,800 streams: 5,000 × 4 would
# not fit this machine's 20,000 descriptors per process beside the server's
# own), one post per room per second for 10 s, three passes on fresh rooms.
. "$(dirname "$0")/lib.sh"
PID=$(start_chat 8210)
{ header; "$L" --url http://127.0.0.1:8210 --server-pid "$PID" --deadline 900 \
    rooms --rooms 4950 -s 19800 -p 8 --in-flight 8 -r 4950 -d 10 --passes 3; } >"$OUT/rooms.txt" 2>&1
stop "$PID"
