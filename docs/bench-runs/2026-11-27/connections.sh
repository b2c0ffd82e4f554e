#!/usr/bin/env bash
# Row 1, one instance: 19,000 held streams (SSE, then WebSocket) against a
# fresh chat server, and 19,000 SSE streams against the bare floor; in each,
# 5 messages posted once all are open (one a second) and timed to every
# stream. Each run against a freshly started server.
# Usage: connections.sh [runs] [sse|ws|both]
. "$(dirname "$0")/lib.sh"
RUNS=${1:-1}
WHICH=${2:-both}
N=19000
for run in $(seq "$RUNS"); do
  if [ "$WHICH" != ws ]; then
    PID=$(start_chat 8200)
    { header; "$L" --url http://127.0.0.1:8200 --server-pid "$PID" --deadline 600 idle -n $N --hold 60 --post 5; } \
        >"$OUT/connections-sse-chat-$run.txt" 2>&1
    stop "$PID"
    PID=$(start_bare 8300)
    { header; "$L" --url http://127.0.0.1:8300 --target bare --server-pid "$PID" --deadline 600 idle -n $N --hold 60 --post 5; } \
        >"$OUT/connections-sse-bare-$run.txt" 2>&1
    stop "$PID"
  fi
  if [ "$WHICH" != sse ]; then
    PID=$(start_chat 8200)
    { header; "$L" --url http://127.0.0.1:8200 --server-pid "$PID" --deadline 900 idle --transport ws -n $N --hold 60 --post 5; } \
        >"$OUT/connections-ws-chat-$run.txt" 2>&1
    stop "$PID"
  fi
done
