#!/usr/bin/env bash
# Usage: scale_out.sh BIN -- webhook intake on PostgreSQL by one `tidings serve` (wrk -c32) and then by two
# processes sharing a fresh database, each taking half the load (two wrk -c16 at once, distinct deliveries);
# same warm-up and ANALYZE as the ruler's run_ingest_pg.sh. Prints each wrk's rate and latency, the sum,
# and what was stored and processed 20 s after the load (every acknowledged delivery exactly once).
set -eu
HERE=/work/shared/bench-ingest; BIN=$1
SECRET=sbs-app-secret-0123456789; PAGE=900100200; PORT=18096
wrk_line(){ awk '/Requests\/sec/{r=$2} /^ +50%/{p50=$2} /^ +99%/{p99=$2} /Non-2xx/{e=$5} END{printf "req/s=%s p50=%s p99=%s non2xx=%s\n", r, p50, p99, (e==""?0:e)}'; }
run(){ local procs=$1 DB=tscale_$$_$1 D; D=$(mktemp -d /tmp/t-scale.XXXX); local pids=()
  createdb -h 127.0.0.1 -U postgres $DB
  for n in $(seq 1 "$procs"); do
    ( cd "$D" && exec env TIDINGS_LISTEN=127.0.0.1:$((PORT + n)) TIDINGS_DATA_DIR=$D TIDINGS_DATABASE_URL=postgres://postgres@127.0.0.1/$DB \
      TIDINGS_DEMO__SEED_ON_EMPTY=false TIDINGS_DEMO__SIMULATE=false TIDINGS_CONNECTORS__META__APP_SECRET=$SECRET \
      TIDINGS_CONNECTORS__META__GRAPH_BASE_URL=http://127.0.0.1:9 TIDINGS_LOG_LEVEL=warn "$BIN" serve >>"$D/server.log" 2>&1 ) &
    pids+=($!)
    for _ in $(seq 1 120); do curl -fs http://127.0.0.1:$((PORT + n))/health >/dev/null 2>&1 && break; sleep 0.5; done
  done
  python3 "$HERE/setup_messenger.py" http://127.0.0.1:$((PORT + 1)) $PAGE >/dev/null
  local conns=$((32 / procs))
  for n in $(seq 1 "$procs"); do python3 "$HERE/make_bodies.py" 100000 $SECRET $PAGE "$D/warm$n.tsv"; done
  for n in $(seq 1 "$procs"); do wrk -t1 -c$conns -d3s -s "$HERE/signed.lua" http://127.0.0.1:$((PORT + n))/webhooks/messenger -- "$D/warm$n.tsv" >/dev/null & done; wait_wrk
  sleep 5; psql -q -h 127.0.0.1 -U postgres $DB -c "analyze"
  for n in $(seq 1 "$procs"); do python3 "$HERE/make_bodies.py" 200000 $SECRET $PAGE "$D/bodies$n.tsv"; sleep 0.01; done
  uptime
  for n in $(seq 1 "$procs"); do
    ( echo "$procs process(es), process $n $(wrk -t1 -c$conns -d10s --latency -s "$HERE/signed.lua" http://127.0.0.1:$((PORT + n))/webhooks/messenger -- "$D/bodies$n.tsv" | wrk_line)" ) > "$D/wrk$n.out" &
  done; wait_wrk
  cat "$D"/wrk*.out; awk '{for(i=1;i<=NF;i++) if($i ~ /^req\/s=/){split($i,a,"="); s+=a[2]}} END{printf "  together: %.0f req/s\n", s}' "$D"/wrk*.out
  sleep 20
  echo "  stored raw_events=$(psql -At -h 127.0.0.1 -U postgres $DB -c 'select count(*) from raw_events') messages=$(psql -At -h 127.0.0.1 -U postgres $DB -c 'select count(*) from messages') unprocessed=$(psql -At -h 127.0.0.1 -U postgres $DB -c "select count(*) from raw_events where status <> 'processed'")"
  for p in "${pids[@]}"; do kill $p; wait $p 2>/dev/null || true; done
  dropdb -h 127.0.0.1 -U postgres $DB; rm -rf "$D"; }
wait_wrk(){ while pgrep -x wrk >/dev/null; do sleep 0.2; done; }
run 1
run 2
