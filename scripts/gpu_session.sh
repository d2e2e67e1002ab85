#!/usr/bin/env bash
# One session on a GPU machine: name the machine, run the GPU tests, then the
# full-scale PD14 GPU benchmark. Everything lands in $OUT (default
# bench/results): gpu_session_machine.txt, gpu_session_tests.txt,
# gpu_session_bench.txt and the benchmark's JSON. Needs CuPy; nvidia-ml-py for
# energy, nvtx for ranges (both optional). The checkout goes first on PYTHONPATH,
# so no install is needed where numba and CuPy are already there.
#   OUT=/tmp/out ./scripts/gpu_session.sh [all|tests|bench] [extra arguments for bench/gpu_microcircuit.py]
# 'tests' and 'bench' run one half, for machines that limit one command's time
# (each half is also bounded: TEST_TIMEOUT and BENCH_TIMEOUT seconds, default
# 420 each, so a hung kernel cannot eat the session). The tests stop after
# MAXFAIL failures (default 5), not the first: a first run on a new GPU should
# show more than one problem.
# Exit status: the GPU tests' when they ran, else the benchmark's.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT="${OUT:-bench/results}"
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PY="${PYTHON:-python}"
part=all
case "${1:-}" in all|tests|bench) part=$1; shift ;; esac
{
    nvidia-smi
    "$PY" -c "import cupy; rt = cupy.cuda.runtime; print('cupy', cupy.__version__, 'CUDA runtime', rt.runtimeGetVersion(), 'driver', rt.driverGetVersion())"
    git rev-parse HEAD 2>/dev/null || echo "commit: ${CORTEX_GPU_COMMIT:-unknown}"
} 2>&1 | tee "$OUT/gpu_session_machine.txt"
status=0
if [ "$part" != bench ]; then
    timeout "${TEST_TIMEOUT:-420}" "$PY" -m pytest -m gpu --maxfail="${MAXFAIL:-5}" -q -rs --durations=10 2>&1 \
        | tee "$OUT/gpu_session_tests.txt"
    status=${PIPESTATUS[0]}
fi
if [ "$part" != tests ]; then
    timeout "${BENCH_TIMEOUT:-420}" "$PY" bench/gpu_microcircuit.py --out "$OUT" "$@" 2>&1 \
        | tee "$OUT/gpu_session_bench.txt"
    bench_status=${PIPESTATUS[0]}
    [ "$part" = bench ] && status=$bench_status
fi
exit "$status"
