#!/usr/bin/env bash
# The plotted fan-out of docs/BENCHMARKS.md ("Plots"): 1,000 SSE
# subscribers and 4 posters at 50 messages/s for 40 s (2,000 posts,
# 2,000,000 deliveries), against a freshly started chat server, then
# against the bare Rocket floor, each written with --out into a directory
# of its own (chat/, bare/: summary, latency.csv, series.csv, and output.txt,
# the console output headed by the machine's load); then both drawn on the
# same two charts (latency.svg, deliveries.svg).
# Build first: cargo build --release --bin chat --example bare_sse -p chat && cargo build --release -p chat-load
# Usage: plots.sh
OUT=${OUT:-$(cd "$(dirname "$0")" && pwd)}
# start_chat, start_bare, stop and header, as in the pass before this one.
. "$(dirname "$0")/../2026-11-27/lib.sh"
ARGS=(fanout -s 1000 -p 4 -r 50 -d 40)
PID=
# Whatever happens, no server is left running.
trap '[ -n "$PID" ] && stop "$PID"' EXIT

PID=$(start_chat 8240) || exit 1
mkdir -p "$OUT/chat"
{ header; "$L" --url http://127.0.0.1:8240 --target chat --server-pid "$PID" --out "$OUT/chat" "${ARGS[@]}"; } \
    >"$OUT/chat/output.txt" 2>&1
stop "$PID"
PID=

PID=$(start_bare 8340) || exit 1
mkdir -p "$OUT/bare"
{ header; "$L" --url http://127.0.0.1:8340 --target bare --server-pid "$PID" --out "$OUT/bare" "${ARGS[@]}"; } \
    >"$OUT/bare/output.txt" 2>&1
stop "$PID"
PID=

"$L" plot "$OUT/chat" "$OUT/bare" --to "$OUT"
