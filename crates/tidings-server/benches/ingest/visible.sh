#!/usr/bin/env bash
# Usage: visible.sh BIN sqlite|pg  -- steady ~1,000 events/s (10 connections, 10 ms pause) for 20 s;
# prints wrk's rate and latency, then acknowledged -> stored-in-inbox latency percentiles
# (messages.created_at - raw_events.received_at, joined on the message id).
set -eu
HERE=/work/shared/bench-ingest; BIN=$1; ENGINE=$2
SECRET=sbs-app-secret-0123456789; PAGE=900100200; PORT=18094
D=$(mktemp -d /tmp/t-vis.XXXX); DBENV=""
if [ "$ENGINE" = pg ]; then DB=tvis_$$; createdb -h 127.0.0.1 -U postgres $DB; DBENV="TIDINGS_DATABASE_URL=postgres://postgres@127.0.0.1/$DB"; fi
( cd "$D" && exec env TIDINGS_LISTEN=127.0.0.1:$PORT TIDINGS_DATA_DIR=$D $DBENV TIDINGS_DEMO__SEED_ON_EMPTY=false TIDINGS_DEMO__SIMULATE=false \
  TIDINGS_CONNECTORS__META__APP_SECRET=$SECRET TIDINGS_LOG_LEVEL=warn ${EXTRA_ENV:-} "$BIN" serve >"$D/server.log" 2>&1 ) & TP=$!
for _ in $(seq 1 120); do curl -fs http://127.0.0.1:$PORT/health >/dev/null 2>&1 && break; sleep 0.5; done
python3 "$HERE/setup_messenger.py" http://127.0.0.1:$PORT $PAGE >/dev/null
python3 "$HERE/make_bodies.py" 60000 $SECRET $PAGE "$D/bodies.tsv"
uptime
wrk -t1 -c${CONNS:-10} -d${SECS:-20}s --latency -s $(dirname "$0")/paced.lua http://127.0.0.1:$PORT/webhooks/messenger -- "$D/bodies.tsv" ${PAUSE:-10} | grep -E 'Requests/sec|50%|99%|Non-2xx'
sleep 5
uptime
# Where the time went: the means (and bucket p99) of the histograms along the path, from /metrics.
curl -fs http://127.0.0.1:$PORT/metrics > $D/metrics
python3 - "$D/metrics" <<'PY'
import re, sys
from collections import defaultdict
wanted = ["tidings_webhook_ack_seconds", "tidings_webhook_batch_size", "tidings_webhook_processing_yield_seconds",
          "tidings_queue_job_wait_seconds", "tidings_queue_job_duration_seconds"]
sums, counts, buckets = {}, {}, defaultdict(list)
for line in open(sys.argv[1]):
    m = re.match(r'(\w+?)(_sum|_count|_bucket)(\{[^}]*\})? ([0-9.e+-]+|\+Inf)$', line.strip())
    if not m or m.group(1) not in wanted: continue
    name, part, labels, value = m.group(1), m.group(2), m.group(3) or "", float(m.group(4))
    le = re.search(r'le="([^"]+)"', labels)
    key = name + re.sub(r',?le="[^"]+"', "", labels).replace("{}", "")
    if part == "_sum": sums[key] = value
    elif part == "_count": counts[key] = value
    else: buckets[key].append((float(le.group(1)), value))
for key in sorted(counts):
    if "inbound" not in key and "queue_job" in key: continue
    n = counts[key]; mean = sums.get(key, 0) / n if n else 0
    p99 = next((le for le, c in sorted(buckets[key]) if c >= 0.99 * n), None)
    print(f"  {key}: n={n:.0f} mean={mean:.4f} p99<={p99}")
PY
Q_SQLITE="select m.created_at - r.received_at from raw_events r join messages m on m.external_id = json_extract(r.body, '\$.entry[0].messaging[0].message.mid') order by 1"
Q_PG="select m.created_at - r.received_at from raw_events r join messages m on m.external_id = (r.body::json->'entry'->0->'messaging'->0->'message'->>'mid') order by 1"
if [ "$ENGINE" = pg ]; then psql -At -h 127.0.0.1 -U postgres $DB -c "$Q_PG" > $D/lat; else sqlite3 "$D/tidings.db" "$Q_SQLITE" > $D/lat; fi
python3 - "$D/lat" <<'PY'
import sys
v=[int(x) for x in open(sys.argv[1]) if x.strip()]
v.sort(); n=len(v)
p=lambda q: v[min(n-1,int(q*n))]
print(f"acked->visible ms: n={n} p50={p(0.5)} p95={p(0.95)} p99={p(0.99)} max={v[-1]}")
PY
kill $TP; wait $TP 2>/dev/null || true
[ "$ENGINE" = pg ] && dropdb -h 127.0.0.1 -U postgres $DB
rm -rf "$D"
