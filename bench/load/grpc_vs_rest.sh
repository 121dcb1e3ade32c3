#!/usr/bin/env bash
# gRPC against REST on one pipec server: single-row titanic requests at one concurrency (16
# by default), with one load generator for both, h2load (Debian's nghttp2-client):
#   rest           HTTP/1.1, 16 keep-alive connections, one request each at a time, JSON body
#                  (bench/load/make_body.py)
#   grpc-16conn    gRPC ModelInfer, 16 HTTP/2 connections, one call each at a time
#   grpc-1conn     gRPC ModelInfer, 1 HTTP/2 connection with 16 calls in flight (how a gRPC
#                  client channel multiplexes)
# The gRPC body is the same row as raw_input_contents, framed as gRPC (written here with the
# standard library). h2load sees HTTP status 200 for every gRPC call, errors included, so the
# server's own count of `grpc:ModelInfer` calls answered OK is checked against h2load's.
# Prints, per mode: requests, throughput, p50, p99, mean (ms), from h2load's per-request log,
# and the server's CPU time per request (user + system, from /proc, over the server's own
# count of requests answered OK): on a 2-core machine the load generator takes CPU from the
# server, and this figure does not depend on how much.
#
# Usage: bench/load/grpc_vs_rest.sh [SERVER_BINARY] [OUT_DIR]
#   SERVER_BINARY  a titanic server (default: built with target/release/pipec into OUT_DIR)
#   OUT_DIR        default target/bench/grpc
# Environment: LOAD_SECONDS (default 10), LOAD_CONCURRENCY (default 16), WORKERS (the
#   server's --workers, default its own), H2LOAD (path to h2load), PIPEC.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"
OUT="${2:-$TARGET/bench/grpc}"
SECS="${LOAD_SECONDS:-10}"
CONC="${LOAD_CONCURRENCY:-16}"
H2LOAD="${H2LOAD:-$(command -v h2load || true)}"
[ -n "$H2LOAD" ] || { echo "h2load not found: apt-get install nghttp2-client" >&2; exit 2; }
mkdir -p "$OUT"
SERVER="${1:-}"
if [ -z "$SERVER" ]; then
  PIPEC="${PIPEC:-$TARGET/release/pipec}"
  if [ ! -x "$PIPEC" ]; then (cd "$REPO" && cargo build --release --bin pipec); fi
  SERVER="$OUT/titanic-server"
  "$PIPEC" build "$REPO/examples/titanic/titanic.pipe" -o "$SERVER" --target-dir "$TARGET"
fi

python3 "$HERE/make_body.py" titanic -o "$OUT/rest.json"
python3 - "$REPO/examples/titanic/reference.json" "$OUT/grpc.bin" <<'EOF'
import json, struct, sys
ref = json.load(open(sys.argv[1]))

def varint(n):
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)

def field(number, payload):  # length-delimited
    return varint(number << 3 | 2) + varint(len(payload)) + payload

message = field(1, b"titanic")
raw = []
for name, values in ref["inputs"].items():
    value = values[0]
    if isinstance(value, str):
        datatype, data = b"BYTES", struct.pack("<I", len(value.encode())) + value.encode()
    else:
        datatype, data = b"FP32", struct.pack("<f", float("nan") if value is None else value)
    message += field(5, field(1, name.encode()) + field(2, datatype) + field(3, varint(1)))
    raw.append(data)
message += b"".join(field(7, data) for data in raw)
open(sys.argv[2], "wb").write(b"\x00" + struct.pack(">I", len(message)) + message)
EOF

ARGS=(--port 0 --grpc-port 0 --log-format json)
[ -n "${WORKERS:-}" ] && ARGS+=(--workers "$WORKERS")
"$SERVER" "${ARGS[@]}" 2> "$OUT/server.log" &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
read_field() {
  python3 -c 'import json, sys
for line in open(sys.argv[1]):
    try: e = json.loads(line)
    except ValueError: continue
    if e.get("message") == "listening": print(e.get(sys.argv[2], "")); break' "$OUT/server.log" "$1"
}
HTTP=""
for _ in $(seq 1 300); do HTTP=$(read_field address); [ -n "$HTTP" ] && break; sleep 0.1; done
[ -n "$HTTP" ] || { echo "the server did not start:" >&2; cat "$OUT/server.log" >&2; exit 1; }
GRPC=$(read_field grpc_address)

