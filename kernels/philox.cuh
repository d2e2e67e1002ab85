/*
 * kernels/philox.cuh -- counter-based random numbers (Philox-4x32-10) and
 * samplers for the CUDA kernels of cortex_gpu.
 *
 * This header mirrors cortex_gpu/philox.py bit for bit. The invariant it keeps:
 *
 *     the same (seed, stream, entity, index, sub) gives the same bits on CPU
 *     (numba) and GPU (CUDA), for the raw block and for every sampler.
 *
 * Key layout of one block: Philox counter = (sub, index, entity & 0xffffffff,
 * entity >> 32), Philox key = (seed, stream); all words modulo 2^32.
 *
 * How bit-identity is kept:
 *  - only IEEE operations that are correctly rounded on both sides are used
 *    (+ - * / sqrt, floor, fabs, exact int<->double conversions); log, exp
 *    and pow are the project's own cg_plog / cg_pexp / cg_ppow (kernels/stdp.cuh
 *    uses the last two), not libm's or CUDA's;
 *  - on the device every operation goes through __dadd_rn / __dsub_rn /
 *    __dmul_rn / __ddiv_rn / __dsqrt_rn, which are never contracted into FMAs,
 *    so the header is correct whatever the flags (--fmad=true included);
 *  - evaluation order is the same as in philox.py, expression by expression;
 *  - constants are the same hex-float literals as in philox.py (a test
 *    compares them).
 * The functions are __host__ __device__; the host path uses plain operators
 * and must be compiled without FP contraction (g++ -ffp-contract=off), which
 * the tests do to compare this header against numba on a CPU.
 *
 * Samplers take (seed, stream, entity, index, &sub) and advance sub by the
 * number of blocks consumed (philox.py returns (value, next_sub) instead).
 * Poisson: lam < CG_POISSON_INVERSION_MAX only, exp_neg_lam = exp(-lam)
 * computed once on the host and passed in; split larger means on the host
 * (philox.poisson_split).
 *
 * NVRTC-compatible: no standard headers are needed when __CUDACC_RTC__.
 */
#ifndef CORTEX_GPU_PHILOX_CUH
#define CORTEX_GPU_PHILOX_CUH

#if !defined(__CUDACC_RTC__)
#include <math.h>
#include <string.h>
#endif

#if defined(__CUDACC__)
#define CG_FN __host__ __device__ __forceinline__
#else
#define CG_FN static inline
#endif

typedef unsigned int cg_u32;
typedef unsigned long long cg_u64;
typedef long long cg_i64;

typedef struct { cg_u32 x0, x1, x2, x3; } cg_u32x4;

#define CG_PHILOX_M0 0xD2511F53u
#define CG_PHILOX_M1 0xCD9E8D57u
#define CG_PHILOX_W0 0x9E3779B9u
#define CG_PHILOX_W1 0xBB67AE85u

#define CG_POISSON_INVERSION_MAX 10.0
#define CG_BINOMIAL_INVERSION_MAX 10.0
#define CG_MAX_ATTEMPTS 1000

