#!/usr/bin/env bash
# The benchmark command (docs/performance.md): sets up its Python venv, then runs bench.py,
# which builds what it measures, runs the Rust and Python sides and the load tests, and prints
# every figure as a ratio to pipec's. Flags: --quick, --no-passes, --no-load, --no-python.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${PIPEC_BENCH_VENV:-target/bench-venv}"
bash bench/python/setup_venv.sh "$venv" >&2
exec "$venv/bin/python" bench/bench.py "$@"
