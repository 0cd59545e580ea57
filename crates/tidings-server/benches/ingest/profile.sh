#!/usr/bin/env bash
# Usage: profile.sh BIN sqlite|pg OUTPREFIX  -- runs Tidings like run_ingest*.sh, wrk 10 s, perf record 8 s of it, counts.
set -eu
HERE=/work/shared/bench-ingest; BIN=$1; ENGINE=$2; OUT=$3
SECRET=sbs-app-secret-0123456789; PAGE=900100200; PORT=18093
D=$(mktemp -d /tmp/t-prof.XXXX)
DBENV=""
if [ "$ENGINE" = pg ]; then DB=tprof_$$; createdb -h 127.0.0.1 -U postgres $DB; DBENV="TIDINGS_DATABASE_URL=postgres://postgres@127.0.0.1/$DB"; fi
( cd "$D" && exec env TIDINGS_LISTEN=127.0.0.1:$PORT TIDINGS_DATA_DIR=$D $DBENV TIDINGS_DEMO__SEED_ON_EMPTY=false TIDINGS_DEMO__SIMULATE=false \
  TIDINGS_CONNECTORS__META__APP_SECRET=$SECRET TIDINGS_LOG_LEVEL=warn ${EXTRA_ENV:-} "$BIN" serve >"$D/server.log" 2>&1 ) & TP=$!
for _ in $(seq 1 120); do curl -fs http://127.0.0.1:$PORT/health >/dev/null 2>&1 && break; sleep 0.5; done
python3 "$HERE/setup_messenger.py" http://127.0.0.1:$PORT $PAGE >/dev/null
python3 "$HERE/make_bodies.py" 250000 $SECRET $PAGE "$D/bodies.tsv"
if [ "$ENGINE" = pg ]; then wrk -t1 -c32 -d3s -s "$HERE/signed.lua" http://127.0.0.1:$PORT/webhooks/messenger -- "$D/bodies.tsv" >/dev/null; sleep 5; psql -q -h 127.0.0.1 -U postgres $DB -c analyze; python3 "$HERE/make_bodies.py" 250000 $SECRET $PAGE "$D/bodies.tsv"; fi
(sleep 1; perf record -F 499 -a -o $OUT.perf.data -- sleep 8 >/dev/null 2>&1) &
(for i in $(seq 1 24); do grep -E 'VmRSS|RssAnon|RssFile' /proc/$TP/status | tr '\n' ' '; echo; sleep 1; done > $OUT.rss) &
wrk -t1 -c32 -d10s --latency -s "$HERE/signed.lua" http://127.0.0.1:$PORT/webhooks/messenger -- "$D/bodies.tsv" > $OUT.wrk
wait %2 2>/dev/null || true
for i in $(seq 1 12); do
  if [ "$ENGINE" = pg ]; then c=$(psql -At -h 127.0.0.1 -U postgres $DB -c "select (select count(*) from raw_events)||' '||(select count(*) from messages)"); else c=$(sqlite3 "$D/tidings.db" "select (select count(*) from raw_events)||' '||(select count(*) from messages)"); fi
  echo "t+$((i*5))s raw/messages: $c rss: $(grep VmRSS /proc/$TP/status)"; sleep 5; done > $OUT.drain
[ "$ENGINE" = pg ] && psql -At -h 127.0.0.1 -U postgres $DB -c "select 'commits='||xact_commit||' inserted='||tup_inserted||' updated='||tup_updated||' deleted='||tup_deleted||' fetched='||tup_fetched from pg_stat_database where datname = current_database()" >> $OUT.drain
kill $TP; wait $TP 2>/dev/null || true
[ "$ENGINE" = pg ] && dropdb -h 127.0.0.1 -U postgres $DB
rm -rf "$D"
grep -E 'Requests/sec|50%|99%|Non-2xx' $OUT.wrk
cat $OUT.drain