/* Same literals as cortex_gpu/philox.py (_NAME <-> CG_NAME). */
#define CG_LN2_HI 0x1.62e4200000000p-1
#define CG_LN2_LO 0x1.fdf473de6af28p-22
#define CG_INV_LN2 0x1.71547652b82fep+0
#define CG_SQRT2 0x1.6a09e667f3bcdp+0
#define CG_HALF_LOG_2PI 0x1.d67f1c864beb5p-1
#define CG_TWO_M52 0x1.0p-52
#define CG_TWO_M32 0x1.0p-32
#define CG_TWO_54 0x1.0p+54
#define CG_TWO_M54 0x1.0p-54
#define CG_MIN_NORMAL 0x1.0p-1022
#define CG_SPLIT 0x1.0000002p+27 /* 2^27 + 1, Veltkamp's splitter */
#define CG_LG1 0x1.5555555555555p-1
#define CG_LG2 0x1.999999999999ap-2
#define CG_LG3 0x1.2492492492492p-2
#define CG_LG4 0x1.c71c71c71c71cp-3
#define CG_LG5 0x1.745d1745d1746p-3
#define CG_LG6 0x1.3b13b13b13b14p-3
#define CG_LG7 0x1.1111111111111p-3
#define CG_LG8 0x1.e1e1e1e1e1e1ep-4
#define CG_LG9 0x1.af286bca1af28p-4
#define CG_LG10 0x1.8618618618618p-4
#define CG_EX2 0x1.0000000000000p-1
#define CG_EX3 0x1.5555555555555p-3
#define CG_EX4 0x1.5555555555555p-5
#define CG_EX5 0x1.1111111111111p-7
#define CG_EX6 0x1.6c16c16c16c17p-10
#define CG_EX7 0x1.a01a01a01a01ap-13
#define CG_EX8 0x1.a01a01a01a01ap-16
#define CG_EX9 0x1.71de3a556c734p-19
#define CG_EX10 0x1.27e4fb7789f5cp-22
#define CG_EX11 0x1.ae64567f544e4p-26
#define CG_EX12 0x1.1eed8eff8d898p-29
#define CG_EX13 0x1.6124613a86d09p-33
#define CG_ST1 0x1.5555555555555p-4
#define CG_ST2 -0x1.6c16c16c16c17p-9
#define CG_ST3 0x1.a01a01a01a01ap-11
#define CG_ST4 -0x1.3813813813814p-11
#define CG_ST5 0x1.b951e2b18ff23p-11
#define CG_ST6 -0x1.f6ab0d9993c7dp-10
#define CG_ST7 0x1.a41a41a41a41ap-8
#define CG_SC1 0x1.4c071bcda0a5bp-4
#define CG_SC2 0x1.52a9b923ea649p-5
#define CG_SC3 0x1.c579a268d80b3p-6
#define CG_SC4 0x1.54a2662fd78a9p-6
#define CG_SC5 0x1.10b4e513fcbedp-6
#define CG_SC6 0x1.c6b167bebdf36p-7
#define CG_SC7 0x1.85d4d612e4a86p-7
#define CG_SC8 0x1.552805e7b3076p-7
#define CG_SC9 0x1.2f4871b12ab64p-7

/* ---- correctly rounded basic operations, never contracted ---------------- */
#if defined(__CUDA_ARCH__)
CG_FN double cg_dadd(double a, double b) { return __dadd_rn(a, b); }
CG_FN double cg_dsub(double a, double b) { return __dsub_rn(a, b); }
CG_FN double cg_dmul(double a, double b) { return __dmul_rn(a, b); }
CG_FN double cg_ddiv(double a, double b) { return __ddiv_rn(a, b); }
CG_FN double cg_dsqrt(double a) { return __dsqrt_rn(a); }
CG_FN cg_i64 cg_f64_bits(double x) { return __double_as_longlong(x); }
CG_FN double cg_bits_f64(cg_i64 b) { return __longlong_as_double(b); }
#else
CG_FN double cg_dadd(double a, double b) { return a + b; }
CG_FN double cg_dsub(double a, double b) { return a - b; }
CG_FN double cg_dmul(double a, double b) { return a * b; }
CG_FN double cg_ddiv(double a, double b) { return a / b; }
CG_FN double cg_dsqrt(double a) { return sqrt(a); }
CG_FN cg_i64 cg_f64_bits(double x) { cg_i64 b; memcpy(&b, &x, sizeof b); return b; }
CG_FN double cg_bits_f64(cg_i64 b) { double x; memcpy(&x, &b, sizeof x); return x; }
#endif

