#!/usr/bin/env bash
# Usage: [PROCS=2] drain.sh BIN sqlite|pg SECONDS -- builds a backlog with processing held back (1 inbound worker,
# yielding) by wrk for SECONDS, stops Tidings, starts PROCS processes (PostgreSQL only for more than one) with the
# default workers on the same database, and times the drain (messages/s).
set -eu
HERE=/work/shared/bench-ingest; BIN=$1; ENGINE=$2; SECS=$3; PROCS=${PROCS:-1}
SECRET=sbs-app-secret-0123456789; PAGE=900100200; PORT=18095
D=$(mktemp -d /tmp/t-drain.XXXX); DBENV=""
if [ "$ENGINE" = pg ]; then DB=tdrain_$$; createdb -h 127.0.0.1 -U postgres $DB; DBENV="TIDINGS_DATABASE_URL=postgres://postgres@127.0.0.1/$DB"; fi
count(){ if [ "$ENGINE" = pg ]; then psql -At -h 127.0.0.1 -U postgres $DB -c "select count(*) from $1"; else sqlite3 "$D/tidings.db" "select count(*) from $1"; fi; }
PIDS=()
start(){ local port=$1; shift
  ( cd "$D" && exec env TIDINGS_LISTEN=127.0.0.1:$port TIDINGS_DATA_DIR=$D $DBENV TIDINGS_DEMO__SEED_ON_EMPTY=false TIDINGS_DEMO__SIMULATE=false \
  TIDINGS_CONNECTORS__META__APP_SECRET=$SECRET TIDINGS_CONNECTORS__META__GRAPH_BASE_URL=http://127.0.0.1:9 TIDINGS_LOG_LEVEL=warn "$@" "$BIN" serve >>"$D/server.log" 2>&1 ) &
  PIDS+=($!)
  for _ in $(seq 1 120); do curl -fs http://127.0.0.1:$port/health >/dev/null 2>&1 && break; sleep 0.5; done; }
stop_all(){ for p in "${PIDS[@]}"; do kill $p; wait $p 2>/dev/null || true; done; PIDS=(); }
start $PORT TIDINGS_QUEUE__CONCURRENCY__INBOUND=1
python3 "$HERE/setup_messenger.py" http://127.0.0.1:$PORT $PAGE >/dev/null
python3 "$HERE/make_bodies.py" 250000 $SECRET $PAGE "$D/bodies.tsv"
wrk -t1 -c32 -d${SECS}s -s "$HERE/signed.lua" http://127.0.0.1:$PORT/webhooks/messenger -- "$D/bodies.tsv" | grep Requests/sec
stop_all
RAW=$(count raw_events); echo "backlog: raw_events=$RAW messages=$(count messages)"
for n in $(seq 1 "$PROCS"); do start $((PORT + n - 1)); done
# Timed from when every process is up: what the first drained while the others started is left out.
M0=$(count messages); T0=$(date +%s.%N)
while :; do M=$(count messages); [ "$M" -ge "$RAW" ] && break; sleep 0.5; done
T1=$(date +%s.%N)
python3 -c "print(f'drained {$RAW-$M0} by $PROCS process(es) in {$T1-$T0:.1f} s after start-up: {($RAW-$M0)/($T1-$T0):.0f} messages/s')"
# CPU seconds each process used (start-up and drain), user + system: steadier than wall-clock on a shared machine.
for p in "${PIDS[@]}"; do grep -E 'VmRSS|VmHWM' /proc/$p/status | tr '\n' ' '; awk -v hz="$(getconf CLK_TCK)" '{printf "cpu=%.1fs", ($14+$15)/hz}' /proc/$p/stat; echo; done
stop_all
[ "$ENGINE" = pg ] && dropdb -h 127.0.0.1 -U postgres $DB
rm -rf "$D"
