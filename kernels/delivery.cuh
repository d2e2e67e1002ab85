/*
 * kernels/delivery.cuh -- device-independent pieces of spike delivery, shared by
 * kernels/deliver.cu (one warp per post block) and the host harness of
 * tests/test_kernels_host.py, which runs them on the CPU against the numba
 * kernels of cortex_gpu/backends/cpu.py.
 *
 * Layout (cortex_gpu/layout.py): synapses grouped by segment g = section * n_pre
 * + pre, each segment sorted by delay then post; seg_off[g] is a segment's first
 * synapse; delay_off[g * (D - m) + (d - m - 1)] is where its run of delay d
 * (m < d <= D) starts, relative to seg_off[g]; syn_post is the post index inside
 * the section (uint16), syn_weight the weight in pA (nS onto iaf_cond_exp).
 *
 * Invariant kept here: synaptic input is summed in 64-bit fixed point,
 * acc += rint(w * 2^32), exactly as cpu.deliver does: integer sums are exact,
 * so neither the order of the additions nor the split of the posts among
 * workers can change a result (I3).
 */
#ifndef CORTEX_GPU_DELIVERY_CUH
#define CORTEX_GPU_DELIVERY_CUH

#include "philox.cuh" /* CG_FN, cg_i64, cg_dmul */
#include "search.cuh"

#if !defined(__CUDACC_RTC__) && !defined(__CUDA_ARCH__)
#include <math.h>
#endif

/* One weight unit in the accumulators, 2^32 (cpu.FIXED_ONE), and its inverse. */
#define CG_FIXED_ONE 0x1.0p+32
#define CG_INV_FIXED 0x1.0p-32
/* One spike onto a parrot_neuron: -1.0 in acc_in (cpu._ONE_FX). */
#define CG_ONE_FX (1LL << 32)

typedef unsigned short cg_u16;

/* rint(w * 2^32) as int64, ties to even (numba: np.int64(np.rint(w * FIXED_ONE))). */
CG_FN cg_i64 cg_fixed(double w)
{
#if defined(__CUDA_ARCH__)
    return __double2ll_rn(cg_dmul(w, CG_FIXED_ONE));
#else
    return (cg_i64)llrint(cg_dmul(w, CG_FIXED_ONE));
#endif
}

/* First k in [lo, hi) with a[k] >= x, else hi (cpu._lower_bound). */
CG_FN cg_i64 cg_lower_bound(const cg_u16 *a, cg_i64 lo, cg_i64 hi, cg_i64 x)
{
    return cg_first_at_least(a, lo, hi, x);
}

/* [*start, *stop) of the run of delay d in segment seg (layout.run_bounds). */
template <typename DOFF>
CG_FN void cg_run_bounds(const cg_i64 *seg_off, const DOFF *delay_off, cg_i64 seg, int d, int m, int D,
                         cg_i64 *start, cg_i64 *stop)
{
    const cg_i64 base = seg_off[seg];
    const cg_i64 w = D - m;
    *start = d == m ? base : base + (cg_i64)delay_off[seg * w + (d - m - 1)];
    *stop = d == D ? seg_off[seg + 1] : base + (cg_i64)delay_off[seg * w + (d - m)];
}

/* Synapses [*k0, *k1) of the run (section s, pre p, delay d) onto the posts
 * [lo, hi) of section s, lo and hi counted from the section's first post
 * (0 <= lo < hi <= S). The run is sorted by post, so two binary searches
 * find the block's share, as in cpu.deliver. */
template <typename DOFF>
CG_FN void cg_block_run(const cg_i64 *seg_off, const DOFF *delay_off, const cg_u16 *syn_post, cg_i64 n_pre,
                        int m, int D, int S, int s, int p, int d, int lo, int hi, cg_i64 *k0, cg_i64 *k1)
{
    if (d < m || d > D) { /* the due list spans every synapse group's delays, this layout fewer */
        *k0 = *k1 = 0;
        return;
    }
    cg_run_bounds(seg_off, delay_off, (cg_i64)s * n_pre + p, d, m, D, k0, k1);
    if (*k0 == *k1) return;
    if (lo > 0) *k0 = cg_lower_bound(syn_post, *k0, *k1, lo);
    if (hi < S) *k1 = cg_lower_bound(syn_post, *k0, *k1, hi);
}

/* Which of 32 concatenated runs holds flat position f: the last j with
 * off[j] <= f, where off[j] is the exclusive prefix of the run lengths
 * (off[0] = 0 <= f < total). Five uniform steps, so a warp stays converged;
 * runs of length 0 share their successor's offset and are never chosen. */
CG_FN int cg_find_run(const int *off, int f)
{
    int j = 0;
    for (int step = 16; step > 0; step >>= 1)
        if (off[j + step] <= f) j += step;
    return j;
}

/* The synapse at flat position f of the 32 runs (k0s[j], offsets off[j]):
 * its post inside the section and its fixed-point weight, split by sign as
 * cpu.deliver splits it (w >= 0 -> acc_ex, else acc_in). */
template <typename W>
CG_FN void cg_flat_synapse(const int *off, const cg_i64 *k0s, int f, const cg_u16 *syn_post, const W *syn_weight,
                           int *post, cg_i64 *fx_ex, cg_i64 *fx_in)
{
    const int j = cg_find_run(off, f);
    const cg_i64 k = k0s[j] + (f - off[j]);
    const double w = (double)syn_weight[k];
    const cg_i64 fx = cg_fixed(w);
    *post = (int)syn_post[k];
    *fx_ex = w >= 0.0 ? fx : 0;
    *fx_in = w >= 0.0 ? 0 : fx;
}

/* The synapse at flat position f of the 32 runs onto a parrot_neuron
 * (cpu._deliver_layout mode 1): its post, and one spike, -1.0, in acc_in. */
CG_FN void cg_flat_count(const int *off, const cg_i64 *k0s, int f, const cg_u16 *syn_post, int *post,
                         cg_i64 *fx_ex, cg_i64 *fx_in)
{
    const int j = cg_find_run(off, f);
    *post = (int)syn_post[k0s[j] + (f - off[j])];
    *fx_ex = 0;
    *fx_in = -CG_ONE_FX;
}

/* Last j in [0, n) with a[j] <= x, for a non-decreasing a with a[0] <= x: the
 * list that holds flat position x when a[j] are the lists' start offsets
 * (empty lists share their successor's offset and are never chosen). */
CG_FN int cg_last_le(const int *a, int n, cg_i64 x)
{
    int lo = 0, hi = n;
    while (hi - lo > 1) {
        const int mid = (lo + hi) >> 1;
        if (a[mid] <= x) lo = mid;
        else hi = mid;
    }
    return lo;
}

/* ((t - d) mod n) in [0, n), as Python's % gives it for a negative t - d. */
CG_FN int cg_slot(cg_i64 t, int d, int n)
{
    const cg_i64 r = (t - d) % n;
    return (int)(r < 0 ? r + n : r);
}

#endif /* CORTEX_GPU_DELIVERY_CUH */