/* ---- Philox ----------------------------------------------------------------- */
/* Philox-4x32-10 (Salmon et al. 2011), exact; Random123 KAT vectors hold. */
CG_FN cg_u32x4 cg_philox4x32(cg_u32 c0, cg_u32 c1, cg_u32 c2, cg_u32 c3, cg_u32 k0, cg_u32 k1)
{
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
    for (int r = 0; r < 10; ++r) {
        if (r > 0) { k0 += CG_PHILOX_W0; k1 += CG_PHILOX_W1; }
        const cg_u64 p0 = (cg_u64)CG_PHILOX_M0 * c0;
        const cg_u64 p1 = (cg_u64)CG_PHILOX_M1 * c2;
        const cg_u32 n0 = (cg_u32)(p1 >> 32) ^ c1 ^ k0;
        const cg_u32 n2 = (cg_u32)(p0 >> 32) ^ c3 ^ k1;
        c1 = (cg_u32)p1;
        c3 = (cg_u32)p0;
        c0 = n0;
        c2 = n2;
    }
    cg_u32x4 out = {c0, c1, c2, c3};
    return out;
}

/* Block for counter (sub, index, entity lo, entity hi), key (seed, stream). */
CG_FN cg_u32x4 cg_block(cg_u32 seed, cg_u32 stream, cg_u64 entity, cg_u32 index, cg_u32 sub)
{
    return cg_philox4x32(sub, index, (cg_u32)entity, (cg_u32)(entity >> 32), seed, stream);
}

/* (m + 0.5) * 2^-52, m = (a >> 6) << 26 | (b >> 6): exact, in (0, 1). */
CG_FN double cg__u52(cg_u32 a, cg_u32 b)
{
    const cg_u64 m = ((cg_u64)(a >> 6) << 26) | (cg_u64)(b >> 6);
    return cg_dmul(cg_dadd((double)m, 0.5), CG_TWO_M52);
}

/* ---- portable transcendentals --------------------------------------------- */
/* (k, tail) with log(x) = k * ln2_hi - tail for a finite x > 0; k * ln2_hi is
 * exact (philox._plog_parts). Returns tail, *dk = k. */
CG_FN double cg__plog_parts(double x, double *dk)
{
    cg_i64 e = 0;
    if (x < CG_MIN_NORMAL) { x = cg_dmul(x, CG_TWO_54); e = -54; }
    const cg_i64 bits = cg_f64_bits(x);
    e += ((bits >> 52) & 0x7FF) - 1023;
    double m = cg_bits_f64((bits & 0x000FFFFFFFFFFFFFLL) | 0x3FF0000000000000LL);
    if (m > CG_SQRT2) { m = cg_dmul(m, 0.5); e += 1; }
    const double f = cg_dsub(m, 1.0);
    const double s = cg_ddiv(f, cg_dadd(2.0, f));
    const double z = cg_dmul(s, s);
    double t = cg_dadd(CG_LG9, cg_dmul(z, CG_LG10));
    t = cg_dadd(CG_LG8, cg_dmul(z, t));
    t = cg_dadd(CG_LG7, cg_dmul(z, t));
    t = cg_dadd(CG_LG6, cg_dmul(z, t));
    t = cg_dadd(CG_LG5, cg_dmul(z, t));
    t = cg_dadd(CG_LG4, cg_dmul(z, t));
    t = cg_dadd(CG_LG3, cg_dmul(z, t));
    t = cg_dadd(CG_LG2, cg_dmul(z, t));
    t = cg_dadd(CG_LG1, cg_dmul(z, t));
    const double r = cg_dmul(z, t);
    const double hfsq = cg_dmul(cg_dmul(0.5, f), f);
    *dk = (double)e;
    return cg_dsub(cg_dsub(hfsq, cg_dadd(cg_dmul(s, cg_dadd(hfsq, r)), cg_dmul(*dk, CG_LN2_LO))), f);
}

