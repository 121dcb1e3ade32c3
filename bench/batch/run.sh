#!/usr/bin/env bash
# Batch scoring throughput (bench/batch/score_file.py): builds the titanic example's server with
# batch scoring, sets up the benchmarks' Python venv (bench/python/setup_venv.sh), then scores
# one Parquet file with pipec, scikit-learn and ONNX Runtime in one run.
# Usage: bench/batch/run.sh [ROWS]   (default 10000000)
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
SERVER="$REPO/target/bench-batch/titanic-server"
mkdir -p "$REPO/target/bench-batch"
cargo run --release -q -p pipec -- build examples/titanic/titanic.pipe --batch -o "$SERVER"
PYTHON="$(bench/python/setup_venv.sh | tail -1)"
"$PYTHON" bench/batch/score_file.py --server "$SERVER" --rows "${1:-10000000}" --json "$REPO/target/bench-batch/result.json"
