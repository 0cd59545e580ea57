#!/usr/bin/env bash
# CI: schemathesis over the whole OpenAPI document, against a real `tidings serve` (debug build,
# SQLite in a temporary data dir, a free port). Fails on any 5xx, any answer that does not match
# its documented schema and any status the document does not list for that operation.
# A fixed seed and a few cases per operation keep it reproducible and under a few minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/tidings-ci/target}"
SEED="${SCHEMATHESIS_SEED:-20261204}"
EXAMPLES="${SCHEMATHESIS_EXAMPLES:-10}"

command -v schemathesis >/dev/null \
  || python3 -m pip install --quiet --disable-pip-version-check 'schemathesis>=4,<5'
schemathesis --version

cargo build --quiet -p tidings --bin tidings
data_dir="$(mktemp -d)"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:${port}"
log="${data_dir}/serve.log"

# Pipedrive's and HubSpot's APIs as a stand-in that refuses every token (this machine has no
# network): connecting them then answers 422 as a refused token does, instead of 502 for an
# unreachable CRM, which the server-error check would count against the API.
pipedrive_port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
python3 - "$pipedrive_port" <<'PY' &
import http.server, sys
class Refuse(http.server.BaseHTTPRequestHandler):
    def answer(self):
        body = b'{"success":false,"error":"unauthorized access","errorCode":401}'
        self.send_response(401)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_GET = do_POST = do_DELETE = answer
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Refuse).serve_forever()
PY
pipedrive=$!

# A quick password hash (sign-up and sign-in are fuzzed too) and a quota the run cannot spend,
# so 429 does not hide what the operations answer (429 is documented and checked elsewhere).
TIDINGS_DATA_DIR="$data_dir" TIDINGS_LISTEN="127.0.0.1:${port}" TIDINGS_LOG_FORMAT=json \
  TIDINGS_AUTH__PASSWORD_MEMORY_KIB=1024 TIDINGS_AUTH__PASSWORD_ITERATIONS=1 \
  TIDINGS_RATE_LIMITS__API_PER_MINUTE__FREE=1000000 \
  TIDINGS_CONNECTORS__AUTOMATIONS__PIPEDRIVE_BASE_URL="http://127.0.0.1:${pipedrive_port}" \
  TIDINGS_CONNECTORS__AUTOMATIONS__HUBSPOT_BASE_URL="http://127.0.0.1:${pipedrive_port}" \
  "$CARGO_TARGET_DIR/debug/tidings" serve >"$log" 2>&1 &
server=$!
stop() {
  kill "$server" "$pipedrive" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -rf "$data_dir"
}
trap stop EXIT

for _ in $(seq 1 60); do
  curl -fsS "$base/health" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$log"; exit 1; }
  sleep 1
done

# A member of a fresh workspace, signed up through the API; its access token authenticates the run.
token="$(curl -fsS "$base/api/v1/auth/register" -H 'content-type: application/json' \
  -d '{"email":"schemathesis@example.com","password":"correct horse battery","name":"Schemathesis","workspaceName":"Fuzzed"}' \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["accessToken"])')"

# The event stream never ends, so it cannot be checked as a response; signing out would revoke
# the token every later case uses.
status=0
schemathesis run "$base/api/v1/openapi.json" \
  --header "Authorization: Bearer ${token}" \
  --checks not_a_server_error,response_schema_conformance,status_code_conformance \
  --seed "$SEED" \
  --max-examples "$EXAMPLES" \
  --phases examples,coverage,fuzzing \
  --exclude-path /api/v1/events \
  --exclude-path-regex '/auth/(logout|sign-out)' \
  --request-timeout 30 \
  --workers 2 \
  --no-color || status=$?
if [ "$status" -ne 0 ]; then
  echo "--- server log (last 50 lines) ---"
  tail -n 50 "$log"
fi
exit "$status"
