/*
 * kernels/exchange.cu -- a window of m steps on one rank of many (the CPU's
 * cpu.deliver_window, cpu.append_received and cpu.finish_window on the GPU):
 * the ring part of a window's delivery runs while the previous window's
 * spikes travel between ranks; the received spike words then go into the
 * ring, and only the new entries are delivered before each step's update.
 *
 * Per window (cortex_gpu/backends/cuda_ranks.py):
 *   graph A: window_begin; per step k: ring.cu:gather_due (clock win_t + k)
 *            and deliver.cu into accumulator row k   -- while MPI waits
 *   append_received (the words of the previous window, uploaded or, with
 *            CUDA-aware MPI, received straight into device memory)
 *   graph B: per step k: gather_new, deliver.cu into row k, update.cu from
 *            row k, pack_send, ring.cu:merge_step
 *
 * Invariants:
 *  - ownership (I1): append_received and pack_send run as one thread block
 *    and are the only writers of the ring slots of the previous window's
 *    steps and of the send words while they run; entry positions come from
 *    block prefix sums, never atomics; gather_new writes only the due list,
 *    which deliver.cu reads after it on the same stream;
 *  - order: a slot gets the received pres in the order of the words (as
 *    cpu.append_received), after the slot's local spikes; the send words
 *    list the window's local spikes step by step, each step in id order (as
 *    cpu.merge_step); integer (fixed-point) sums make delivery independent of
 *    entry order anyway (I3);
 *  - q0: append_received sets q0[s] to every slot's count before it appends,
 *    so entries [q0[s], ring_count[s]) are exactly the received ones; a
 *    merge_step of this window overwrites only slots whose steps are due at
 *    no later step of the window, so gather_new never reads a stale q0.
 * Caller: cortex_gpu/backends/cuda_ranks.py (one block of CG_RING_THREADS
 * threads for append_received, gather_new and pack_send).
 */
#include "delivery.cuh" /* cg_slot, cg_last_le */
#include "exchange.cuh"
#include "ring.cuh"     /* cg_gather_entries */
#include "scan.cuh"

#ifndef CG_RING_THREADS
#define CG_RING_THREADS 1024
#endif
static_assert(CG_BLOCK_SIZE_OK(CG_RING_THREADS), "CG_RING_THREADS: a multiple of 32, at most 1024 (scan.cuh)");

/* Start a window at t_w = clock[0]: win_t[k] = t_w + k (0 <= k < m), the
 * clocks of graph A's gather_due launches and of pack_send's step index;
 * *n_send = 0. Launch: any grid with at least m threads. */
extern "C" __global__ void window_begin(const cg_i64 *clock, int m, cg_i64 *win_t, cg_i64 *n_send)
{
    const int k = blockIdx.x * blockDim.x + threadIdx.x;
    if (k < m) win_t[k] = clock[0] + k;
    if (k == 0) *n_send = 0;
}

/* Put the received spike words of the window that started at t_prev (m
 * steps) into ring slots (t_prev + k) % n_slots, after the entries already
 * there; q0[s] = ring_count[s] for every slot beforehand (n_words = 0 just
 * sets q0). words int64[n_words]; pre_gids int64[n_pre], sorted; ring_pre
 * int32[n_slots * cap], ring_count and q0 int32[n_slots]. */
extern "C" __global__ void __launch_bounds__(CG_RING_THREADS) append_received(
    const cg_i64 *words, int n_words, int m, cg_i64 t_prev, const cg_i64 *pre_gids, cg_i64 n_pre,
    int *ring_pre, int *ring_count, int n_slots, int cap, int *q0)
{
    __shared__ int scratch[33];
    for (int s = threadIdx.x; s < n_slots; s += blockDim.x) q0[s] = ring_count[s];
    if (n_words == 0) return;                   /* uniform: the whole block leaves */
    __syncthreads();                            /* q0 holds the counts before any append */
    for (int k = 0; k < m; ++k) {
        const int slot = (int)((t_prev + k) % n_slots);
        const int base = ring_count[slot];
        int n_new = 0;
        for (int j0 = 0; j0 < n_words; j0 += blockDim.x) {
            const int j = j0 + threadIdx.x;
            const int p = j < n_words ? cg_received_pre(words[j], m, k, pre_gids, n_pre) : -1;
            int total;
            const int pos = cg_block_exclusive_scan(p >= 0, scratch, &total);
            if (p >= 0 && base + n_new + pos < cap) ring_pre[(cg_i64)slot * cap + base + n_new + pos] = p;
            n_new += total;
        }
        __syncthreads();                        /* every thread has read ring_count[slot] */
        if (threadIdx.x == 0) ring_count[slot] = min(base + n_new, cap);
        __syncthreads();
    }
}

/* The ring entries [q0[slot], ring_count[slot]) due at t = clock[0] (the
 * received ones) as a flat list, like ring.cu:gather_due: due_pre[f],
 * due_d[f], delays m .. D in turn; *n_due entries. */
extern "C" __global__ void __launch_bounds__(CG_RING_THREADS) gather_new(
    const cg_i64 *clock, const int *ring_pre, const int *ring_count, const int *q0, int n_slots, int cap, int m,
    int D, int *due_pre, cg_u16 *due_d, int *n_due)
{
    __shared__ int scratch[33];
    __shared__ int off[CG_RING_THREADS];
    cg_gather_entries(clock[0], ring_pre, ring_count, q0, n_slots, cap, m, D, due_pre, due_d, nullptr, n_due, off,
                      scratch);
}

/* Append the spikes of step t = clock[0] (update.cu's per-block lists
 * blk_count / blk_spk) to the window's send words as gid * m + (t - win_t[0]);
 * send_off (int32[n_ublocks]) is scratch. Words past send_cap are not
 * written but counted, so that the host sees an overflow. */
extern "C" __global__ void __launch_bounds__(CG_RING_THREADS) pack_send(
    const cg_i64 *clock, const cg_i64 *win_t, int m, int n_ublocks, int ublock, const int *blk_count,
    const int *blk_spk, int *send_off, const cg_i64 *gid, cg_i64 *send, cg_i64 *n_send, cg_i64 send_cap)
{
    __shared__ int scratch[33];
    const int k = (int)(clock[0] - win_t[0]);
    const cg_i64 n0 = *n_send;
    const int n_local = cg_block_list_offsets(n_ublocks, blk_count, send_off, scratch);
    for (int f = threadIdx.x; f < n_local; f += blockDim.x) {
        const int b = cg_last_le(send_off, n_ublocks, f);
        const int i = blk_spk[(cg_i64)b * ublock + (f - send_off[b])];
        if (n0 + f < send_cap) send[n0 + f] = cg_spike_word(gid[i], m, k);
    }
    __syncthreads();                            /* every thread has read *n_send */
    if (threadIdx.x == 0) *n_send = n0 + n_local;
}
