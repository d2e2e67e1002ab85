/*
 * kernels/deliver_stdp.cu -- the plastic synapses (stdp_pl_synapse_hom,
 * stdp_synapse, stdp_synapse_hom: stdp.cuh's rules) due at step t: update each
 * synapse's weight for the pre spike, then add the new weight to its post's
 * fixed-point input, acc_ex for w >= 0, acc_in below (cpu._deliver_layout mode 2
 * on the GPU).
 *
 * Invariants:
 *  - ownership (I1, no atomics): warp b alone delivers onto the posts
 *    [blk_lo[b], blk_hi[b]) and alone writes the weights of the synapses onto
 *    them; inside the warp one lane writes a weight (the lowest lane holding
 *    that synapse) and one lane a post's accumulator (the lowest lane holding
 *    that post), as in kernels/deliver.cu;
 *  - order (I3): a synapse due twice in a step (its pre twice in the ring slot:
 *    parrot multiplicity, repeated spike_generator times) is updated in ring
 *    order, as on the CPU: lanes hold flat positions in due-list order, which
 *    is ring order, and the lowest lane of a synapse applies its peers' updates
 *    in lane order; later rounds see the weight after __syncwarp;
 *  - the post history (hist_*, last_*) is only read here; merge_step appends
 *    to it after the step's update.
 *
 * Arguments
 *   clock          int64[2]: t = clock[0]
 *   due_pre, due_d, due_at int32, uint16, int32 [n_due]: the due ring entries
 *                  (pre index, delay, position slot * cap + q in the ring)
 *   n_due          int32[1]
 *   seg_off, delay_off, syn_post  the plastic layout (see delivery.cuh)
 *   syn_weight     float64[n_syn], pA, read and written
 *   n_pre, m, D, S the layout's pre count, delays and section size
 *   blk_lo, blk_hi, n_blk  the warps' post blocks (as deliver.cu)
 *   acc_ex, acc_in int64[n_local], added to
 *   ring_kplus, ring_tlast  float64, int64 [n_slots * cap]: each ring entry's
 *                  pre trace before its spike and the pre's previous stamp
 *   rule           float64[CG_RULE_PARAMS]: the rule and its parameters (stdp.cuh)
 *   ms_per_tic, ms_per_step, tics_per_step  NEST's time grid (cg_stdp)
 *   hist_t, hist_k, hist_n, H, last_t, last_k, K, tau_minus_inv  post history
 *   blk_err        int64[n_blk * 5]: the first update of block b that needed a
 *                  post spike older than its history keeps (flag, t, due
 *                  index, local post, pre stamp); written once, by warp b
 * Launch: as deliver.cu (blockDim.x a multiple of 32, at most
 * 32 * CG_DELIVER_WARPS; warp b = global thread index / 32), at least n_blk
 * warps in all.
 * Caller: cortex_gpu/backends/cuda.py, once per step after the other
 * delivery kernels, before update. Kernels deliver_stdp_<delay_off dtype>.
 */
#include "deliver_warp.cuh"
#include "delivery.cuh"
#include "scan.cuh"
#include "stdp.cuh"

#ifndef CG_DELIVER_WARPS
#define CG_DELIVER_WARPS 8
#endif
static_assert(CG_BLOCK_SIZE_OK(32 * CG_DELIVER_WARPS), "CG_DELIVER_WARPS: 1 .. 32 warps per block");

