#!/usr/bin/env bash
# The final pass of this date's rows 1, 2 and 4, one after another on a
# quiet machine (each output's head has the load average).
D=$(dirname "$0")
"$D/connections.sh" 2 both
"$D/scaleout.sh" streams
"$D/scaleout.sh" fanout
"$D/scaleout.sh" durable
"$D/rooms.sh"
