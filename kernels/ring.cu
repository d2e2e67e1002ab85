/*
 * kernels/ring.cu -- the ring of recent spike lists (I6): gather the entries
 * due at a step, and merge a step's spikes into the ring and the recording
 * buffers (cpu.deliver's ring walk and cpu.merge_step on the GPU), with the
 * parrots' repeated spikes and, with plastic synapses, the pre traces of the
 * ring entries and the post histories (stdp.cuh).
 *
 * The ring has n_slots = D + 1 slots of cap entries; slot t % n_slots holds
 * the pre indices (cortex_gpu/layout.py) that spiked at step t: local spikes
 * in gid order, then the spike sources' emissions, ring_count[slot] of them.
 * A spike of step t - d is due at t through its runs of delay d, m <= d <= D.
 *
 * Invariants:
 *  - order: merge_step writes slot t in the order of cpu.merge_step (local
 *    neurons by id, a parrot's spike once per copy, then sources in schedule
 *    order) and appends recorded spikes in that order; positions come from
 *    prefix sums, never atomics;
 *  - pre traces: a pre's Kplus advances once per ring entry, in ring order,
 *    by one thread: a pre repeats in a step only as a parrot's copies (one
 *    thread) or as repeated source emissions (adjacent in the schedule; the
 *    thread of the first handles them all);
 *  - one writer: both kernels run as a single thread block; slot t is written
 *    only by merge_step of step t and read by gather_due of steps t + m ..
 *    t + D, which the stream orders after it; the slot it overwrites belonged
 *    to step t - D - 1, due at no later step;
 *  - clock[0] (the step) advances only at the end of merge_step, so every
 *    kernel of a step reads the same t, and a captured CUDA graph of k steps
 *    can be replayed for any k steps.
 * Caller: cortex_gpu/backends/cuda.py: gather_due first and merge_step last
 * in each step, both with one block of CG_RING_THREADS threads.
 */
#include "delivery.cuh" /* cg_slot */
#include "merge.cuh"    /* cg_merge_entry */
#include "ring.cuh"   /* cg_gather_entries */
#include "scan.cuh"
#include "stdp.cuh"

#ifndef CG_RING_THREADS
#define CG_RING_THREADS 1024
#endif
static_assert(CG_BLOCK_SIZE_OK(CG_RING_THREADS), "CG_RING_THREADS: a multiple of 32, at most 1024 (scan.cuh)");

/* The ring entries due at t = clock[0] as a flat list: due_pre[f] (pre index),
 * due_d[f] (delay) and due_at[f] (its position slot * cap + q in the ring),
 * delays m .. D in turn (the span of every synapse group), each slot's
 * entries in ring order; *n_due entries. Capacity: (D - m + 1) * cap.
 * ring_pre int32[n_slots * cap], ring_count int32[n_slots]. */
extern "C" __global__ void __launch_bounds__(CG_RING_THREADS) gather_due(
    const cg_i64 *clock, const int *ring_pre, const int *ring_count, int n_slots, int cap, int m, int D,
    int *due_pre, cg_u16 *due_d, int *due_at, int *n_due)
{
    __shared__ int scratch[33];
    __shared__ int off[CG_RING_THREADS];
    cg_gather_entries(clock[0], ring_pre, ring_count, nullptr, n_slots, cap, m, D, due_pre, due_d, due_at, n_due, off,
                      scratch);
}

/* Put the spikes of step t = clock[0] into ring slot t % n_slots, count them
 * per neuron, record them; then advance clock[0] to t + 1.
 *
 * Update block k listed blk_count[k] spiking local indices at
 * blk_spk[k * ublock ...]; blk_off (int32[n_ublocks], scratch) gets the blocks'
 * offsets in the concatenated list. Per spike: n_spikes[i] += 1; its pre
 * index pre_of_local[i] (-1: no synapse here) goes into the ring; its gid is
 * recorded when rec_mask[gid] (a parrot's once per copy). Then the spike sources of step t, entries
 * [src_ptr[t - t0], src_ptr[t - t0 + 1]) with t0 = clock[1] (pre index
 * src_pre, gid src_gid), recorded when record_sources. Recorded spikes go to
 * spk_gid / spk_step at *spk_n onwards (int64 each; written below spk_cap,
 * counted in any case, so that the host can detect an overflow).
 *
 * A parrot's spike (kind[pset[i]] == CG_KIND_PARROT) enters the ring refr[i]
 * times, its multiplicity (refr[i] is reset); more than CG_PARROT_MAX_COPIES
 * sets *merge_err and enters that many. With plastic synapses (plastic != 0)
 * each spiking local neuron joins its post history (cg_post_spike) and each
 * ring entry gets its pre's trace, ring_kplus / ring_tlast [n_slots * cap],
 * before the trace advances (cg_pre_spike); kplus, tlast [n_pre] per pre, the
 * history arrays and the rule's parameters as in stdp.cuh. */
