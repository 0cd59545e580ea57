#!/usr/bin/env bash
# Idle RSS of `tidings serve` (release): fresh database without the demo, then the demo as `cargo run --release` makes it
# (items analysed), each read 30 s after the last activity.
set -u
BIN=$1; PORT=18097
for mode in empty demo; do
  D=$(mktemp -d /tmp/t-rss.XXXX)
  if [ $mode = empty ]; then EXTRA="TIDINGS_DEMO__SEED_ON_EMPTY=false"; else EXTRA="TIDINGS_DEMO__SIMULATE=false"; fi
  ( cd "$D" && exec env TIDINGS_LISTEN=127.0.0.1:$PORT TIDINGS_DATA_DIR=$D $EXTRA TIDINGS_LOG_LEVEL=warn "$BIN" serve >"$D/log" 2>&1 ) & P=$!
  for _ in $(seq 1 120); do curl -fs http://127.0.0.1:$PORT/ready >/dev/null 2>&1 && break; sleep 0.5; done
  # the dashboard's pages once, as a visitor would, then idle
  for page in / /sign-in /status /metrics /api/v1/openapi.json; do curl -fs -o /dev/null http://127.0.0.1:$PORT$page; done
  sleep 40
  echo "$mode: $(grep -E 'VmRSS|RssAnon|RssFile|VmHWM' /proc/$P/status | tr -s ' \t' ' ' | tr '\n' ' ')"
  if [ $mode = demo ]; then echo "  analysed: $(sqlite3 $D/tidings.db 'select count(*) from message_analyses' 2>/dev/null) of $(sqlite3 $D/tidings.db 'select count(*) from messages' 2>/dev/null) messages"; fi
  kill $P; wait $P 2>/dev/null; rm -rf "$D"
done
