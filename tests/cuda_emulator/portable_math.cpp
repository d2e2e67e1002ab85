/*
 * tests/cuda_emulator/portable_math.cpp -- kernels/philox.cuh's cg_pexp, cg_plog
 * and cg_ppow over arrays, for tests/test_philox.py to compare with their numba
 * twins (philox.pexp, plog, ppow) bit for bit through ctypes.
 * Invariant it checks: the same input gives the same bits on both sides (I3);
 * build with g++ -ffp-contract=off, as the kernels build with --fmad=false.
 */
#include "philox.cuh"

extern "C" void portable_math(int which, const double *x, const double *y, double *out, long n)
{
    for (long i = 0; i < n; ++i)
        out[i] = which == 0 ? cg_pexp(x[i]) : which == 1 ? cg_plog(x[i]) : cg_ppow(x[i], y[i]);
}
