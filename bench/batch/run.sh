#!/usr/bin/env bash
# Batch scoring throughput (bench/batch/score_file.py): builds the titanic example's server with
# batch scoring and its Python wheel (pipec build --python), sets up the benchmarks' Python venv
# (bench/python/setup_venv.sh), then scores one Parquet file with pipec, scikit-learn, ONNX
# Runtime and the wheel in PySpark and Ray Data in one run.
# Usage: bench/batch/run.sh [ROWS]   (default 10000000)
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
SERVER="$REPO/target/bench-batch/titanic-server"
mkdir -p "$REPO/target/bench-batch"
cargo run --release -q -p pipec -- build examples/titanic/titanic.pipe --batch -o "$SERVER"
PYTHON="$(bench/python/setup_venv.sh | tail -1)"
# The pipeline's wheel (pipec build --python), installed into the venv, timed in Spark and Ray.
rm -rf "$REPO/target/bench-batch/wheel"
cargo run --release -q -p pipec -- build examples/titanic/titanic.pipe --python -o "$REPO/target/bench-batch/wheel" \
  --maturin "$(dirname "$PYTHON")/maturin"
"$PYTHON" -m pip install --quiet --force-reinstall --no-deps "$REPO"/target/bench-batch/wheel/*.whl
"$PYTHON" bench/batch/score_file.py --server "$SERVER" --rows "${1:-10000000}" --wheel pipec_titanic \
  --json "$REPO/target/bench-batch/result.json"
