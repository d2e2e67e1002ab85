/*
 * kernels/deliver_warp.cuh -- how a delivery warp lays out its work, shared by
 * deliver.cu (static synapses, counts onto parrots) and deliver_stdp.cu
 * (plastic synapses), device only.
 *
 * Invariant kept here (I1, ownership): a warp reads the runs of its own post
 * block [lo, hi) only, so what it then writes belongs to that block alone;
 * the runs are laid end to end in due-list order, so flat positions keep
 * ring order (which the plastic kernel needs for a synapse due twice).
 */
#ifndef CORTEX_GPU_DELIVER_WARP_CUH
#define CORTEX_GPU_DELIVER_WARP_CUH

#include "delivery.cuh" /* cg_block_run */
#include "scan.cuh"

/* The post block of this thread's warp: warps are numbered by global thread
 * index / 32, so any launch of whole warps covers the blocks in order (the
 * emulator numbers them alike); every lane of a warp gets the same number,
 * so a warp past the last block leaves as a whole. */
__device__ __forceinline__ int cg_delivery_warp()
{
    return (int)((blockIdx.x * blockDim.x + threadIdx.x) >> 5);
}

/* Due entries r .. r + 31, one per lane: each lane finds its entry's
 * synapses onto the posts [lo, hi) of section s (lo, hi counted from the
 * section's first post), and the warp lays those runs end to end: lane j's
 * run starts at flat position off[j] and at synapse k0s[j] (off and k0s: 32
 * elements of the warp's shared memory). Returns the total length, in every
 * lane; off and k0s are visible to the whole warp on return. */
template <typename DOFF>
__device__ __forceinline__ int cg_warp_runs(int r, const int *due_pre, const cg_u16 *due_d, int n_due,
                                            const cg_i64 *seg_off, const DOFF *delay_off, const cg_u16 *syn_post,
                                            cg_i64 n_pre, int m, int D, int S, int s, int lo, int hi, int *off,
                                            cg_i64 *k0s)
{
    const int lane = threadIdx.x & 31;
    const int e = r + lane;
    cg_i64 k0 = 0, k1 = 0;
    if (e < n_due)
        cg_block_run(seg_off, delay_off, syn_post, n_pre, m, D, S, s, due_pre[e], (int)due_d[e], lo, hi, &k0, &k1);
    const int len = (int)(k1 - k0);
    const int incl = cg_warp_inclusive_scan(len);
    off[lane] = incl - len;
    k0s[lane] = k0;
    __syncwarp();
    return __shfl_sync(CG_FULL_MASK, incl, 31);
}

#endif /* CORTEX_GPU_DELIVER_WARP_CUH */
