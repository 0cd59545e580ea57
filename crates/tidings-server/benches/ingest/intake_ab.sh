#!/usr/bin/env bash
# Usage: intake_ab.sh BIN_A BIN_B [ROUNDS] -- webhook intake of two `tidings` builds, alternating, same ruler:
# wrk -t1 -c32 -d10s, signed unique Messenger deliveries, SQLite default, processing held to 1 inbound worker.
set -eu
HERE=/work/shared/bench-ingest; A=$1; B=$2; ROUNDS=${3:-3}
SECRET=sbs-app-secret-0123456789; PAGE=900100200; PORT=18097
D0=$(mktemp -d /tmp/intake-ab.XXXX); BODIES=$D0/bodies.tsv
# Made just before the runs: Messenger deliveries carry a timestamp, and old ones are refused.
python3 "$HERE/make_bodies.py" 250000 $SECRET $PAGE "$BODIES"
wrk_line(){ awk '/Requests\/sec/{r=$2} /^ +50%/{p50=$2} /^ +99%/{p99=$2} /Non-2xx/{e=$5} END{printf "req/s=%s p50=%s p99=%s non2xx=%s\n", r, p50, p99, (e==""?0:e)}'; }
for round in $(seq 1 "$ROUNDS"); do for bin in "$A" "$B"; do
  D=$(mktemp -d /tmp/intake-ab-run.XXXX)
  ( cd "$D" && TIDINGS_LISTEN=127.0.0.1:$PORT TIDINGS_DATA_DIR=$D TIDINGS_DEMO__SEED_ON_EMPTY=false TIDINGS_DEMO__SIMULATE=false \
    TIDINGS_CONNECTORS__META__APP_SECRET=$SECRET TIDINGS_QUEUE__CONCURRENCY__INBOUND=1 TIDINGS_LOG_LEVEL=warn exec "$bin" serve >"$D/server.log" 2>&1 ) & TP=$!
  for _ in $(seq 1 120); do curl -fs http://127.0.0.1:$PORT/health >/dev/null 2>&1 && break; sleep 0.5; done
  python3 "$HERE/setup_messenger.py" http://127.0.0.1:$PORT $PAGE >/dev/null
  echo "round $round $bin $(wrk -t1 -c32 -d10s --latency -s "$HERE/signed.lua" http://127.0.0.1:$PORT/webhooks/messenger -- "$BODIES" | wrk_line) raw_events=$(sqlite3 "$D/tidings.db" 'select count(*) from raw_events')"
  kill $TP; wait $TP 2>/dev/null || true; rm -rf "$D"
done; done
rm -rf "$D0"