CG_FN double cg_plog(double x)
{
    if (!(x > 0.0)) return x == 0.0 ? cg_bits_f64((cg_i64)0xFFF0000000000000ULL)
                                    : cg_bits_f64((cg_i64)0x7FF8000000000000ULL);
    if (x == cg_bits_f64((cg_i64)0x7FF0000000000000ULL)) return x;
    double dk;
    const double tail = cg__plog_parts(x, &dk);
    return cg_dsub(cg_dmul(dk, CG_LN2_HI), tail);
}

CG_FN double cg_plog1p(double x)
{
    const double u = cg_dadd(1.0, x);
    if (u == 1.0) return x;
    return cg_dadd(cg_plog(u), cg_ddiv(cg_dsub(x, cg_dsub(u, 1.0)), u));
}

CG_FN double cg_pexp(double y)
{
    if (y != y) return y;
    if (y > 709.782712893384) return cg_bits_f64((cg_i64)0x7FF0000000000000ULL);
    if (y < -745.2) return 0.0;
    const double k = floor(cg_dadd(cg_dmul(y, CG_INV_LN2), 0.5));
    const double r = cg_dsub(cg_dsub(y, cg_dmul(k, CG_LN2_HI)), cg_dmul(k, CG_LN2_LO));
    double t = cg_dadd(CG_EX12, cg_dmul(r, CG_EX13));
    t = cg_dadd(CG_EX11, cg_dmul(r, t));
    t = cg_dadd(CG_EX10, cg_dmul(r, t));
    t = cg_dadd(CG_EX9, cg_dmul(r, t));
    t = cg_dadd(CG_EX8, cg_dmul(r, t));
    t = cg_dadd(CG_EX7, cg_dmul(r, t));
    t = cg_dadd(CG_EX6, cg_dmul(r, t));
    t = cg_dadd(CG_EX5, cg_dmul(r, t));
    t = cg_dadd(CG_EX4, cg_dmul(r, t));
    t = cg_dadd(CG_EX3, cg_dmul(r, t));
    t = cg_dadd(CG_EX2, cg_dmul(r, t));
    t = cg_dadd(1.0, cg_dmul(r, t));
    const double p = cg_dadd(1.0, cg_dmul(r, t));
    const cg_i64 ki = (cg_i64)k;
    if (ki < -1020) return cg_dmul(cg_dmul(p, cg_bits_f64((ki + 54 + 1023) << 52)), CG_TWO_M54);
    if (ki > 1023) return cg_dmul(cg_dmul(p, 2.0), cg_bits_f64((ki - 1 + 1023) << 52));
    return cg_dmul(p, cg_bits_f64((ki + 1023) << 52));
}

/* a * b = *p + *err exactly, *p the rounded product (Dekker, no FMA; philox._two_prod). */
CG_FN void cg__two_prod(double a, double b, double *p, double *err)
{
    *p = cg_dmul(a, b);
    double c = cg_dmul(CG_SPLIT, a);
    const double a_hi = cg_dsub(c, cg_dsub(c, a));
    const double a_lo = cg_dsub(a, a_hi);
    c = cg_dmul(CG_SPLIT, b);
    const double b_hi = cg_dsub(c, cg_dsub(c, b));
    const double b_lo = cg_dsub(b, b_hi);
    *err = cg_dadd(cg_dadd(cg_dadd(cg_dsub(cg_dmul(a_hi, b_hi), *p), cg_dmul(a_hi, b_lo)), cg_dmul(a_lo, b_hi)),
                   cg_dmul(a_lo, b_lo));
}

