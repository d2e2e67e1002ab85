/*
 * kernels/philox_selftest.cu -- known answers of philox.cuh for CPU/GPU comparison.
 *
 * cg_selftest_fill() writes CG_SELFTEST_N 64-bit words: the Random123 KAT
 * outputs, raw blocks, and sampler / transcendental outputs (doubles as their
 * bit patterns, integers as two's complement). tests/test_philox.py holds the
 * numba mirror of this list (selftest_reference()) and compares word by word.
 * Invariant checked with it: philox.cuh gives the same bits on every device and
 * host compiler as cortex_gpu/philox.py does under numba.
 *
 *   GPU:  nvcc -arch=sm_90 -c kernels/philox_selftest.cu (or NVRTC), launch
 *         cg_philox_selftest<<<1, 1>>>(out) with out = CG_SELFTEST_N uint64.
 *   CPU:  g++ -x c++ -ffp-contract=off -DCG_SELFTEST_MAIN kernels/philox_selftest.cu
 *         prints the words, one decimal number per line.
 */
#include "philox.cuh"

#define CG_SELFTEST_N 228

CG_FN int cg_selftest_fill(cg_u64 *out)
{
    int o = 0;
    /* 1. Random123 KAT vectors (12 words) */
    cg_u32x4 x = cg_philox4x32(0u, 0u, 0u, 0u, 0u, 0u);
    out[o++] = x.x0; out[o++] = x.x1; out[o++] = x.x2; out[o++] = x.x3;
    x = cg_philox4x32(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu);
    out[o++] = x.x0; out[o++] = x.x1; out[o++] = x.x2; out[o++] = x.x3;
    x = cg_philox4x32(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u);
    out[o++] = x.x0; out[o++] = x.x1; out[o++] = x.x2; out[o++] = x.x3;

    /* 2. keyed blocks (16 words) */
    const cg_u32 bseed[4] = {0u, 12345u, 0xffffffffu, 1u};
    const cg_u32 bstream[4] = {0u, 7u, 0xffffffffu, 2u};
    const cg_u64 bent[4] = {0ull, 0x123456789abcdef0ull, 0xffffffffffffffffull, 3ull};
    const cg_u32 bidx[4] = {0u, 42u, 0xffffffffu, 4u};
    const cg_u32 bsub[4] = {0u, 3u, 0xffffffffu, 5u};
    for (int i = 0; i < 4; ++i) {
        x = cg_block(bseed[i], bstream[i], bent[i], bidx[i], bsub[i]);
        out[o++] = x.x0; out[o++] = x.x1; out[o++] = x.x2; out[o++] = x.x3;
    }

    /* 3. uniform and uniform_int (16 words), entity = i * 1000003 + (i odd) 2^33 */
    for (int i = 0; i < 8; ++i) {
        cg_u32 sub = (cg_u32)i;
        const cg_u64 ent = (cg_u64)i * 1000003ull + ((cg_u64)(i & 1) << 33);
        out[o++] = (cg_u64)cg_f64_bits(cg_uniform(1234u, 1u, ent, (cg_u32)i, &sub));
        out[o++] = (cg_u64)cg_uniform_int(1000, 1234u, 1u, ent, (cg_u32)i, &sub);
    }

    /* 4. normal, one chained sub over 16 entities (17 words) */
    {
        cg_u32 sub = 0u;
        for (int j = 0; j < 16; ++j)
            out[o++] = (cg_u64)cg_f64_bits(cg_normal(1234u, 2u, (cg_u64)j, 7u, &sub));
        out[o++] = sub;
    }

    /* 5. poisson, 8 draws for each lam, exp(-lam) by cg_pexp (24 words) */
    {
        const double lams[3] = {0.5, 2.3, 9.5};
        for (int l = 0; l < 3; ++l) {
            const double enl = cg_pexp(-lams[l]);
            for (int j = 0; j < 8; ++j) {
                cg_u32 sub = 0u;
                out[o++] = (cg_u64)cg_poisson(lams[l], enl, 99u, 3u, (cg_u64)j, (cg_u32)l, &sub);
            }
        }
    }

    /* 6. binomial, 10 cases x 6 chained draws + final sub (70 words) */
    {
        const cg_i64 bn[10] = {20, 1000, 10000000, 50, 1099511627776LL, 9007199254740992LL, 5, 5, 0, 1000};
        const double bp[10] = {0.3, 0.4, 0.01, 0.9, 0.25, 0.5, 0.0, 1.0, 0.5, 0.999};
        for (int c = 0; c < 10; ++c) {
            cg_u32 sub = 0u;
            for (int j = 0; j < 6; ++j)
                out[o++] = (cg_u64)cg_binomial(bn[c], bp[c], 5u, 9u, (cg_u64)(c * 100 + j), 11u, &sub);
            out[o++] = sub;
        }
    }

    /* 7. transcendentals (33 words) */
    {
        const double lx[10] = {1e-310, 1e-300, 0.1, 0.5, 0x1.fffffffffffffp-1, 1.0, 0x1.0000000000001p+0,
                               2.0, 10.0, 1e300};
        for (int i = 0; i < 10; ++i) out[o++] = (cg_u64)cg_f64_bits(cg_plog(lx[i]));
        const double ex[10] = {-745.0, -700.0, -10.5, -1.0, -1e-10, 0.0, 1e-10, 1.0, 10.5, 700.0};
        for (int i = 0; i < 10; ++i) out[o++] = (cg_u64)cg_f64_bits(cg_pexp(ex[i]));
        const double l1[5] = {-0.5, -1e-10, 1e-10, 0.3, 5.0};
        for (int i = 0; i < 5; ++i) out[o++] = (cg_u64)cg_f64_bits(cg_plog1p(l1[i]));
        const double lf[8] = {0.0, 1.0, 5.0, 9.0, 10.0, 100.0, 1e6, 9007199254740992.0};
        for (int i = 0; i < 8; ++i) out[o++] = (cg_u64)cg_f64_bits(cg_log_factorial(lf[i]));
    }
    /* 8. draws from given words (40 words): uniform_int_words on x0, x1 of 8 blocks;
     *    table inversion of their x2, x3 (guided scan, then one branch-free step alone) */
    {
        const cg_i64 ns[4] = {1, 3, 77169, 1099511627776LL};
        const double cdf[9] = {0x1.0p-10, 0x1.8p-9, 0.125, 0.375, 0.376, 0.5, 0.75, 0.875, 1.0};
        cg_i64 guide[256];
        for (int m = 0; m < 256; ++m) {
            cg_i64 k = 0;
            while (cdf[k] < (double)m / 256.0) ++k;
            guide[m] = k;
        }
        cg_u32 w[16];
        for (int j = 0; j < 8; ++j) {
            x = cg_block(7u, 8u, (cg_u64)j, 0u, 0u);
            out[o++] = (cg_u64)cg_uniform_int_words(ns[j & 3], x.x0, x.x1);
            w[2 * j] = x.x2;
            w[2 * j + 1] = x.x3;
        }
        for (int i = 0; i < 16; ++i) out[o++] = (cg_u64)cg_invert_cdf_u32(cdf, guide, w[i]);
        for (int i = 0; i < 16; ++i) out[o++] = (cg_u64)cg_invert_cdf_u32_start(cdf, guide, w[i], 1);
    }
    return o; /* == CG_SELFTEST_N */
}

#if defined(__CUDACC__)
extern "C" __global__ void cg_philox_selftest(unsigned long long *out)
{
    if (blockIdx.x == 0 && threadIdx.x == 0) cg_selftest_fill(out);
}
#elif defined(CG_SELFTEST_MAIN)
#include <stdio.h>
int main(void)
{
    cg_u64 out[CG_SELFTEST_N + 8];
    const int n = cg_selftest_fill(out);
    if (n != CG_SELFTEST_N) { fprintf(stderr, "wrote %d words, expected %d\n", n, CG_SELFTEST_N); return 1; }
    for (int i = 0; i < n; ++i) printf("%llu\n", out[i]);
    return 0;
}
#endif
