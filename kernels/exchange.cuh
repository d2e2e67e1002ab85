/*
 * kernels/exchange.cuh -- device-independent pieces of the spike exchange
 * between ranks, shared by kernels/exchange.cu and the serial emulation of
 * tests/cuda_emulator/emulator.cpp.
 *
 * Spikes travel between ranks as int64 words gid * m + k: neuron gid spiked at
 * step k (0 <= k < m) of a window of m steps (cortex_gpu/comm.py). A rank
 * finds a received gid's pre index by a binary search in its sorted pre gids
 * (int64[n_pre], cortex_gpu/layout.py), so no gid-sized table is needed.
 *
 * Invariant kept here: a word encodes and decodes to the same (gid, k) as
 * cpu.merge_step and cpu.append_received compute them (floor division and
 * remainder of non-negative int64), and a gid that is not a pre here maps to
 * -1, the CPU's pre_index value for it: both backends drop the same words.
 */
#ifndef CORTEX_GPU_EXCHANGE_CUH
#define CORTEX_GPU_EXCHANGE_CUH

#include "philox.cuh" /* CG_FN, cg_i64 */
#include "search.cuh"

/* The word of a spike of neuron gid at step k of a window of m steps. */
CG_FN cg_i64 cg_spike_word(cg_i64 gid, int m, int k)
{
    return gid * (cg_i64)m + k;
}

/* Index of gid in the sorted pre_gids[0 .. n_pre), or -1 when it is not there. */
CG_FN int cg_pre_of(const cg_i64 *pre_gids, cg_i64 n_pre, cg_i64 gid)
{
    const cg_i64 lo = cg_first_at_least(pre_gids, 0, n_pre, gid);
    return (lo < n_pre && pre_gids[lo] == gid) ? (int)lo : -1;
}

/* The pre index a received word adds to ring slot (t_prev + k) % n_slots when
 * k == word % m, else -1 (another step's word, or a gid without synapses here). */
CG_FN int cg_received_pre(cg_i64 word, int m, int k, const cg_i64 *pre_gids, cg_i64 n_pre)
{
    if (word % m != k) return -1;
    return cg_pre_of(pre_gids, n_pre, word / m);
}

#endif /* CORTEX_GPU_EXCHANGE_CUH */