/* x ** y for x >= 0 (philox.ppow): exp(y log x) with y log x in two doubles, about 2 ulp. */
CG_FN double cg_ppow(double x, double y)
{
    const double inf = cg_bits_f64((cg_i64)0x7FF0000000000000ULL);
    if (!(x > 0.0)) {
        if (x == 0.0) return y > 0.0 ? 0.0 : (y == 0.0 ? 1.0 : inf);
        return cg_bits_f64((cg_i64)0x7FF8000000000000ULL);
    }
    if (x == inf) return y > 0.0 ? inf : (y == 0.0 ? 1.0 : 0.0);
    double dk, p_hi, p_lo;
    const double tail = cg__plog_parts(x, &dk);
    cg__two_prod(y, cg_dmul(dk, CG_LN2_HI), &p_hi, &p_lo);
    const double q = cg_dmul(y, tail);
    const double z = cg_dsub(p_hi, q);
    const double zz = cg_dsub(z, p_hi);
    const double z_err = cg_dsub(cg_dsub(p_hi, cg_dsub(z, zz)), cg_dadd(q, zz));
    const double e = cg_pexp(z);
    return cg_dadd(e, cg_dmul(e, cg_dadd(z_err, p_lo)));
}

/* ---- samplers --------------------------------------------------------------- */
CG_FN double cg_uniform(cg_u32 seed, cg_u32 stream, cg_u64 entity, cg_u32 index, cg_u32 *sub)
{
    const cg_u32x4 x = cg_block(seed, stream, entity, index, *sub);
    *sub += 1u;
    return cg__u52(x.x0, x.x1);
}

/* Integer in [0, n), 1 <= n < 2^32. */
CG_FN cg_i64 cg_uniform_int(cg_i64 n, cg_u32 seed, cg_u32 stream, cg_u64 entity, cg_u32 index,
                            cg_u32 *sub)
{
    const double u = cg_uniform(seed, stream, entity, index, sub);
    cg_i64 k = (cg_i64)cg_dmul(u, (double)n);
    return k >= n ? n - 1 : k;
}

/* N(0, 1), Marsaglia polar method, one block per attempt. */
CG_FN double cg_normal(cg_u32 seed, cg_u32 stream, cg_u64 entity, cg_u32 index, cg_u32 *sub)
{
    for (int it = 0; it < CG_MAX_ATTEMPTS; ++it) {
        const cg_u32x4 x = cg_block(seed, stream, entity, index, *sub);
        *sub += 1u;
        const double v1 = cg_dsub(cg_dmul(2.0, cg__u52(x.x0, x.x1)), 1.0);
        const double v2 = cg_dsub(cg_dmul(2.0, cg__u52(x.x2, x.x3)), 1.0);
        const double s = cg_dadd(cg_dmul(v1, v1), cg_dmul(v2, v2));
        if (s < 1.0) return cg_dmul(v1, cg_dsqrt(cg_ddiv(cg_dmul(-2.0, cg_plog(s)), s)));
    }
    return 0.0;
}

/* Poisson(lam), lam < CG_POISSON_INVERSION_MAX, by inversion; exp_neg_lam = exp(-lam). */
CG_FN cg_i64 cg_poisson(double lam, double exp_neg_lam, cg_u32 seed, cg_u32 stream, cg_u64 entity,
                        cg_u32 index, cg_u32 *sub)
{
    const double u = cg_uniform(seed, stream, entity, index, sub);
    double pk = exp_neg_lam;
    double f = pk;
    cg_i64 k = 0;
    while (u > f && k < CG_MAX_ATTEMPTS) {
        k += 1;
        pk = cg_dmul(pk, cg_ddiv(lam, (double)k));
        f = cg_dadd(f, pk);
    }
    return k;
}

/* sc(k) = log k! - (k + 1/2) log k + k - log(2 pi)/2, integer k >= 1. */
CG_FN double cg__stirling_corr(double k)
{
    if (k < 10.0) {
        switch ((int)k) {
        case 1: return CG_SC1; case 2: return CG_SC2; case 3: return CG_SC3;
        case 4: return CG_SC4; case 5: return CG_SC5; case 6: return CG_SC6;
        case 7: return CG_SC7; case 8: return CG_SC8; case 9: return CG_SC9;
        default: return 0.0;
        }
    }
    const double r = cg_ddiv(1.0, k);
    const double r2 = cg_dmul(r, r);
    double t = cg_dadd(CG_ST6, cg_dmul(r2, CG_ST7));
    t = cg_dadd(CG_ST5, cg_dmul(r2, t));
    t = cg_dadd(CG_ST4, cg_dmul(r2, t));
    t = cg_dadd(CG_ST3, cg_dmul(r2, t));
    t = cg_dadd(CG_ST2, cg_dmul(r2, t));
    t = cg_dadd(CG_ST1, cg_dmul(r2, t));
    return cg_dmul(r, t);
}