template <typename DOFF>
__device__ __forceinline__ void deliver_stdp_block(
    const cg_i64 *clock, const int *due_pre, const cg_u16 *due_d, const int *due_at, const int *n_due_p,
    const cg_i64 *seg_off, const DOFF *delay_off, const cg_u16 *syn_post, double *syn_weight, cg_i64 n_pre,
    int m, int D, int S, const int *blk_lo, const int *blk_hi, int n_blk, cg_i64 *acc_ex, cg_i64 *acc_in,
    const double *ring_kplus, const cg_i64 *ring_tlast, const cg_stdp *P, cg_i64 *blk_err)
{
    __shared__ int sh_off[CG_DELIVER_WARPS][32];
    __shared__ cg_i64 sh_k0[CG_DELIVER_WARPS][32];
    __shared__ int sh_e[CG_DELIVER_WARPS][32];
    __shared__ cg_i64 sh_fx[CG_DELIVER_WARPS][32];
    __shared__ cg_i64 sh_fx_in[CG_DELIVER_WARPS][32];
    __shared__ int sh_lost[CG_DELIVER_WARPS][32];
    const int lane = threadIdx.x & 31;
    const int wl = threadIdx.x >> 5;
    const int b = cg_delivery_warp();
    if (b >= n_blk) return;
    const cg_i64 t = clock[0];
    const int lo = blk_lo[b], hi = blk_hi[b];
    const int s = lo / S;
    const int base = s * S;
    const int n_due = *n_due_p;
    for (int r = 0; r < n_due; r += 32) {
        const int total = cg_warp_runs(r, due_pre, due_d, n_due, seg_off, delay_off, syn_post, n_pre, m, D, S, s,
                                       lo - base, hi - base, sh_off[wl], sh_k0[wl]);
        for (int c = 0; c < total; c += 32) {
            const int f = c + lane;
            cg_i64 k = -1 - lane;                /* inactive lanes: keys no other lane has */
            int post = -1 - lane;
            if (f < total) {
                const int j = cg_find_run(sh_off[wl], f);
                k = sh_k0[wl][j] + (f - sh_off[wl][j]);
                post = (int)syn_post[k];
                sh_e[wl][lane] = r + j;
            }
            sh_fx[wl][lane] = 0;
            sh_fx_in[wl][lane] = 0;
            sh_lost[wl][lane] = 0;
            const unsigned same_syn = __match_any_sync(CG_FULL_MASK, (unsigned long long)k);
            __syncwarp();
            if (f < total && lane == __ffs(same_syn) - 1) {
                double w = syn_weight[k];
                for (unsigned rest = same_syn; rest; rest &= rest - 1) {   /* peers in lane = ring order */
                    const int l = __ffs(rest) - 1;
                    const int el = sh_e[wl][l];
                    const int d = (int)due_d[el];
                    int lost = 0;
                    w = cg_stdp_update(w, base + post, ring_kplus[due_at[el]], ring_tlast[due_at[el]], t - d + 1,
                                       d, P, &lost);
                    if (w >= 0.0)
                        sh_fx[wl][l] = cg_fixed(w);
                    else
                        sh_fx_in[wl][l] = cg_fixed(w);
                    sh_lost[wl][l] = lost;
                }
                syn_weight[k] = w;
            }
            __syncwarp();
            const unsigned lost_lanes = __ballot_sync(CG_FULL_MASK, sh_lost[wl][lane]);
            if (lost_lanes && blk_err[(cg_i64)b * 5] == 0 && lane == __ffs(lost_lanes) - 1) {
                const int d = (int)due_d[sh_e[wl][lane]];
                cg_i64 *err = blk_err + (cg_i64)b * 5;
                err[0] = 1;
                err[1] = t;
                err[2] = sh_e[wl][lane];
                err[3] = base + post;
                err[4] = t - d + 1;
            }
            const unsigned peers = __match_any_sync(CG_FULL_MASK, post);
            if (post >= 0 && lane == __ffs(peers) - 1) {
                cg_i64 sum = 0, sum_in = 0;
                for (unsigned rest = peers; rest; rest &= rest - 1) {
                    sum += sh_fx[wl][__ffs(rest) - 1];
                    sum_in += sh_fx_in[wl][__ffs(rest) - 1];
                }
                acc_ex[base + post] += sum;
                if (sum_in) acc_in[base + post] += sum_in;
            }
            __syncwarp();                        /* orders this round's writes before the next reads */
        }
    }
}

#define CG_DELIVER_STDP_KERNEL(NAME, DOFF)                                                                       \
    extern "C" __global__ void __launch_bounds__(32 * CG_DELIVER_WARPS) NAME(                                    \
        const cg_i64 *clock, const int *due_pre, const cg_u16 *due_d, const int *due_at, const int *n_due,       \
        const cg_i64 *seg_off, const DOFF *delay_off, const cg_u16 *syn_post, double *syn_weight, cg_i64 n_pre,  \
        int m, int D, int S, const int *blk_lo, const int *blk_hi, int n_blk, cg_i64 *acc_ex, cg_i64 *acc_in,    \
        const double *ring_kplus, const cg_i64 *ring_tlast, const double *rule,                                 \
        double ms_per_tic, double ms_per_step, cg_i64 tics_per_step, int *hist_t,                                \
        double *hist_k, cg_i64 *hist_n, int H, int *last_t, double *last_k, int K, const double *tau_minus_inv,  \
        cg_i64 *blk_err)                                                                                         \
    {                                                                                                            \
        cg_stdp P = {ms_per_tic, ms_per_step, tics_per_step, nullptr, nullptr, hist_t, hist_k, hist_n, H,       \
                     last_t, last_k, K, tau_minus_inv};                                                          \
        cg_stdp_set_rule(&P, rule);                                                                              \
        deliver_stdp_block<DOFF>(clock, due_pre, due_d, due_at, n_due, seg_off, delay_off, syn_post, syn_weight, \
                                 n_pre, m, D, S, blk_lo, blk_hi, n_blk, acc_ex, acc_in, ring_kplus, ring_tlast,  \
                                 &P, blk_err);                                                                   \
    }

CG_DELIVER_STDP_KERNEL(deliver_stdp_u16, unsigned short)
CG_DELIVER_STDP_KERNEL(deliver_stdp_u32, unsigned int)