extern "C" __global__ void __launch_bounds__(CG_RING_THREADS) merge_step(
    cg_i64 *clock, int n_ublocks, int ublock, const int *blk_count, const int *blk_spk, int *blk_off,
    const cg_i64 *gid, const int *pset, const signed char *kind, int *refr, const int *pre_of_local,
    const unsigned char *rec_mask, cg_i64 *n_spikes, int *ring_pre, int *ring_count, int n_slots, int cap,
    const cg_i64 *src_ptr, const int *src_pre, const cg_i64 *src_gid, int record_sources,
    cg_i64 *spk_gid, cg_i64 *spk_step, cg_i64 *spk_n, cg_i64 spk_cap,
    int plastic, double *ring_kplus, cg_i64 *ring_tlast, const double *rule, double ms_per_tic,
    cg_i64 tics_per_step, double *kplus, cg_i64 *tlast, int *hist_t, double *hist_k, cg_i64 *hist_n, int H,
    int *last_t, double *last_k, int K, const double *tau_minus_inv, cg_i64 *merge_err)
{
    cg_stdp P = {ms_per_tic, 0.0, tics_per_step, kplus, tlast, hist_t, hist_k, hist_n, H, last_t, last_k, K,
                 tau_minus_inv};
    cg_stdp_set_rule(&P, rule);
    __shared__ int scratch[33];
    const cg_i64 t = clock[0];
    const cg_i64 t0 = clock[1];
    cg_i64 n_rec = *spk_n;
    const cg_i64 slot0 = (t % n_slots) * cap;
    int *slot_pre = ring_pre + slot0;
    const cg_i64 stamp = t + 1;
    int total;
    const int n_local = cg_block_list_offsets(n_ublocks, blk_count, blk_off, scratch);
    int n_ring = 0;
    const cg_i64 e0 = src_ptr[t - t0], n_src = src_ptr[t - t0 + 1] - e0;
    /* local spikes (f < n_local), then source emissions: one pass, one order */
    for (cg_i64 f0 = 0; f0 < n_local + n_src; f0 += blockDim.x) {
        const cg_i64 f = f0 + threadIdx.x;
        int pre = -1, rec = 0, copies = 1;
        cg_i64 g = 0;
        if (f < n_local + n_src)
            pre = cg_merge_entry(f, n_local, n_ublocks, ublock, blk_off, blk_spk, gid, pset, kind, refr, pre_of_local,
                                 rec_mask, n_spikes, src_pre, src_gid, e0, record_sources, plastic, &P, stamp,
                                 merge_err, &g, &rec, &copies);
        const int n_entries = pre >= 0 ? copies : 0;
        const int rp = cg_block_exclusive_scan(n_entries, scratch, &total);
        for (int c = 0; c < n_entries; ++c) slot_pre[n_ring + rp + c] = pre;
        if (plastic && pre >= 0) {
            if (f < n_local) {
                for (int c = 0; c < n_entries; ++c) cg_pre_spike(&P, ring_kplus, ring_tlast, slot0 + n_ring + rp + c,
                                                                 pre, stamp);
            } else {
                const cg_i64 e = e0 + f - n_local;
                if (e == e0 || src_pre[e - 1] != pre) {   /* the first of a run of equal emissions: all of them */
                    cg_i64 pos = slot0 + n_ring + rp;
                    for (cg_i64 x = e; x < e0 + n_src && src_pre[x] == pre; ++x)
                        cg_pre_spike(&P, ring_kplus, ring_tlast, pos++, pre, stamp);
                }
            }
        }
        n_ring += total;
        const int n_copies_rec = rec ? copies : 0;   /* a parrot's spike is recorded once per copy, as in NEST */
        const int sp = cg_block_exclusive_scan(n_copies_rec, scratch, &total);
        for (int c = 0; c < n_copies_rec; ++c) {
            if (n_rec + sp + c < spk_cap) {
                spk_gid[n_rec + sp + c] = g;
                spk_step[n_rec + sp + c] = t;
            }
        }
        n_rec += total;
    }
    __syncthreads();                            /* every thread has read clock and spk_n */
    if (threadIdx.x == 0) {
        ring_count[t % n_slots] = n_ring;
        *spk_n = n_rec;
        clock[0] = t + 1;
    }
}
