#!/usr/bin/env bash
# Same-pass comparison for issue #15 (changes in the room's sequence,
# signals, presence across instances): fan-out 1000x20 (t1), saturation
# 1000x200 (t2) and 10,000 idle streams (t3), for the code before (base),
# after (new) and the bare floor.
set -u
OUT=$1; shift
NEW=${NEW:-target/release}          # the build under test
BASE=${BASE:?a directory holding the chat binary of the commit before}
mkdir -p "$OUT"
start() { # name binary port
  local dir; dir=$(mktemp -d)
  ROCKET_RATE_LIMITS=false ROCKET_DATA_DIR=$dir ROCKET_PORT=$3 ROCKET_LOG_LEVEL=off "$2" > /dev/null 2>&1 &
  SERVER=$!
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$3/" && break; sleep 0.1; done
}
stop() { kill "$SERVER"; wait "$SERVER" 2>/dev/null; }
run() { # label binary port target scenario-args...
  local label=$1 bin=$2 port=$3 target=$4; shift 4
  start "$label" "$bin" "$port"
  "$NEW/chat-load" --url "http://127.0.0.1:$port" --target "$target" --server-pid "$SERVER" "$@" > "$OUT/$label.txt" 2>&1
  stop
  sleep 2
}
for pass in 1 2 3; do
  run t1-base-$pass $BASE/chat 8200 chat fanout -s 1000 -p 4 -r 20 -d 10
  run t1-new-$pass  $NEW/chat 8201 chat fanout -s 1000 -p 4 -r 20 -d 10
  run t1-bare-$pass $NEW/examples/bare_sse 8300 bare fanout -s 1000 -p 4 -r 20 -d 10
  run t2-base-$pass $BASE/chat 8200 chat fanout -s 1000 -p 4 -r 200 -d 10
  run t2-new-$pass  $NEW/chat 8201 chat fanout -s 1000 -p 4 -r 200 -d 10
  run t2-bare-$pass $NEW/examples/bare_sse 8300 bare fanout -s 1000 -p 4 -r 200 -d 10
  run t3-base-$pass $BASE/chat 8200 chat idle -n 10000 --hold 10
  run t3-new-$pass  $NEW/chat 8201 chat idle -n 10000 --hold 10
  run t3-bare-$pass $NEW/examples/bare_sse 8300 bare idle -n 10000 --hold 10
done
echo done > "$OUT/DONE"