/* log(k!) for integer-valued k >= 0. */
CG_FN double cg_log_factorial(double k)
{
    if (k < 1.0) return 0.0;
    return cg_dadd(cg_dsub(cg_dmul(cg_dadd(k, 0.5), cg_plog(k)), k),
                   cg_dadd(CG_HALF_LOG_2PI, cg__stirling_corr(k)));
}

/* log(f(k)/f(m)) for the Binomial pmf f; lr = log((n-m)p/(mq)), lpq = log(p/q). */
CG_FN double cg__btrs_log_ratio(double k, double m, double nd, double lr, double lpq)
{
    const double nk = cg_dsub(nd, k);
    const double nm = cg_dsub(nd, m);
    const double d = cg_dsub(k, m);
    if (k == 0.0 || nk == 0.0)
        return cg_dadd(cg_dsub(cg_dadd(cg_log_factorial(m), cg_log_factorial(nm)),
                               cg_dadd(cg_log_factorial(k), cg_log_factorial(nk))),
                       cg_dmul(d, lpq));
    const double t = cg_dsub(cg_dsub(cg_dmul(d, lr), cg_dmul(cg_dadd(k, 0.5), cg_plog1p(cg_ddiv(d, m)))),
                             cg_dmul(cg_dadd(nk, 0.5), cg_plog1p(cg_ddiv(-d, nm))));
    return cg_dadd(t, cg_dadd(cg_dsub(cg__stirling_corr(m), cg__stirling_corr(k)),
                              cg_dsub(cg__stirling_corr(nm), cg__stirling_corr(nk))));
}

/* Binomial(n, p) for 0 < p <= 1/2, n >= 1: inversion or BTRS (Hoermann 1993). */
CG_FN cg_i64 cg__binomial_low(cg_i64 n, double p, cg_u32 seed, cg_u32 stream, cg_u64 entity,
                              cg_u32 index, cg_u32 *sub)
{
    const double nd = (double)n;
    const double q = cg_dsub(1.0, p);
    if (cg_dmul(nd, p) < CG_BINOMIAL_INVERSION_MAX) {
        const double u = cg_uniform(seed, stream, entity, index, sub);
        double pk = cg_pexp(cg_dmul(nd, cg_plog1p(-p)));
        const double r = cg_ddiv(p, q);
        double f = pk;
        double kd = 0.0;
        while (u > f) {
            if (kd >= nd || kd >= (double)CG_MAX_ATTEMPTS || pk == 0.0) break;
            pk = cg_dmul(pk, cg_dmul(cg_ddiv(cg_dsub(nd, kd), cg_dadd(kd, 1.0)), r));
            kd = cg_dadd(kd, 1.0);
            f = cg_dadd(f, pk);
        }
        return (cg_i64)kd;
    }
    const double spq = cg_dsqrt(cg_dmul(cg_dmul(nd, p), q));
    const double b = cg_dadd(1.15, cg_dmul(2.53, spq));
    const double a = cg_dadd(cg_dadd(-0.0873, cg_dmul(0.0248, b)), cg_dmul(0.01, p));
    const double c = cg_dadd(cg_dmul(nd, p), 0.5);
    const double vr = cg_dsub(0.92, cg_ddiv(4.2, b));
    const double alpha = cg_dmul(cg_dadd(2.83, cg_ddiv(5.1, b)), spq);
    const double m = floor(cg_dmul(cg_dadd(nd, 1.0), p));
    const double lpq = cg_plog(cg_ddiv(p, q));
    const double lr = cg_plog(cg_ddiv(cg_dmul(cg_dsub(nd, m), p), cg_dmul(m, q)));
    for (int it = 0; it < CG_MAX_ATTEMPTS; ++it) {
        const cg_u32x4 x = cg_block(seed, stream, entity, index, *sub);
        *sub += 1u;
        const double u = cg_dsub(cg__u52(x.x0, x.x1), 0.5);
        const double v = cg__u52(x.x2, x.x3);
        const double us = cg_dsub(0.5, fabs(u));
        const double kd = floor(cg_dadd(cg_dmul(cg_dadd(cg_ddiv(cg_dmul(2.0, a), us), b), u), c));
        if (kd < 0.0 || kd > nd) continue;
        if (us >= 0.07 && v <= vr) return (cg_i64)kd;
        const double lv = cg_plog(cg_ddiv(cg_dmul(v, alpha), cg_dadd(cg_ddiv(a, cg_dmul(us, us)), b)));
        if (lv <= cg__btrs_log_ratio(kd, m, nd, lr, lpq)) return (cg_i64)kd;
    }
    return (cg_i64)m;
}

