#!/usr/bin/env bash
# Set up ./.venv if needed, then run the PD14 microcircuit on the best available
# backend; results in out/microcircuit. Extra arguments go to the CLI,
# e.g. scripts/run.sh --scale 0.1 --t-sim 1000.
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
exec "$VENV/bin/cortex-gpu" run microcircuit --out out/microcircuit "$@"
