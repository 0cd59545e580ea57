#!/usr/bin/env bash
# Usage: drain_metrics.sh BIN [SECS] -- SQLite: a backlog built for SECS with 1 inbound worker, then default workers for 20 s; dumps the queue metrics of every queue.
set -u
HERE=/work/shared/bench-ingest; BIN=$1; SECS=${2:-8}
SECRET=sbs-app-secret-0123456789; PAGE=900100200; PORT=18099
D=$(mktemp -d /tmp/t-sdm.XXXX)
start(){ ( cd "$D" && exec env TIDINGS_LISTEN=127.0.0.1:$PORT TIDINGS_DATA_DIR=$D TIDINGS_DEMO__SEED_ON_EMPTY=false TIDINGS_DEMO__SIMULATE=false \
  TIDINGS_CONNECTORS__META__APP_SECRET=$SECRET TIDINGS_CONNECTORS__META__GRAPH_BASE_URL=http://127.0.0.1:9 TIDINGS_LOG_LEVEL=warn "$@" "$BIN" serve >>"$D/server.log" 2>&1 ) & TP=$!
  for _ in $(seq 1 120); do curl -fs http://127.0.0.1:$PORT/health >/dev/null 2>&1 && break; sleep 0.5; done; }
start TIDINGS_QUEUE__CONCURRENCY__INBOUND=1
python3 "$HERE/setup_messenger.py" http://127.0.0.1:$PORT $PAGE >/dev/null
python3 "$HERE/make_bodies.py" 100000 $SECRET $PAGE "$D/bodies.tsv"
wrk -t1 -c32 -d${SECS}s -s "$HERE/signed.lua" http://127.0.0.1:$PORT/webhooks/messenger -- "$D/bodies.tsv" | grep Requests/sec
kill $TP; wait $TP 2>/dev/null
echo "backlog raw=$(sqlite3 $D/tidings.db 'select count(*) from raw_events') messages=$(sqlite3 $D/tidings.db 'select count(*) from messages') "
start; M0=$(sqlite3 $D/tidings.db 'select count(*) from messages'); sleep 20
echo "after 20 s: messages +$(( $(sqlite3 $D/tidings.db 'select count(*) from messages') - M0 )) analyses=$(sqlite3 $D/tidings.db 'select count(*) from message_analyses') "
curl -fs http://127.0.0.1:$PORT/metrics | grep -E '^tidings_queue_job_duration_seconds_(sum|count)' 
grep -E 'VmRSS|VmHWM' /proc/$TP/status | tr '\n' ' '; echo
kill $TP; wait $TP 2>/dev/null; rm -rf "$D"
