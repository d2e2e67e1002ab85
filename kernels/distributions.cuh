/*
 * kernels/distributions.cuh -- the 256-layer ziggurat normal sampler and the
 * parameter distributions (weights, delays, initial states) for the CUDA
 * kernels of cortex_gpu.
 *
 * This header mirrors, bit for bit:
 *   cortex_gpu/philox.py         _zig_x, _zig_attempt, normal_zig, zig_fast,
 *                                normal_zig_first
 *   cortex_gpu/distributions.py  draw (rows (kind, a, b, low, high))
 *   cortex_gpu/connect.py        zig_layer, shared_block_weight
 * The invariant it keeps:
 *
 *     the same key (seed, stream, entity, index[, sub]) and the same row give
 *     the same bits on CPU (numba) and GPU (CUDA), for every function here.
 *
 * It keeps it as kernels/philox.cuh does (read that header's comment): every
 * double operation goes through cg_dadd / cg_dsub / cg_dmul / cg_ddiv (never
 * contracted into FMAs on the device; the host build needs -ffp-contract=off),
 * log and exp are cg_plog / cg_pexp, the evaluation order is that of the
 * Python source expression by expression, and the constants below are the
 * Python values (tests/test_distribution_twins.py compares them).
 *
 * The ziggurat tables are not compiled in: zx and zf are philox._ZIG_X and
 * philox._ZIG_F (257 doubles each, computed on the host once), passed by
 * pointer. The ziggurat's r is zx[1] (philox._ZIG_R).
 *
 * Samplers advance *sub by the blocks they consume (Python returns
 * (value, next_sub)). NaN is the quiet NaN 0x7ff8000000000000 (np.nan).
 *
 * NVRTC-compatible: no standard headers are needed when __CUDACC_RTC__.
 */
#ifndef CORTEX_GPU_DISTRIBUTIONS_CUH
#define CORTEX_GPU_DISTRIBUTIONS_CUH

#include "philox.cuh"

/* Same values as in Python (tests compare them). */
#define CG_TWO_M31 0x1.0p-31                /* philox._TWO_M31 */
#define CG_ZIG_TABLE_SIZE 257               /* len(philox._ZIG_X) == len(philox._ZIG_F) */
#define CG_KIND_CONST 0                     /* distributions.KIND_CONST */
#define CG_KIND_NORMAL 1                    /* distributions.KIND_NORMAL */
#define CG_KIND_UNIFORM 2                   /* distributions.KIND_UNIFORM */
#define CG_KIND_LOGNORMAL 3                 /* distributions.KIND_LOGNORMAL (connect.KIND_LOGNORMAL_ROW) */
#define CG_MAX_REDRAWS 1000                 /* distributions.MAX_REDRAWS */
#define CG_REDRAW_INDEX_OFFSET 0x80000000u  /* connect.REDRAW_INDEX_OFFSET = 2**31 */

/* np.nan */
CG_FN double cg__nan_f64(void) { return cg_bits_f64((cg_i64)0x7FF8000000000000ULL); }

/* ---- ziggurat ---------------------------------------------------------------- */
/* Abscissa of an attempt: the word as int32, in units of 2^-31 layer widths (philox._zig_x). */
CG_FN double cg_zig_x(const double *zx, cg_u32 x_val, int layer)
{
    cg_i64 j = (cg_i64)x_val;
    j -= (j >> 31) << 32;
    return cg_dmul(cg_dmul((double)j, CG_TWO_M31), zx[layer]);
}

/* One attempt from abscissa word x_val, layer and uniform words x2, x3 (philox._zig_attempt):
 * returns whether it is accepted; *z the value (0.0 for a rejected tail attempt). */
CG_FN int cg_zig_attempt(const double *zx, const double *zf, cg_u32 x_val, int layer, cg_u32 x2, cg_u32 x3,
                         double *z)
{
    const double zz = cg_zig_x(zx, x_val, layer);
    if (fabs(zz) < zx[layer + 1]) { *z = zz; return 1; }
    const double u2 = cg_dmul(cg_dadd((double)x2, 0.5), CG_TWO_M32);
    const double u3 = cg_dmul(cg_dadd((double)x3, 0.5), CG_TWO_M32);
    if (layer == 0) { /* tail beyond r: x = -log(u2)/r accepted when -2 log(u3) > x*x */
        const double r = zx[1];
        const double t = cg_ddiv(-cg_plog(u2), r);
        if (cg_dmul(-2.0, cg_plog(u3)) > cg_dmul(t, t)) {
            *z = zz >= 0.0 ? cg_dadd(r, t) : -cg_dadd(r, t);
            return 1;
        }
        *z = 0.0;
        return 0;
    }
    const double y = cg_dadd(zf[layer], cg_dmul(u2, cg_dsub(zf[layer + 1], zf[layer])));
    *z = zz;
    return y < cg_pexp(cg_dmul(cg_dmul(-0.5, zz), zz));
}

