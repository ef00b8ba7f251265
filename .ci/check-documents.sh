#!/usr/bin/env bash
# Starts a sessiond, exercises it, and checks /openapi.json and /metrics with standard tools:
# openapi-spec-validator and the Prometheus client's own text parser.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${SESSIOND_BIN:-target/release/sessiond}"
VENV=target/ci-tools-venv
if [ ! -x "$VENV/bin/openapi-spec-validator" ] || ! cmp -s .ci/tools-requirements.txt "$VENV/requirements.txt"; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r .ci/tools-requirements.txt
  cp .ci/tools-requirements.txt "$VENV/requirements.txt"
fi
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
"$BIN" serve --listen 127.0.0.1:0 --store "sqlite://$work/s.db" --log-format json 2> "$work/log" &
pid=$!
for _ in $(seq 1 100); do
  addr=$(grep -o '"addr":"[^"]*"' "$work/log" | head -1 | cut -d'"' -f4 || true)
  [ -n "$addr" ] && break
  sleep 0.1
done
[ -n "${addr:-}" ] || { cat "$work/log"; echo "sessiond did not start"; exit 1; }
url="http://$addr"
"$BIN" session create --user ci --url "$url" --json > "$work/s.json"
"$BIN" session refresh "$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["refreshToken"]["token"])' "$work/s.json")" --url "$url" > /dev/null
curl -sf "$url/openapi.json" > "$work/openapi.json"
curl -sf "$url/metrics" > "$work/metrics.txt"
"$VENV/bin/openapi-spec-validator" "$work/openapi.json"
"$VENV/bin/python" - "$work/metrics.txt" <<'PY'
import sys
from prometheus_client.parser import text_string_to_metric_families
families = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
need = ["sessiond_http_requests", "sessiond_http_request_duration_seconds", "sessiond_sessions_created",
        "sessiond_refreshes", "sessiond_thefts_detected", "sessiond_store_errors"]
missing = [n for n in need if n not in families]
assert not missing, f"missing metric families: {missing}"
created = sum(s.value for s in families["sessiond_sessions_created"].samples if s.name.endswith("_total"))
assert created >= 1, "sessions_created did not count"
print(f"metrics OK: {len(families)} families parsed by prometheus_client")
PY
echo "documents OK"
