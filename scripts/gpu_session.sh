#!/usr/bin/env bash
# One session on a GPU machine, in one command: name the machine, run the GPU
# tests, then the full-scale PD14 GPU benchmark. Everything lands in $OUT
# (default bench/results): gpu_session_machine.txt, gpu_session_tests.txt,
# gpu_session_bench.txt and the benchmark's JSON. Needs CuPy; nvidia-ml-py for
# energy, nvtx for ranges (both optional). The checkout goes first on PYTHONPATH,
# so no install is needed where numba and CuPy are already there.
#   OUT=/tmp/out ./scripts/gpu_session.sh [extra arguments for bench/gpu_microcircuit.py]
# Exit status: the GPU tests' (the benchmark runs whatever they gave).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT="${OUT:-bench/results}"
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PY="${PYTHON:-python}"
{
    nvidia-smi
    "$PY" -c "import cupy; rt = cupy.cuda.runtime; print('cupy', cupy.__version__, 'CUDA runtime', rt.runtimeGetVersion(), 'driver', rt.driverGetVersion())"
    git rev-parse HEAD 2>/dev/null || echo "commit: ${CORTEX_GPU_COMMIT:-unknown}"
} 2>&1 | tee "$OUT/gpu_session_machine.txt"
"$PY" -m pytest -m gpu -x -q -rs 2>&1 | tee "$OUT/gpu_session_tests.txt"
status=${PIPESTATUS[0]}
"$PY" bench/gpu_microcircuit.py --out "$OUT" "$@" 2>&1 | tee "$OUT/gpu_session_bench.txt"
exit "$status"