/* N(0, 1), 256-layer ziggurat, one block per attempt (philox.normal_zig); 0.0 after
 * CG_MAX_ATTEMPTS rejections. */
CG_FN double cg_normal_zig(const double *zx, const double *zf, cg_u32 seed, cg_u32 stream, cg_u64 entity,
                           cg_u32 index, cg_u32 *sub)
{
    for (int it = 0; it < CG_MAX_ATTEMPTS; ++it) {
        const cg_u32x4 x = cg_block(seed, stream, entity, index, *sub);
        *sub += 1u;
        double z;
        if (cg_zig_attempt(zx, zf, x.x0, (int)(x.x1 & 255u), x.x2, x.x3, &z)) return z;
    }
    return 0.0;
}

/* The first attempt when it lands inside the next layer's edge (~99%), else NaN (philox.zig_fast). */
CG_FN double cg_zig_fast(const double *zx, cg_u32 x_val, int layer)
{
    const double z = cg_zig_x(zx, x_val, layer);
    return fabs(z) < zx[layer + 1] ? z : cg__nan_f64();
}

/* N(0, 1), the first attempt's abscissa word and layer given (philox.normal_zig_first): sub 0 of
 * (seed, stream, entity, index) gives the wedge/tail words, subs 1, 2, ... further attempts. */
CG_FN double cg_normal_zig_first(const double *zx, const double *zf, cg_u32 x_val, int layer, cg_u32 seed,
                                 cg_u32 stream, cg_u64 entity, cg_u32 index)
{
    double z = cg_zig_fast(zx, x_val, layer);
    if (z == z) return z;
    const cg_u32x4 x = cg_block(seed, stream, entity, index, 0u);
    if (cg_zig_attempt(zx, zf, x_val, layer, x.x2, x.x3, &z)) return z;
    cg_u32 sub = 1u;
    return cg_normal_zig(zx, zf, seed, stream, entity, index, &sub);
}

/* ---- parameter distributions ----------------------------------------------- */
/* Ziggurat layer of a synapse's weight from the spare bits of its pre block (connect.zig_layer). */
CG_FN int cg_zig_layer(cg_u32 w0, cg_u32 w1)
{
    return (int)((w0 & 63u) | ((w1 & 3u) << 6));
}

/* One value of the distribution row = (kind, a, b, low, high) for the key (entity, index)
 * (distributions.draw): kind (int)row[0]; 0 const, 2 uniform, 3 lognormal, any other normal;
 * redrawn until low <= x <= high, NaN after CG_MAX_REDRAWS draws. */
CG_FN double cg_draw(const double *row, const double *zx, const double *zf, cg_u32 seed, cg_u32 stream,
                     cg_u64 entity, cg_u32 index)
{
    const cg_i64 kind = (cg_i64)row[0];
    const double a = row[1];
    const double b = row[2];
    if (kind == CG_KIND_CONST) return a;
    cg_u32 sub = 0u;
    for (int it = 0; it < CG_MAX_REDRAWS; ++it) {
        double x;
        if (kind == CG_KIND_UNIFORM) {
            const double u = cg_uniform(seed, stream, entity, index, &sub);
            x = cg_dadd(a, cg_dmul(cg_dsub(b, a), u));
        } else {
            const double z = cg_normal_zig(zx, zf, seed, stream, entity, index, &sub);
            x = cg_dadd(a, cg_dmul(b, z));
            if (kind == CG_KIND_LOGNORMAL) x = cg_pexp(x);
        }
        if (row[3] <= x && x <= row[4]) return x;
    }
    return cg__nan_f64();
}

/* Weight of synapse j from the spare words w0, w1, w3 of its pre block (connect.shared_block_weight):
 * z_fast = cg_zig_fast(zx, w3, cg_zig_layer(w0, w1)) (NaN: the slow path); the row is treated as
 * normal unless row[0] == 3.0 (lognormal); out of bounds, cg_draw at index j + 2^31 (mod 2^32). */
CG_FN double cg_shared_block_weight(const double *row, double z_fast, cg_u32 w0, cg_u32 w1, cg_u32 w3,
                                    const double *zx, const double *zf, cg_u32 seed, cg_u32 stream,
                                    cg_u64 entity, cg_u32 j)
{
    double z = z_fast;
    if (z != z) z = cg_normal_zig_first(zx, zf, w3, cg_zig_layer(w0, w1), seed, stream, entity, j);
    double x = cg_dadd(row[1], cg_dmul(row[2], z));
    if (row[0] == (double)CG_KIND_LOGNORMAL) x = cg_pexp(x);
    if (row[3] <= x && x <= row[4]) return x;
    return cg_draw(row, zx, zf, seed, stream, entity, j + CG_REDRAW_INDEX_OFFSET);
}

#endif /* CORTEX_GPU_DISTRIBUTIONS_CUH */
