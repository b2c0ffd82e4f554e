#!/usr/bin/env bash
# Issue #16's upload row: a fan-out (1000 subscribers, 20 msg/s, 10 s) with
# uploads in its middle, each run against a freshly started release server.
# Usage: docs/bench-runs/2026-11-26-uploads/run.sh <output dir> <36 MP PNG of at most 10 MiB>
set -euo pipefail
out="$1"
photo="$2"
cd "$(dirname "$0")/../../.."
L=target/release/chat-load
run() {
  local name="$1"; shift
  local data; data="$(mktemp -d)"
  ROCKET_RATE_LIMITS=false ROCKET_DATA_DIR="$data" ROCKET_PORT=8200 ROCKET_LOG_LEVEL=off target/release/chat &
  local pid=$!
  for _ in $(seq 100); do curl -sf http://127.0.0.1:8200/healthz/live >/dev/null && break; sleep 0.1; done
  "$L" --url http://127.0.0.1:8200 --target chat --server-pid "$pid" "$@" >"$out/$name.txt" 2>&1 || true
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$data"
  grep -E "delivery p99 during|uploads:|upload latency|delivered" "$out/$name.txt" || tail -5 "$out/$name.txt"
}
# One uploader sending 10 MiB files back to back (a file, then a 36 MP
# image to decode), and four at once.
for i in 1 2 3; do
  run "file-1x20-run$i" upload-storm -s 1000 -p 4 -r 20 -d 10 --uploads 1 --rounds 20
  run "file-4x5-run$i" upload-storm -s 1000 -p 4 -r 20 -d 10 --uploads 4 --rounds 5
  run "png36mp-1x5-run$i" upload-storm -s 1000 -p 4 -r 20 -d 10 --uploads 1 --rounds 5 --file "$photo"
  run "png36mp-4x2-run$i" upload-storm -s 1000 -p 4 -r 20 -d 10 --uploads 4 --rounds 2 --file "$photo"
done
