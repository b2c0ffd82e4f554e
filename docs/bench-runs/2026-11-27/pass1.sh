#!/usr/bin/env bash
# The rows that do not depend on the presence change, in one go.
D=$(dirname "$0")
"$D/scaleout.sh" streams
"$D/scaleout.sh" fanout
"$D/scaleout.sh" durable
"$D/connections.sh" 3 sse
