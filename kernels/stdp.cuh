/*
 * kernels/stdp.cuh -- stdp_pl_synapse_hom (MODELS.md section 3): the weight
 * update of one synapse for one pre spike, and the pre and post traces, as
 * cpu._stdp_update, cpu._pre_spike and cpu._post_spike compute them. Shared
 * by kernels/deliver_stdp.cu, kernels/ring.cu and the CPU emulation of the
 * kernels (tests/cuda_emulator/emulator.cpp).
 *
 * Invariant kept here: bit identity with the CPU backend (I3). The same
 * operations in the same order as the numba functions, no FMA contraction
 * (nvcc/NVRTC --fmad=false, g++ -ffp-contract=off), and exp and pow from
 * philox.cuh's cg_pexp / cg_ppow, which cpu.py calls through their numba twins
 * philox.pexp / philox.ppow: CUDA's exp/pow and libm's do not round alike.
 *
 * Times: spikes are step stamps (a spike of step t has stamp t + 1); ms are
 * NEST's, ms_per_tic * (stamp * tics_per_step); a delay d (steps) is
 * d * ms_per_step ms.
 *
 * Post history of local post i (cpu.Stdp): its last H spikes, stamps
 * hist_t[i * H + (j & (H - 1))] and Kminus just after each, hist_k; hist_n[i]
 * spikes so far; the last K of them again in last_t / last_k (K per post),
 * which serve nearly every update. During delivery the history is read only;
 * ring.cu's merge_step appends to it after the step's update.
 */
#ifndef CORTEX_GPU_STDP_CUH
#define CORTEX_GPU_STDP_CUH

#include "philox.cuh" /* cg_pexp, cg_ppow, cg_dadd ... */

/* The plastic model's parameters and traces (cpu.Stdp). kplus/tlast: per pre
 * index, its trace after, and stamp of, its last spike (written by merge_step
 * only). */
typedef struct {
    double lam, alpha, mu, tau_plus_inv, ms_per_tic, ms_per_step;
    cg_i64 tics_per_step;
    double *kplus;
    cg_i64 *tlast;
    int *hist_t;
    double *hist_k;
    cg_i64 *hist_n;
    int H;
    int *last_t;
    double *last_k;
    int K;
    const double *tau_minus_inv; /* per local post, 1/ms */
} cg_stdp;

/* NEST's time in ms of a step stamp (Time::get_ms; cpu._ms). */
CG_FN double cg_ms(const cg_stdp *S, cg_i64 stamp)
{
    return cg_dmul(S->ms_per_tic, (double)(stamp * S->tics_per_step));
}

/* w + lambda * w^mu * (Kplus * exp((t_last - (t_u + d)) / tau_plus))  (cpu._facilitate). */
CG_FN double cg_stdp_facilitate(double wt, double kplus, cg_i64 tlast, cg_i64 u, cg_i64 d, const cg_stdp *S)
{
    const double minus_dt = cg_dsub(cg_ms(S, tlast), cg_dadd(cg_ms(S, u), cg_dmul((double)d, S->ms_per_step)));
    const double trace = cg_dmul(kplus, cg_pexp(cg_dmul(minus_dt, S->tau_plus_inv)));
    return cg_dadd(wt, cg_dmul(cg_dmul(S->lam, cg_ppow(wt, S->mu)), trace));
}

/* max(0, w - lambda * alpha * w * Kminus(t - d)), the trace k_u of post spike u
 * decayed to stamp - d  (cpu._depress). */
CG_FN double cg_stdp_depress(double wt, double k_u, cg_i64 u, cg_i64 stamp, cg_i64 d, const cg_stdp *S,
                             double tau_minus_inv)
{
    double kminus = 0.0;
    if (k_u != 0.0) {
        const double t_k = cg_dsub(cg_ms(S, stamp), cg_dmul((double)d, S->ms_per_step));
        kminus = cg_dmul(k_u, cg_pexp(cg_dmul(cg_dsub(cg_ms(S, u), t_k), tau_minus_inv)));
    }
    const double new_w = cg_dsub(wt, cg_dmul(cg_dmul(cg_dmul(S->lam, S->alpha), wt), kminus));
    return new_w > 0.0 ? new_w : 0.0;
}

/* The update from post i's ring of its last spikes, stamps T[i * width ...],
 * Kminus Km (width a power of two, spike j at j & (width - 1)), n spikes so
 * far (cpu._update_from_ring). Returns 1 and the new weight in *out, or 0
 * (and *out = wt) when the update needs a spike older than the ring keeps. */
