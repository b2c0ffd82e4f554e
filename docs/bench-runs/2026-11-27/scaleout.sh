#!/usr/bin/env bash
# Rows 1 (57,000 streams) and 4 (three instances): three chat instances on
# one fresh PostgreSQL database and one Redis channel.
#   scaleout.sh streams   - 19,000 SSE streams per instance, each instance's
#                           from its own load process and source address; the
#                           third posts 5 messages once all are open
#   scaleout.sh fanout    - 1,000 subscribers dealt over the three, posters
#                           on all three at 20 msg/s in total, 30 s
#   scaleout.sh durable   - open-loop posting as fast as PostgreSQL commits:
#                           one instance, then all three (one room each)
. "$(dirname "$0")/lib.sh"
WHAT=${1:?streams, fanout or durable}
DB=bench_$(date +%s)
psql -q -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE $DB"
# Instances of one deployment share their secret key (cookies, and the
# key that seals what they say to each other on Redis).
ENV=(ROCKET_SECRET_KEY="$(openssl rand -base64 32)" ROCKET_DATABASE_URL=postgres://postgres@127.0.0.1:5432/$DB ROCKET_REDIS_URL=redis://127.0.0.1:6379/ ROCKET_REDIS_CHANNEL=bench:$DB)
P1=$(start_chat 8201 "${ENV[@]}")
P2=$(start_chat 8202 "${ENV[@]}")
P3=$(start_chat 8203 "${ENV[@]}")
U=http://127.0.0.1
case $WHAT in
streams)
    T=$(mktemp -d)
    RUN=$(od -An -N4 -tx4 /dev/urandom | tr -d ' ')
    N=19000
    "$L" --source 127.0.0.2 --url $U:8201 --server-pid "$P1" --run "$RUN" --deadline 900 \
        idle -n $N --hold 600 --expect 5 --ready-file "$T/1" >"$OUT/scaleout-streams-1.txt" 2>&1 &
    W1=$!
    "$L" --source 127.0.0.3 --url $U:8202 --server-pid "$P2" --run "$RUN" --deadline 900 \
        idle -n $N --hold 600 --expect 5 --ready-file "$T/2" >"$OUT/scaleout-streams-2.txt" 2>&1 &
    W2=$!
    while [ ! -e "$T/1" ] || [ ! -e "$T/2" ]; do sleep 0.5; kill -0 $W1 $W2 || break; done
    { header; "$L" --source 127.0.0.4 --url $U:8203 --server-pid "$P3" --run "$RUN" --deadline 900 \
        idle -n $N --hold 600 --post 5; } >"$OUT/scaleout-streams-3.txt" 2>&1
    wait $W1 $W2 || true
    ;;
fanout)
    { header; "$L" --url $U:8201 --also-url $U:8202 --also-url $U:8203 --server-pid "$P1" \
        fanout -s 1000 -p 3 -r 20 -d 30; } >"$OUT/scaleout-fanout.txt" 2>&1
    ;;
durable)
    { header; "$L" --url $U:8201 --server-pid "$P1" fanout -s 1 -p 4 -r 40000 -d 10; } \
        >"$OUT/scaleout-durable-1.txt" 2>&1
    { header; "$L" --url $U:8201 --also-url $U:8202 --also-url $U:8203 --server-pid "$P1" \
        fanout -s 3 --rooms 3 -p 6 -r 60000 -d 10; } >"$OUT/scaleout-durable-3.txt" 2>&1
    ;;
esac
stop "$P1" "$P2" "$P3"
psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE $DB"
