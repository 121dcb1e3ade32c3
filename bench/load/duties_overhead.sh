#!/usr/bin/env bash
# What the production duties (docs/operations.md) cost in served throughput: one-row requests
# with oha against, in turn,
#   plain        the titanic server (no checks, no monitor, no audit log, no challenger)
#   ops          titanic_ops: its checks, drift windows and feedback store on, challenger off
#   buffered     ops + audit log, --audit-durability buffered
#   durable      ops + audit log, --audit-durability durable (answer after fdatasync)
#   shadow       ops + the challenger in shadow mode (every batch scored twice)
# Each server runs alone with the same flags otherwise; the table gives req/s and p99 at each
# concurrency and the ratio to `plain` measured in the same run.
#
# Usage: bench/load/duties_overhead.sh [OUT_DIR]   (default target/bench/duties)
# Environment: LOAD_SECONDS (default 10), LOAD_CONCURRENCY (default "1 16 64"), passed on to
#   load_test.sh; PIPEC (default target/release/pipec, built if missing).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"
OUT="${1:-$TARGET/bench/duties}"
export LOAD_SECONDS="${LOAD_SECONDS:-10}"
export LOAD_CONCURRENCY="${LOAD_CONCURRENCY:-1 16 64}"
PIPEC="${PIPEC:-$TARGET/release/pipec}"
rm -rf "$OUT" && mkdir -p "$OUT"
if [ ! -x "$PIPEC" ]; then (cd "$REPO" && cargo build --release --bin pipec); fi

"$PIPEC" build "$REPO/examples/titanic/titanic.pipe" -o "$OUT/titanic-server" --target-dir "$TARGET"
"$PIPEC" build "$REPO/examples/titanic/titanic_ops.pipe" \
  --challenger "$REPO/examples/titanic/titanic_ops_challenger.pipe" -o "$OUT/ops-server" --target-dir "$TARGET"
python3 "$HERE/make_body.py" titanic -o "$OUT/body.json"

measure() {  # label binary model server-flags...
  local label="$1" binary="$2" model="$3"; shift 3
  "$binary" --port 0 --log-format json "$@" 2> "$OUT/$label.log" &
  local pid=$!
  local address=""
  for _ in $(seq 1 300); do
    address=$(python3 -c 'import json,sys
for line in open(sys.argv[1]):
    try: e = json.loads(line)
    except ValueError: continue
    if e.get("message") == "listening": print(e["address"]); break' "$OUT/$label.log")
    [ -n "$address" ] && break
    sleep 0.1
  done
  [ -n "$address" ] || { echo "$label: the server did not start; see $OUT/$label.log" >&2; kill $pid; exit 1; }
  LOAD_LABEL="$label" bash "$HERE/load_test.sh" "http://$address/v2/models/$model/infer" "$OUT/body.json" "$OUT" >/dev/null
  kill -TERM $pid && wait $pid || true
}

measure plain "$OUT/titanic-server" titanic
measure ops "$OUT/ops-server" titanic_ops --challenger-mode off
measure buffered "$OUT/ops-server" titanic_ops --challenger-mode off --audit-dir "$OUT/audit-buffered" --audit-durability buffered
measure durable "$OUT/ops-server" titanic_ops --challenger-mode off --audit-dir "$OUT/audit-durable" --audit-durability durable
measure shadow "$OUT/ops-server" titanic_ops --challenger-mode shadow

python3 - "$OUT/load.jsonl" <<'EOF' | tee "$OUT/summary.txt"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
base = {r["concurrency"]: r["rps"] for r in rows if r["label"] == "plain"}
print(f"{'config':>9} {'conc':>5} {'req/s':>9} {'p99 ms':>8} {'vs plain':>9} {'errors':>7}")
for r in rows:
    ratio = r["rps"] / base[r["concurrency"]] if base.get(r["concurrency"]) else float("nan")
    print(f"{r['label']:>9} {r['concurrency']:>5} {r['rps']:>9.0f} {r['p99_ms']:>8.2f} {ratio:>9.2f} {r['errors']:>7}")
EOF