/* Binomial(n, p), 0 <= n <= 2^53, 0 <= p <= 1; n <= 0, p <= 0, p >= 1 consume no block. */
CG_FN cg_i64 cg_binomial(cg_i64 n, double p, cg_u32 seed, cg_u32 stream, cg_u64 entity, cg_u32 index,
                         cg_u32 *sub)
{
    if (n <= 0 || !(p > 0.0)) return 0;
    if (p >= 1.0) return n;
    if (p > 0.5) return n - cg__binomial_low(n, cg_dsub(1.0, p), seed, stream, entity, index, sub);
    return cg__binomial_low(n, p, seed, stream, entity, index, sub);
}

/* ---- draws from given words and host-made tables ---------------------------- */
/* The integer of cg_uniform_int from a block's words x0, x1 (philox.uniform_int_words). */
CG_FN cg_i64 cg_uniform_int_words(cg_i64 n, cg_u32 x0, cg_u32 x1)
{
    cg_i64 k = (cg_i64)cg_dmul(cg__u52(x0, x1), (double)n);
    return k >= n ? n - 1 : k;
}

/* Walk from k to the smallest k with u <= cdf[k], u = (x + 0.5) 2^-32 (philox.invert_cdf_u32_finish). */
CG_FN cg_i64 cg_invert_cdf_u32_finish(const double *cdf, cg_u32 x, cg_i64 k)
{
    const double u = cg_dmul(cg_dadd((double)x, 0.5), CG_TWO_M32);
    while (u > cdf[k]) ++k;
    return k;
}

/* Inversion of one 32-bit word against a CDF table (last entry 1.0) with its
 * 256-entry guide table, guide[m] = smallest k with cdf[k] >= m/256
 * (philox.invert_cdf_u32; cdf and guide already offset to the table). */
CG_FN cg_i64 cg_invert_cdf_u32(const double *cdf, const cg_i64 *guide, cg_u32 x)
{
    return cg_invert_cdf_u32_finish(cdf, x, guide[x >> 24]);
}

/* The guided search in a fixed number of branch-free steps (philox.invert_cdf_u32_start):
 * a warp stays converged; cg_invert_cdf_u32_finish completes the rare unfinished draws. */
CG_FN cg_i64 cg_invert_cdf_u32_start(const double *cdf, const cg_i64 *guide, cg_u32 x, int steps)
{
    const double u = cg_dmul(cg_dadd((double)x, 0.5), CG_TWO_M32);
    cg_i64 a = guide[x >> 24];
    for (int s = 0; s < steps; ++s) a += (u > cdf[a]) ? 1 : 0;
    return a;
}

#endif /* CORTEX_GPU_PHILOX_CUH */