answered() {  # endpoint -> requests the server answered 200 there
  curl -s "http://$HTTP/metrics" | python3 -c 'import sys
series = "pipec_http_requests_total{endpoint=\"%s\",code=\"200\"}" % sys.argv[1]
print(int(sum(float(l.split()[-1]) for l in sys.stdin if l.startswith(series))))' "$1"
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }

run() {  # label endpoint clients streams-per-client h2load-args...
  local label="$1" endpoint="$2" clients="$3" streams="$4"; shift 4
  rm -f "$OUT/$label.log"
  local n0 t0 n1 t1
  n0=$(answered "$endpoint"); t0=$(cpu_ticks)
  "$H2LOAD" -c "$clients" -m "$streams" -D "$SECS" --warm-up-time 1 --log-file "$OUT/$label.log" "$@" \
    > "$OUT/$label.h2load.txt"
  t1=$(cpu_ticks); n1=$(answered "$endpoint")
  echo "$((n1 - n0)) $((t1 - t0)) $(getconf CLK_TCK)" > "$OUT/$label.server.txt"
}

REST_URL="http://$HTTP/v2/models/titanic/infer"
GRPC_URL="http://$GRPC/inference.GRPCInferenceService/ModelInfer"
GRPC_HEADERS=(-H 'content-type: application/grpc' -H 'te: trailers')
echo "server $SERVER: REST $HTTP, gRPC $GRPC; ${SECS}s per mode at concurrency $CONC" >&2
run rest '/v2/models/{name}/infer' "$CONC" 1 --h1 -d "$OUT/rest.json" -H 'content-type: application/json' "$REST_URL"
run grpc-16conn grpc:ModelInfer "$CONC" 1 -d "$OUT/grpc.bin" "${GRPC_HEADERS[@]}" "$GRPC_URL"
run grpc-1conn grpc:ModelInfer 1 "$CONC" -d "$OUT/grpc.bin" "${GRPC_HEADERS[@]}" "$GRPC_URL"

python3 - "$OUT" "$CONC" <<'EOF' | tee "$OUT/summary.txt"
import json, statistics, sys
out, conc = sys.argv[1], int(sys.argv[2])
rows, failed = [], []
for label in ("rest", "grpc-16conn", "grpc-1conn"):
    served, ticks, hz = (int(x) for x in open(f"{out}/{label}.server.txt").read().split())
    lines = [l.split("\t") for l in open(f"{out}/{label}.log") if l.strip()]
    ok = [int(l[2]) / 1000 for l in lines if l[1] == "200"]
    start = min(int(l[0]) for l in lines)
    end = max(int(l[0]) + int(l[2]) for l in lines)
    ok.sort()
    pct = lambda q: ok[min(len(ok) - 1, int(q * len(ok)))]
    rows.append({"mode": label, "concurrency": conc, "requests": len(ok), "errors": len(lines) - len(ok),
                 "rps": round(len(ok) / ((end - start) / 1e6), 1), "p50_ms": round(pct(0.50), 3),
                 "p99_ms": round(pct(0.99), 3), "mean_ms": round(statistics.fmean(ok), 3),
                 "server_cpu_us_per_request": round(ticks / hz * 1e6 / max(served, 1), 1)})
    # Warm-up requests are not in h2load's log, so the server answers at least as many OK;
    # fewer means some calls failed (for gRPC, a grpc-status other than 0 under HTTP 200).
    if served < len(ok):
        failed.append(f"{label}: h2load logged {len(ok)} answers, the server answered {served} OK")
print(f"{'mode':<12} {'requests':>9} {'errors':>6} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'server CPU us/req':>17}")
for r in rows:
    print(f"{r['mode']:<12} {r['requests']:>9} {r['errors']:>6} {r['rps']:>9} {r['p50_ms']:>8} {r['p99_ms']:>8} {r['mean_ms']:>8} {r['server_cpu_us_per_request']:>17}")
with open(f"{out}/summary.jsonl", "w") as f:
    for r in rows:
        f.write(json.dumps(r) + "\n")
if failed:
    sys.exit("\n".join(failed))
EOF
