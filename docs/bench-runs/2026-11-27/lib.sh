# Shared by the run scripts of this pass: start a server, wait for it, stop it.
# Sourced, not run. The binaries are the release builds of the checkout.
set -uo pipefail
ROOT=$(git rev-parse --show-toplevel)
CHAT=${CHAT:-$ROOT/target/release/chat}
BARE=${BARE:-$ROOT/target/release/examples/bare_sse}
L=${L:-$ROOT/target/release/chat-load}
OUT=${OUT:-$(dirname "${BASH_SOURCE[0]}")}

# Waits until something answers HTTP on port $1 (at most 60 s).
wait_up() {
    for _ in $(seq 6000); do
        curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0
        sleep 0.01
    done
    echo "nothing answered on port $1" >&2
    return 1
}

# start_chat PORT [VAR=value...]: a chat server with rate limits off on a
# fresh data directory (unless ROCKET_DATA_DIR is given); prints its pid.
start_chat() {
    local port=$1
    shift
    if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
        echo "port $port is taken: stop what listens there first" >&2
        return 1
    fi
    env ROCKET_RATE_LIMITS=false ROCKET_DATA_DIR="$(mktemp -d)" ROCKET_PORT="$port" ROCKET_LOG_LEVEL=off "$@" \
        "$CHAT" >/dev/null 2>&1 &
    local pid=$!
    wait_up "$port"
    echo "$pid"
}

start_bare() {
    if curl -s -o /dev/null "http://127.0.0.1:$1/"; then
        echo "port $1 is taken: stop what listens there first" >&2
        return 1
    fi
    ROCKET_PORT="$1" ROCKET_LOG_LEVEL=off "$BARE" >/dev/null 2>&1 &
    local pid=$!
    wait_up "$1"
    echo "$pid"
}

stop() {
    kill "$@" 2>/dev/null || true
    for pid in "$@"; do
        while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    done
}

# Heads every output with what the machine was doing.
header() {
    echo "# $(date -u +%FT%TZ) commit $(git -C "$ROOT" rev-parse --short HEAD) loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
}
