/*
 * kernels/merge.cuh -- one entry of a step's merge into the ring
 * (ring.cu:merge_step), host+device, so that the kernel and its serial
 * emulation (tests/cuda_emulator/emulator.cpp) share the per-entry work.
 *
 * Invariant kept here: entry f touches only its own neuron's count, refr and
 * post history (ownership: f names one spike of one neuron, and a neuron
 * spikes once per step); where the entry lands in the ring is the caller's
 * prefix sum, so the ring keeps the CPU's order.
 */
#ifndef CORTEX_GPU_MERGE_CUH
#define CORTEX_GPU_MERGE_CUH

#include "delivery.cuh" /* cg_last_le */
#include "neuron.cuh"   /* CG_KIND_PARROT, CG_PARROT_MAX_COPIES */
#include "stdp.cuh"     /* cg_post_spike */

/* Entry f < n_local + n_src of the step whose spikes are stamped stamp: for
 * f < n_local the f-th spiking local neuron in id order (blk_off: the update
 * blocks' offsets in the concatenated lists blk_spk), else the source
 * emission e0 + f - n_local. A local spike is counted, a parrot's copies are
 * taken from refr (reset; more than CG_PARROT_MAX_COPIES sets *merge_err) and,
 * with plastic synapses, the neuron joins its post history. Returns the
 * entry's pre index (-1: no synapse here), its gid in *g, whether it is
 * recorded in *rec and its ring entries in *copies. */
CG_FN int cg_merge_entry(cg_i64 f, int n_local, int n_ublocks, int ublock, const int *blk_off, const int *blk_spk,
                         const cg_i64 *gid, const int *pset, const signed char *kind, int *refr,
                         const int *pre_of_local, const unsigned char *rec_mask, cg_i64 *n_spikes,
                         const int *src_pre, const cg_i64 *src_gid, cg_i64 e0, int record_sources, int plastic,
                         const cg_stdp *P, cg_i64 stamp, cg_i64 *merge_err, cg_i64 *g, int *rec, int *copies)
{
    *copies = 1;
    if (f >= n_local) {
        *g = src_gid[e0 + f - n_local];
        *rec = record_sources && rec_mask[*g];
        return src_pre[e0 + f - n_local];
    }
    const int k = cg_last_le(blk_off, n_ublocks, f);
    const int i = blk_spk[(cg_i64)k * ublock + (f - blk_off[k])];
    n_spikes[i] += 1;
    if (kind[pset[i]] == CG_KIND_PARROT) {
        *copies = refr[i];
        refr[i] = 0;
        if (*copies > CG_PARROT_MAX_COPIES) {   /* the host raises after the chunk */
            *merge_err = 1;
            *copies = CG_PARROT_MAX_COPIES;
        }
    }
    if (plastic) cg_post_spike(P, i, stamp);
    *g = gid[i];
    *rec = rec_mask[*g];
    return pre_of_local[i];
}

#endif /* CORTEX_GPU_MERGE_CUH */
