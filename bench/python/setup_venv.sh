#!/usr/bin/env bash
# Create (once) the Python venv the benchmarks use and install bench/python/requirements.txt.
# Usage: bench/python/setup_venv.sh [VENV_DIR]   (default: <repo>/target/bench-venv)
# Idempotent: re-installs only when requirements.txt changed since the last install.
# Prints the venv's python path as the last line of stdout.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VENV="${1:-$REPO/target/bench-venv}"
REQ="$HERE/requirements.txt"
PY_BOOT="${PYTHON:-python3.11}"
command -v "$PY_BOOT" >/dev/null 2>&1 || PY_BOOT=python3

if [ ! -x "$VENV/bin/python" ]; then
  echo "creating venv $VENV with $("$PY_BOOT" --version)" >&2
  "$PY_BOOT" -m venv "$VENV"
fi
STAMP="$VENV/.bench-requirements.sha256"
WANT="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
  echo "installing $REQ into $VENV" >&2
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQ" >&2
  echo "$WANT" > "$STAMP"
fi
echo "$VENV/bin/python"