CG_FN int cg_update_from_ring(double wt, cg_i64 i, cg_i64 n, double kplus, cg_i64 tlast, cg_i64 stamp, cg_i64 d,
                              const cg_stdp *S, const int *T, const double *Km, int width, double *out)
{
    const cg_i64 mask = width - 1;
    const int *Ti = T + i * width;
    const double *Ki = Km + i * width;
    const cg_i64 oldest = n - mask - 1 > 0 ? n - mask - 1 : 0;
    const cg_i64 lim_hi = stamp - d;
    cg_i64 j = n - 1;
    while (j >= oldest && Ti[j & mask] > lim_hi) j -= 1;
    const cg_i64 last = j;
    if (kplus != 0.0) /* before the pre's first spike Kplus is 0: facilitation adds exactly 0 */
        while (j >= oldest && Ti[j & mask] > tlast - d) j -= 1;
    cg_i64 jk = last;
    if (jk >= oldest && Ti[jk & mask] == lim_hi) jk -= 1; /* the trace is taken just before stamp - d */
    if (oldest > 0 && (j < oldest || jk < oldest)) {
        *out = wt;
        return 0;
    }
    for (cg_i64 jj = j + 1; jj <= last; ++jj) wt = cg_stdp_facilitate(wt, kplus, tlast, Ti[jj & mask], d, S);
    if (jk >= oldest)
        *out = cg_stdp_depress(wt, Ki[jk & mask], Ti[jk & mask], stamp, d, S, S->tau_minus_inv[i]);
    else
        *out = cg_stdp_depress(wt, 0.0, 0, stamp, d, S, 0.0);
    return 1;
}

/* stdp_pl_synapse_hom's new weight for a pre spike stamped stamp through delay d
 * onto local post i, from the pre's previous trace kplus and stamp tlast
 * (cpu._stdp_update): the short ring first, then the long history. *lost = 1
 * (weight unchanged) when even the history lacks a spike the rule needs. */
CG_FN double cg_stdp_update(double wt, cg_i64 i, double kplus, cg_i64 tlast, cg_i64 stamp, cg_i64 d,
                            const cg_stdp *S, int *lost)
{
    const cg_i64 n = S->hist_n[i];
    if (n == 0) return wt > 0.0 ? wt : 0.0; /* no post spike yet: Kminus = 0, nothing to facilitate */
    double new_w;
    if (cg_update_from_ring(wt, i, n, kplus, tlast, stamp, d, S, S->last_t, S->last_k, S->K, &new_w)) return new_w;
    if (!cg_update_from_ring(wt, i, n, kplus, tlast, stamp, d, S, S->hist_t, S->hist_k, S->H, &new_w)) *lost = 1;
    return new_w;
}

/* A spike of pre p (stamp) enters ring entry pos: copy its trace there, then
 * advance it, Kplus = Kplus * exp((t_last - t) / tau_plus) + 1 (cpu._pre_spike).
 * The caller is the only thread touching pre p in this step. */
CG_FN void cg_pre_spike(const cg_stdp *S, double *ring_kplus, cg_i64 *ring_tlast, cg_i64 pos, cg_i64 p,
                        cg_i64 stamp)
{
    const double k = S->kplus[p];
    const cg_i64 tl = S->tlast[p];
    ring_kplus[pos] = k;
    ring_tlast[pos] = tl;
    S->kplus[p] = cg_dadd(cg_dmul(k, cg_pexp(cg_dmul(cg_dsub(cg_ms(S, tl), cg_ms(S, stamp)), S->tau_plus_inv))), 1.0);
    S->tlast[p] = stamp;
}

/* Local post i spiked at stamp: append (stamp, Kminus) to its history
 * (NEST's set_spiketime; cpu._post_spike). The caller owns post i. */
CG_FN void cg_post_spike(const cg_stdp *S, cg_i64 i, cg_i64 stamp)
{
    const cg_i64 mask = S->H - 1, short_mask = S->K - 1;
    const cg_i64 n = S->hist_n[i];
    double km = 1.0; /* NEST starts from Kminus = 0: 0 * exp(...) + 1 */
    if (n > 0) {
        const cg_i64 j = i * S->H + ((n - 1) & mask);
        km = cg_dadd(cg_dmul(S->hist_k[j], cg_pexp(cg_dmul(cg_dsub(cg_ms(S, S->hist_t[j]), cg_ms(S, stamp)),
                                                           S->tau_minus_inv[i]))), 1.0);
    }
    S->hist_t[i * S->H + (n & mask)] = (int)stamp;
    S->hist_k[i * S->H + (n & mask)] = km;
    S->last_t[i * S->K + (n & short_mask)] = (int)stamp;
    S->last_k[i * S->K + (n & short_mask)] = km;
    S->hist_n[i] = n + 1;
}

#endif /* CORTEX_GPU_STDP_CUH */
