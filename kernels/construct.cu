/*
 * kernels/construct.cu -- the local construction on the GPU: a rank draws its
 * own posts' synapses and sorts them into the delivery layout
 * (cortex_gpu/layout.py), the same arrays as the CPU build
 * (cortex_gpu/build.py). Caller: cortex_gpu/backends/cuda_build.py.
 *
 * Per synapse group, section by section:
 *   1. draw_entries (count_only) -- synapses per entry, for their offsets;
 *   2. draw_entries -- each entry's synapses: pre gid, delay, weight, post;
 *   3. synapse_keys -- key = (pre index * W + delay - m) << pos_bits | position;
 *   4. the keys are sorted (CuPy);
 *   5. gather_sorted_* -- post indices and weights in key order;
 *   6. segment_tables_* -- each pre's segment length and delay-run offsets.
 *
 * Invariants:
 *  - ownership: one thread per entry writes only that entry's synapses, at
 *    the entry's offset (a prefix sum of the counts); every other kernel has
 *    one writer per output element; no atomics, so no order of threads shows;
 *  - ordering: synapses are drawn in (post, projection, j) order, the order in
 *    which build._pass_fill writes them, and the key carries that position, so
 *    sorting the keys is the CPU's stable sort by (section, pre, delay): each
 *    run keeps post order and, within a post, draw order;
 *  - draws: construct.cuh, bit for bit the CPU's (same keys, same operations).
 *
 * Launch: one-dimensional, CG_CONSTRUCT_THREADS threads per block, one thread
 * per entry, synapse or pre as each kernel says.
 */
#include "construct.cuh"

#ifndef CG_CONSTRUCT_THREADS
#define CG_CONSTRUCT_THREADS 128
#endif

CG_FN cg_i64 cg_thread_index()
{
#if defined(__CUDA_ARCH__)
    return (cg_i64)blockIdx.x * blockDim.x + threadIdx.x;
#else
    return 0;
#endif
}

extern "C" __global__ void __launch_bounds__(CG_CONSTRUCT_THREADS) draw_entries(
    int count_only, cg_i64 e0, cg_i64 e1, const cg_i64 *entry_local, const cg_i64 *entry_proj,
    const cg_i64 *entry_count, const cg_i64 *entry_aux, const cg_i64 *entry_off, const cg_i64 *local_gid,
    cg_i64 section_base, const cg_i64 *rule, const cg_i64 *pre_off, const cg_i64 *pre_flat, const double *log1m,
    const unsigned char *autapses, const unsigned char *multapses, const double *w_row, const double *d_row,
    const double *values, const cg_i64 *d_tab_lo, const cg_i64 *d_tab_g0, const cg_i64 *d_tab_k0,
    const double *d_tab, const cg_i64 *d_guide, const double *zx, const double *zf, double steps_per_ms,
    cg_u32 seed, cg_u32 key_pre, cg_u32 key_weight, cg_u32 key_delay, cg_i64 *entry_n, cg_i64 *gid, int *delay,
    double *weight, cg_u16 *post, int *err_code, cg_i64 *err_value)
{
    const cg_i64 e = e0 + cg_thread_index();
    if (e >= e1) return;
    const cg_plan P = {rule, pre_off, pre_flat, log1m, autapses, multapses, w_row, d_row, values, d_tab_lo,
                       d_tab_g0, d_tab_k0, d_tab, d_guide, zx, zf, steps_per_ms, seed, key_pre, key_weight,
                       key_delay};
    cg_draw_entry(&P, count_only, e, e0, entry_local, entry_proj, entry_count, entry_aux, entry_off, local_gid,
                  section_base, entry_n, gid, delay, weight, post, err_code, err_value);
}

extern "C" __global__ void __launch_bounds__(CG_CONSTRUCT_THREADS) synapse_keys(
    cg_i64 n, const cg_i64 *gid, const int *delay, const cg_i64 *pre_gids, cg_i64 n_pre, int m, int W,
    int pos_bits, unsigned long long *key)
{
    const cg_i64 k = cg_thread_index();
    if (k < n) key[k] = cg_synapse_key(gid, delay, pre_gids, n_pre, m, W, pos_bits, k);
}

/* Output k of the sorted section: cg_gather_sorted. */
#define CG_GATHER_KERNEL(NAME, WT)                                                                              \
    extern "C" __global__ void __launch_bounds__(CG_CONSTRUCT_THREADS) NAME(                                    \
        cg_i64 n, const unsigned long long *key, int pos_bits, const cg_u16 *post, const double *weight,        \
        cg_u16 *syn_post, WT *syn_weight)                                                                       \
    {                                                                                                           \
        const cg_i64 k = cg_thread_index();                                                                     \
        if (k < n) cg_gather_sorted<WT>(k, key, pos_bits, post, weight, syn_post, syn_weight);                 \
    }

CG_GATHER_KERNEL(gather_sorted_f32, float)
CG_GATHER_KERNEL(gather_sorted_f64, double)

#define CG_SEGMENT_KERNEL(NAME, DOFF)                                                                           \
    extern "C" __global__ void __launch_bounds__(CG_CONSTRUCT_THREADS) NAME(                                    \
        cg_i64 n_pre, cg_i64 n, const unsigned long long *key, int pos_bits, int W, cg_i64 seg0,              \
        DOFF *delay_off, cg_i64 *seg_len)                                                                       \
    {                                                                                                           \
        const cg_i64 p = cg_thread_index();                                                                     \
        if (p < n_pre) cg_segment_tables<DOFF>(p, n, key, pos_bits, W, seg0, delay_off, seg_len);             \
    }

CG_SEGMENT_KERNEL(segment_tables_u16, unsigned short)
CG_SEGMENT_KERNEL(segment_tables_u32, unsigned int)
