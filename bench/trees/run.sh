#!/usr/bin/env bash
# Tree ensembles on one CPU thread, pipec against XGBoost, LightGBM, treelite/tl2cgen and
# lleaves (docs/performance.md, "Tree ensembles on the CPU"). Sets up the venv
# (target/trees-bench-venv, Python 3.12), builds pipec-bench with the workspace's test build
# (a no-op when it is fresh; --no-build skips it), then runs compare.py with the remaining
# flags (--models, --sizes, --rounds, --budget-ms; see compare.py).
set -euo pipefail
cd "$(dirname "$0")/../.."
venv="${PIPEC_TREES_VENV:-target/trees-bench-venv}"
py_boot="${PYTHON:-python3.12}"
command -v "$py_boot" >/dev/null 2>&1 || py_boot=python3
build=1
args=()
for a in "$@"; do
  if [ "$a" = "--no-build" ]; then build=0; else args+=("$a"); fi
done
if [ ! -x "$venv/bin/python" ]; then
  echo "creating $venv with $("$py_boot" --version)" >&2
  "$py_boot" -m venv "$venv"
fi
stamp="$venv/.trees-bench-requirements.sha256"
want="$(sha256sum bench/trees/requirements.txt | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r bench/trees/requirements.txt >&2
  echo "$want" > "$stamp"
fi
if [ "$build" = 1 ]; then
  cargo test --release --workspace --no-run >&2
fi
exec "$venv/bin/python" bench/trees/compare.py "${args[@]}"
