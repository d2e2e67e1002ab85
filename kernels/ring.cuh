/*
 * kernels/ring.cuh -- the walk over the ring slots due at a step, shared by
 * ring.cu:gather_due (every entry of each slot) and exchange.cu:gather_new
 * (only the entries received since q0), device only.
 *
 * Invariant kept here: the due list holds delays m .. D in turn and each
 * slot's entries in ring order, its positions coming from a block prefix sum
 * (no atomics), so delivery sees the entries in the CPU's order.
 */
#ifndef CORTEX_GPU_RING_CUH
#define CORTEX_GPU_RING_CUH

#include "delivery.cuh" /* cg_slot, cg_last_le */
#include "scan.cuh"

/* The entries [q0[slot] (0 without q0), ring_count[slot]) of the slots due
 * at step t through delays m .. D as a flat list: due_pre[f] (pre index),
 * due_d[f] (delay) and, when due_at is given, due_at[f] (position slot * cap
 * + q in the ring); *n_due entries. off: blockDim.x ints of shared memory,
 * scratch: 33. Every thread of the one block calls it. */
__device__ __forceinline__ void cg_gather_entries(cg_i64 t, const int *ring_pre, const int *ring_count,
                                                  const int *q0, int n_slots, int cap, int m, int D,
                                                  int *due_pre, cg_u16 *due_d, int *due_at, int *n_due,
                                                  int *off, int *scratch)
{
    int done = 0;
    for (int d0 = m; d0 <= D; d0 += blockDim.x) {
        const int d = d0 + threadIdx.x;
        int cnt = 0;
        if (d <= D) {
            const int slot = cg_slot(t, d, n_slots);
            cnt = ring_count[slot] - (q0 ? q0[slot] : 0);
        }
        int total;
        off[threadIdx.x] = cg_block_exclusive_scan(cnt, scratch, &total);
        __syncthreads();
        const int n_d = min((int)blockDim.x, D - d0 + 1);
        for (int f = threadIdx.x; f < total; f += blockDim.x) {
            const int j = cg_last_le(off, n_d, f);
            const int slot = cg_slot(t, d0 + j, n_slots);
            const int at = slot * cap + (q0 ? q0[slot] : 0) + (f - off[j]);
            if (due_at) due_at[done + f] = at;
            due_pre[done + f] = ring_pre[at];
            due_d[done + f] = (cg_u16)(d0 + j);
        }
        done += total;
    }
    if (threadIdx.x == 0) *n_due = done;
}

#endif /* CORTEX_GPU_RING_CUH */
