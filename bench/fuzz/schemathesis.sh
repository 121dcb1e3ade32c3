#!/usr/bin/env bash
# Schemathesis against a pipec server from the official Open Inference Protocol OpenAPI spec
# (kserve/open-inference-protocol, specification/protocol/open_inference_rest.yaml, copied to
# bench/fuzz/open_inference_rest.yaml with `${MODEL_NAME}` and `${MODEL_VERSION}` rewritten as
# the path parameters `{MODEL_NAME}` and `{MODEL_VERSION}`).
#
# Usage: bench/fuzz/schemathesis.sh SERVER_BINARY [MAX_EXAMPLES]
#   SERVER_BINARY  a titanic server (`pipec build examples/titanic/titanic.pipe -o BIN`)
#   MAX_EXAMPLES   cases per operation and phase (default 500)
# The model name and version are fixed to the served ones (titanic, 1.0.0) so that requests
# reach decoding instead of stopping at 404; everything else is generated, valid and invalid.
# Checks: no 5xx (`not_a_server_error`), and every answer conforms to the spec's responses
# where the spec defines them. The server's log and schemathesis' report go to
# target/schemathesis/. Exits non-zero on a finding.
set -euo pipefail
[ $# -ge 1 ] || { sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
BIN="$1"; EXAMPLES="${2:-500}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
OUT="$REPO/target/schemathesis"
VENV="$REPO/target/schemathesis-venv"
mkdir -p "$OUT"
if [ ! -x "$VENV/bin/schemathesis" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "schemathesis==4.32.5"
fi
"$BIN" --host 127.0.0.1 --port 0 --log-format json > /dev/null 2> "$OUT/server.log" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 200); do
  ADDRESS=$(grep -o '"address":"[^"]*"' "$OUT/server.log" | head -1 | cut -d'"' -f4 || true)
  [ -n "$ADDRESS" ] && break
  sleep 0.1
done
[ -n "${ADDRESS:-}" ] || { echo "the server did not start; see $OUT/server.log" >&2; exit 1; }
cat > "$OUT/schemathesis.toml" <<TOML
[parameters]
"path.MODEL_NAME" = "titanic"
"path.MODEL_VERSION" = "1.0.0"
TOML
cd "$OUT"
"$VENV/bin/schemathesis" --config-file "$OUT/schemathesis.toml" run "$HERE/open_inference_rest.yaml" \
  --url "http://$ADDRESS" --checks not_a_server_error,status_code_conformance,content_type_conformance \
  --max-examples "$EXAMPLES" --phases examples,coverage,fuzzing --generation-deterministic \
  --report-json-path "$OUT/report.json" --request-timeout 30 -w 2
kill -0 $SERVER || { echo "the server died; see $OUT/server.log" >&2; exit 1; }
