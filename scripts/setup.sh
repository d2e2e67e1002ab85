#!/usr/bin/env bash
# Make ./.venv and install this checkout into it (editable, with the test
# extra) when missing or out of date. Sourced by scripts/run.sh and
# scripts/test.sh; run on its own (docker/Dockerfile) it only installs.
# PYTHON picks the interpreter (default python3, 3.10-3.13);
# EXTRAS adds extras, e.g. EXTRAS=test,cuda on a CUDA 12 machine.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
EXTRAS="${EXTRAS:-test}"
if [ ! -x "$VENV/bin/python" ]; then
    "${PYTHON:-python3}" -m venv "$VENV"
fi
STAMP="$VENV/.cortex_gpu-installed-$(echo "$EXTRAS" | tr ',' '-')"
# Reinstall when the dependencies (pyproject.toml) changed since the last install.
if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
    "$VENV/bin/python" -m pip install --upgrade pip
    "$VENV/bin/python" -m pip install -e ".[${EXTRAS}]"
    touch "$STAMP"
fi
