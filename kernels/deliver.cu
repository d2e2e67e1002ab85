/*
 * kernels/deliver.cu -- add the static synapses due at step t to the
 * fixed-point input accumulators of their posts, and count the spikes due
 * onto parrot_neurons (cpu._deliver_layout modes 0 and 1 on the GPU; plastic
 * synapses: kernels/deliver_stdp.cu).
 *
 * Invariant (I1, ownership, no atomics): the local posts are split into
 * blocks [blk_lo[b], blk_hi[b]), each inside one section; warp b is the only
 * writer of the accumulators of block b during delivery, and inside the warp
 * one lane per post writes in each round (lanes that hit the same post are
 * combined first). The sums are integers (rint(w * 2^32)), so the order of the
 * additions does not matter and the result equals the CPU's bit for bit (I3).
 *
 * Arguments
 *   due_pre, due_d int32[n_due], uint16[n_due]: the ring entries due at t, as
 *                  (pre index, delay in steps), gathered by ring.cu:gather_due
 *   n_due          int32[1]
 *   seg_off        int64[n_sections * n_pre + 1]   layout (cortex_gpu/layout.py)
 *   delay_off      uint16 or uint32[n_sections * n_pre * (D - m)]
 *   syn_post       uint16[n_syn]; syn_weight float32 or float64[n_syn] (pA)
 *   n_pre, m, D, S the layout's pre count, minimum and maximum delay, section size
 *   blk_lo, blk_hi int32[n_blk]: local post range of each warp's block
 *   acc_ex, acc_in int64[n_local], added to
 * Launch: blockDim.x a multiple of 32, at most 32 * CG_DELIVER_WARPS (the
 * shared arrays hold that many warps; __launch_bounds__ refuses more); warp b
 * is global thread index / 32, as the emulator counts warps; at least n_blk
 * warps in all; extra warps return.
 * Caller: cortex_gpu/backends/cuda.py, once per step and synapse group,
 * between gather_due and update. Kernels deliver_<weight dtype>_<delay_off
 * dtype> (static synapses: w >= 0 into acc_ex, else acc_in) and
 * deliver_count_<delay_off dtype> (synapses onto parrots, no weights: -1.0
 * per spike into acc_in, which a parrot reads as its multiplicity).
 * Due entries of delays outside the layout's [m, D] have no synapses here.
 *
 * How a warp works: in rounds of 32 due entries, lane j finds the synapses of
 * entry j onto the block (two binary searches in the run, as on the CPU); a
 * prefix sum of the run lengths lays them end to end, and the warp walks that
 * list 32 synapses at a time, each lane one synapse; lanes with the same post
 * (__match_any_sync) add their values in shared memory and the lowest of them
 * writes the post's accumulators.
 */
#include "deliver_warp.cuh"
#include "delivery.cuh"
#include "scan.cuh"

#ifndef CG_DELIVER_WARPS
#define CG_DELIVER_WARPS 8
#endif
static_assert(CG_BLOCK_SIZE_OK(32 * CG_DELIVER_WARPS), "CG_DELIVER_WARPS: 1 .. 32 warps per block");

