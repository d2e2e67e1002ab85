/*
 * tests/cuda_emulator/portable_draws.cpp -- kernels/distributions.cuh over arrays,
 * for tests/test_distribution_twins.py to compare with the numba twins
 * (philox.normal_zig, zig_fast, normal_zig_first; distributions.draw;
 * connect.zig_layer, shared_block_weight) bit for bit through ctypes.
 * Invariant it checks: the same key gives the same bits on both sides; build
 * with g++ -ffp-contract=off, as the kernels build with --fmad=false.
 */
#include "distributions.cuh"

/* cg_normal_zig for each (entity[i], index[i]) from sub[i]: z[i], next_sub[i]. */
extern "C" void draws_normal_zig(const double *zx, const double *zf, cg_u32 seed, cg_u32 stream,
                                 const cg_u64 *entity, const cg_u32 *index, const cg_u32 *sub, double *z,
                                 cg_u32 *next_sub, long n)
{
    for (long i = 0; i < n; ++i) {
        cg_u32 s = sub[i];
        z[i] = cg_normal_zig(zx, zf, seed, stream, entity[i], index[i], &s);
        next_sub[i] = s;
    }
}

/* cg_zig_x, cg_zig_fast and cg_normal_zig_first for words x[i], layers layer[i], keys (entity[i], index[i]). */
extern "C" void draws_zig_first(const double *zx, const double *zf, cg_u32 seed, cg_u32 stream, const cg_u32 *x,
                                const int *layer, const cg_u64 *entity, const cg_u32 *index, double *zig_x,
                                double *fast, double *first, long n)
{
    for (long i = 0; i < n; ++i) {
        zig_x[i] = cg_zig_x(zx, x[i], layer[i]);
        fast[i] = cg_zig_fast(zx, x[i], layer[i]);
        first[i] = cg_normal_zig_first(zx, zf, x[i], layer[i], seed, stream, entity[i], index[i]);
    }
}

/* cg_zig_attempt for words x[i], layer[i], x2[i], x3[i]: ok[i], z[i]. */
extern "C" void draws_zig_attempt(const double *zx, const double *zf, const cg_u32 *x, const int *layer,
                                  const cg_u32 *x2, const cg_u32 *x3, int *ok, double *z, long n)
{
    for (long i = 0; i < n; ++i) ok[i] = cg_zig_attempt(zx, zf, x[i], layer[i], x2[i], x3[i], &z[i]);
}

/* cg_zig_layer(w0[i], w1[i]). */
extern "C" void draws_zig_layer(const cg_u32 *w0, const cg_u32 *w1, int *out, long n)
{
    for (long i = 0; i < n; ++i) out[i] = cg_zig_layer(w0[i], w1[i]);
}

/* cg_draw(row, ...) for each (entity[i], index[i]). */
extern "C" void draws_draw(const double *row, const double *zx, const double *zf, cg_u32 seed, cg_u32 stream,
                           const cg_u64 *entity, const cg_u32 *index, double *out, long n)
{
    for (long i = 0; i < n; ++i) out[i] = cg_draw(row, zx, zf, seed, stream, entity[i], index[i]);
}

/* cg_shared_block_weight(row, z_fast[i], w0[i], w1[i], w3[i], ..., entity[i], j[i]). */
extern "C" void draws_shared_block_weight(const double *row, const double *z_fast, const cg_u32 *w0,
                                          const cg_u32 *w1, const cg_u32 *w3, const double *zx, const double *zf,
                                          cg_u32 seed, cg_u32 stream, const cg_u64 *entity, const cg_u32 *j,
                                          double *out, long n)
{
    for (long i = 0; i < n; ++i)
        out[i] = cg_shared_block_weight(row, z_fast[i], w0[i], w1[i], w3[i], zx, zf, seed, stream, entity[i], j[i]);
}
