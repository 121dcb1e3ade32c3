#!/usr/bin/env bash
# Load test of one OIP server on loopback: throughput, p50/p99 latency and errors at several
# concurrencies, with oha (https://github.com/hatoo/oha) as the load generator. Works the same
# against the pipec server and bench/python/serve_fastapi.py (same URL path, same body).
#
# Usage: bench/load/load_test.sh URL BODY_FILE OUT_DIR
#   URL        e.g. http://127.0.0.1:8000/v2/models/titanic/infer
#   BODY_FILE  the POST body (bench/load/make_body.py writes one)
#   OUT_DIR    gets oha-c<N>.json (oha's raw report) per concurrency, load.jsonl (one JSON line
#              per concurrency, appended) and summary.txt (the table printed at the end)
# Environment: LOAD_SECONDS (default 10) per concurrency; LOAD_CONCURRENCY (default "1 16 256");
#   LOAD_WARMUP_SECONDS (default 1; one untimed run at concurrency 16 first, 0 to skip);
#   LOAD_LABEL (default: the URL) recorded in each line; OHA (path to oha); PYTHON (python3).
# oha is taken from $OHA, else PATH, else <repo>/target/bench-tools/bin, else installed there
# with `cargo install oha --version $OHA_VERSION --locked` (once; compiles for a few minutes).
# Errors = non-2xx answers + connection/transport errors; requests still open at the end of
# the duration are cancelled by oha and reported apart as `aborted_at_deadline`.
set -euo pipefail
if [ $# -ne 3 ]; then sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; fi
URL="$1"; BODY="$2"; OUT="$3"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
SECS="${LOAD_SECONDS:-10}"
CONC="${LOAD_CONCURRENCY:-1 16 256}"
WARMUP="${LOAD_WARMUP_SECONDS:-1}"
LABEL="${LOAD_LABEL:-$URL}"
PY="${PYTHON:-python3}"
OHA_VERSION=1.16.0
TOOLS="$REPO/target/bench-tools"
[ -f "$BODY" ] || { echo "no body file $BODY" >&2; exit 2; }
mkdir -p "$OUT"
FIRST=$(( $( (cat "$OUT/load.jsonl" 2>/dev/null || true) | wc -l) + 1 ))  # this run's lines

if [ -z "${OHA:-}" ]; then
  if command -v oha >/dev/null 2>&1; then OHA="$(command -v oha)"
  else
    OHA="$TOOLS/bin/oha"
    if [ ! -x "$OHA" ]; then
      echo "installing oha $OHA_VERSION into $TOOLS (cargo install, a few minutes)" >&2
      cargo install oha --version "$OHA_VERSION" --locked --root "$TOOLS" \
        --target-dir "$TOOLS/build" >&2
    fi
  fi
fi

run_oha() {  # concurrency seconds -> oha JSON on stdout
  "$OHA" --no-tui --output-format json -z "${2}s" -c "$1" -m POST \
    -T application/json -D "$BODY" "$URL"
}

curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' --data-binary @"$BODY" "$URL" \
  || { echo "$URL does not answer 2xx to $BODY" >&2; exit 1; }
if [ "$WARMUP" != 0 ]; then run_oha 16 "$WARMUP" >/dev/null; fi

for c in $CONC; do
  echo "concurrency $c for ${SECS}s ..." >&2
  run_oha "$c" "$SECS" > "$OUT/oha-c$c.json"
  "$PY" - "$OUT/oha-c$c.json" "$c" "$SECS" "$LABEL" "$URL" >> "$OUT/load.jsonl" <<'EOF'
import json, sys
path, c, secs, label, url = sys.argv[1:]
r = json.load(open(path))
s, pct = r["summary"], r["latencyPercentiles"]
codes = {str(k): v for k, v in (r.get("statusCodeDistribution") or {}).items()}
errs = r.get("errorDistribution") or {}
aborted = sum(v for k, v in errs.items() if "deadline" in k)
transport = sum(errs.values()) - aborted
ok = sum(v for k, v in codes.items() if k.startswith("2"))
ms = lambda v: None if v is None else round(v * 1e3, 4)
print(json.dumps({
    "label": label, "url": url, "concurrency": int(c), "seconds": float(secs),
    "requests_ok": ok, "rps": ok / s["total"],
    "p50_ms": ms(pct.get("p50")), "p99_ms": ms(pct.get("p99")), "mean_ms": ms(s.get("average")),
    "errors": sum(codes.values()) - ok + transport, "aborted_at_deadline": aborted,
    "status_codes": codes, "error_kinds": errs, "load_generator": "oha"}))
EOF
done

"$PY" - "$OUT/load.jsonl" "$FIRST" "$LABEL" <<'EOF' | tee "$OUT/summary.txt"
import json, sys
path, first, label = sys.argv[1:]
rows = [json.loads(l) for l in open(path).readlines()[int(first) - 1:] if l.strip()]
f = lambda v: "-" if v is None else f"{v:.3f}"
print(label)
print(f"{'concurrency':>11} {'req/s':>10} {'p50 ms':>9} {'p99 ms':>9} {'errors':>7} {'ok':>9}")
for r in rows:
    print(f"{r['concurrency']:>11} {r['rps']:>10.1f} {f(r['p50_ms']):>9} {f(r['p99_ms']):>9} "
          f"{r['errors']:>7} {r['requests_ok']:>9}")
EOF