template <typename W, typename DOFF, bool COUNT>
__device__ __forceinline__ void deliver_block(const int *due_pre, const cg_u16 *due_d, const int *n_due_p,
                                              const cg_i64 *seg_off, const DOFF *delay_off,
                                              const cg_u16 *syn_post, const W *syn_weight, cg_i64 n_pre, int m,
                                              int D, int S, const int *blk_lo, const int *blk_hi, int n_blk,
                                              cg_i64 *acc_ex, cg_i64 *acc_in)
{
    __shared__ int sh_off[CG_DELIVER_WARPS][32];
    __shared__ cg_i64 sh_k0[CG_DELIVER_WARPS][32];
    __shared__ cg_i64 sh_ex[CG_DELIVER_WARPS][32];
    __shared__ cg_i64 sh_in[CG_DELIVER_WARPS][32];
    const int lane = threadIdx.x & 31;
    const int wl = threadIdx.x >> 5;
    const int b = cg_delivery_warp();
    if (b >= n_blk) return;
    const int lo = blk_lo[b], hi = blk_hi[b];
    const int s = lo / S;
    const int base = s * S;
    const int n_due = *n_due_p;
    for (int r = 0; r < n_due; r += 32) {
        const int total = cg_warp_runs(r, due_pre, due_d, n_due, seg_off, delay_off, syn_post, n_pre, m, D, S, s,
                                       lo - base, hi - base, sh_off[wl], sh_k0[wl]);
        for (int c = 0; c < total; c += 32) {
            const int f = c + lane;
            int post = -1 - lane;                /* inactive lanes: a key no other lane has */
            cg_i64 fx_ex = 0, fx_in = 0;
            if (f < total) {
                if (COUNT) cg_flat_count(sh_off[wl], sh_k0[wl], f, syn_post, &post, &fx_ex, &fx_in);
                else cg_flat_synapse(sh_off[wl], sh_k0[wl], f, syn_post, syn_weight, &post, &fx_ex, &fx_in);
            }
            const unsigned peers = __match_any_sync(CG_FULL_MASK, post);
            sh_ex[wl][lane] = fx_ex;
            sh_in[wl][lane] = fx_in;
            __syncwarp();
            if (post >= 0 && lane == __ffs(peers) - 1) {
                cg_i64 sum_ex = 0, sum_in = 0;
                for (unsigned rest = peers; rest; rest &= rest - 1) {
                    const int j = __ffs(rest) - 1;
                    sum_ex += sh_ex[wl][j];
                    sum_in += sh_in[wl][j];
                }
                if (sum_ex) acc_ex[base + post] += sum_ex;
                if (sum_in) acc_in[base + post] += sum_in;
            }
            __syncwarp();                        /* orders this round's writes before the next reads */
        }
    }
}

#define CG_DELIVER_KERNEL(NAME, W, DOFF)                                                                         \
    extern "C" __global__ void __launch_bounds__(32 * CG_DELIVER_WARPS) NAME(                                    \
        const int *due_pre, const cg_u16 *due_d, const int *n_due, const cg_i64 *seg_off, const DOFF *delay_off, \
        const cg_u16 *syn_post, const W *syn_weight, cg_i64 n_pre, int m, int D, int S, const int *blk_lo,       \
        const int *blk_hi, int n_blk, cg_i64 *acc_ex, cg_i64 *acc_in)                                            \
    {                                                                                                            \
        deliver_block<W, DOFF, false>(due_pre, due_d, n_due, seg_off, delay_off, syn_post, syn_weight, n_pre, m, D, S,  \
                               blk_lo, blk_hi, n_blk, acc_ex, acc_in);                                           \
    }

CG_DELIVER_KERNEL(deliver_f32_u16, float, unsigned short)
CG_DELIVER_KERNEL(deliver_f32_u32, float, unsigned int)
CG_DELIVER_KERNEL(deliver_f64_u16, double, unsigned short)
CG_DELIVER_KERNEL(deliver_f64_u32, double, unsigned int)

/* Spikes onto parrots: no weight array; acc_ex is never written (count mode adds to acc_in only). */
#define CG_DELIVER_COUNT_KERNEL(NAME, DOFF)                                                                      \
    extern "C" __global__ void __launch_bounds__(32 * CG_DELIVER_WARPS) NAME(                                    \
        const int *due_pre, const cg_u16 *due_d, const int *n_due, const cg_i64 *seg_off, const DOFF *delay_off, \
        const cg_u16 *syn_post, cg_i64 n_pre, int m, int D, int S, const int *blk_lo, const int *blk_hi,         \
        int n_blk, cg_i64 *acc_in)                                                                               \
    {                                                                                                            \
        deliver_block<float, DOFF, true>(due_pre, due_d, n_due, seg_off, delay_off, syn_post, nullptr, n_pre, m, \
                                         D, S, blk_lo, blk_hi, n_blk, nullptr, acc_in);                          \
    }

CG_DELIVER_COUNT_KERNEL(deliver_count_u16, unsigned short)
CG_DELIVER_COUNT_KERNEL(deliver_count_u32, unsigned int)
