/*
 * kernels/scan.cuh -- prefix sums over a warp and over a thread block, for
 * compacting lists in order without atomics (device only).
 *
 * Invariant kept here: an element's place in a compacted list is the count of
 * flagged elements before it, computed by shuffles and ballots; no two threads
 * ever race for a slot, and the list keeps the threads' order (neuron-id
 * order for the spike lists of kernels/update.cu and kernels/ring.cu).
 *
 * Launch assumption: blockDim.x is a multiple of 32 and at most 1024, and
 * every thread of the block calls cg_block_exclusive_scan (it synchronises).
 */
#ifndef CORTEX_GPU_SCAN_CUH
#define CORTEX_GPU_SCAN_CUH

#define CG_FULL_MASK 0xffffffffu

/* Whether n threads per block suit the scans below (and the warp collectives
 * with CG_FULL_MASK, which need every warp whole): a multiple of 32, 32 ..
 * 1024. Kernel files static_assert it of the block size they are built for
 * (-D from cuda.nvrtc_options()); their __launch_bounds__ then refuses a
 * launch with more threads than their shared arrays hold. */
#define CG_BLOCK_SIZE_OK(n) ((n) % 32 == 0 && (n) >= 32 && (n) <= 1024)

/* Inclusive prefix sum of x over the 32 lanes of a converged warp. */
__device__ __forceinline__ int cg_warp_inclusive_scan(int x)
{
    const int lane = threadIdx.x & 31;
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
        const int y = __shfl_up_sync(CG_FULL_MASK, x, o);
        if (lane >= o) x += y;
    }
    return x;
}

/* Exclusive prefix sum of x over the thread block, in thread order; *total
 * gets the block's sum (in every thread). scratch: 33 ints of shared memory.
 * Synchronises the block at entry (so scratch may be reused call after call)
 * and before returning. */
__device__ __forceinline__ int cg_block_exclusive_scan(int x, int *scratch, int *total)
{
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int n_warps = blockDim.x >> 5;
    const int incl = cg_warp_inclusive_scan(x);
    __syncthreads();
    if (lane == 31) scratch[warp] = incl;
    __syncthreads();
    if (warp == 0) {
        const int w = lane < n_warps ? scratch[lane] : 0;
        const int wi = cg_warp_inclusive_scan(w);
        if (lane < n_warps) scratch[lane] = wi - w;   /* exclusive offset of warp `lane` */
        if (lane == 31) scratch[32] = wi;
    }
    __syncthreads();
    *total = scratch[32];
    return scratch[warp] + incl - x;
}

/* Where each of n_lists consecutive lists of counts[k] elements starts in
 * their concatenation: off[k] (int32[n_lists], global memory); returns the
 * total. Every thread of the block calls it; off is complete for every
 * thread when it returns. */
__device__ __forceinline__ int cg_block_list_offsets(int n_lists, const int *counts, int *off, int *scratch)
{
    int total;
    int n = 0;
    for (int k0 = 0; k0 < n_lists; k0 += blockDim.x) {
        const int k = k0 + threadIdx.x;
        const int o = cg_block_exclusive_scan(k < n_lists ? counts[k] : 0, scratch, &total);
        if (k < n_lists) off[k] = n + o;
        n += total;
    }
    __syncthreads();                            /* off is read by other threads after the return */
    return n;
}

#endif /* CORTEX_GPU_SCAN_CUH */
