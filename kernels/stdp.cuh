/*
 * kernels/stdp.cuh -- the plastic rules of cortex_gpu/models/synapses.py
 * (stdp_pl_synapse_hom's power law, CG_RULE_PL; stdp_synapse and
 * stdp_synapse_hom's pair rule, CG_RULE_PAIR): the weight update of one
 * synapse for one pre spike, and the pre and post traces, as
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

/* The rule's parameters: float64[CG_RULE_PARAMS] in this order (cuda.py rule_table). */
enum { CG_RP_RULE, CG_RP_LAMBDA, CG_RP_ALPHA, CG_RP_MU, CG_RP_TAU_PLUS, CG_RP_TAU_PLUS_INV, CG_RP_MU_PLUS,
       CG_RP_MU_MINUS, CG_RP_WMAX, CG_RULE_PARAMS };
#define CG_RULE_PL 0
#define CG_RULE_PAIR 1

/* The plastic model's parameters and traces (cpu.Stdp). kplus/tlast: per pre
 * index, its trace after, and stamp of, its last spike (written by merge_step
 * only). */
typedef struct {
    double ms_per_tic, ms_per_step;
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
    /* the rule (set by cg_stdp_set_rule; aggregate initialisers leave it 0) */
    int rule;
    double lam, alpha, mu, tau_plus, tau_plus_inv, mu_plus, mu_minus, wmax;
} cg_stdp;

/* The rule's fields of *S from its parameter table (cuda.py rule_table). */
CG_FN void cg_stdp_set_rule(cg_stdp *S, const double *rule)
{
    S->rule = (int)rule[CG_RP_RULE];
    S->lam = rule[CG_RP_LAMBDA];
    S->alpha = rule[CG_RP_ALPHA];
    S->mu = rule[CG_RP_MU];
    S->tau_plus = rule[CG_RP_TAU_PLUS];
    S->tau_plus_inv = rule[CG_RP_TAU_PLUS_INV];
    S->mu_plus = rule[CG_RP_MU_PLUS];
    S->mu_minus = rule[CG_RP_MU_MINUS];
    S->wmax = rule[CG_RP_WMAX];
}

/* x ** y as libm's pow for the pair rule's bases (cpu._spow): exact for y == 1,
 * cg_ppow for x >= 0, an odd integer power's sign for x < 0, NaN otherwise. */
CG_FN double cg_spow(double x, double y)
{
    if (y == 1.0) return x;
    if (x >= 0.0) return cg_ppow(x, y);
    if (y != floor(y)) return cg_bits_f64((cg_i64)0x7FF8000000000000ULL);
    const double r = cg_ppow(-x, y);
    return cg_dmul(floor(cg_dmul(y, 0.5)), 2.0) != y ? -r : r;
}

/* NEST's time in ms of a step stamp (Time::get_ms; cpu._ms). */
CG_FN double cg_ms(const cg_stdp *S, cg_i64 stamp)
{
    return cg_dmul(S->ms_per_tic, (double)(stamp * S->tics_per_step));
}

/* Facilitation by post spike u (cpu._facilitate). Power law:
 * w + lambda * w^mu * (Kplus * exp((t_last - (t_u + d)) * (1 / tau_plus)));
 * pair rule: x + lambda * (1 - x)^mu_plus * (Kplus * exp((t_last - (t_u + d)) / tau_plus)),
 * x = w / Wmax, times Wmax below 1, else Wmax. */
CG_FN double cg_stdp_facilitate(double wt, double kplus, cg_i64 tlast, cg_i64 u, cg_i64 d, const cg_stdp *S)
{
    const double minus_dt = cg_dsub(cg_ms(S, tlast), cg_dadd(cg_ms(S, u), cg_dmul((double)d, S->ms_per_step)));
    if (S->rule == CG_RULE_PAIR) {
        const double x = cg_ddiv(wt, S->wmax);
        const double trace = cg_dmul(kplus, cg_pexp(cg_ddiv(minus_dt, S->tau_plus)));
        const double norm_w = cg_dadd(x, cg_dmul(cg_dmul(S->lam, cg_spow(cg_dsub(1.0, x), S->mu_plus)), trace));
        return norm_w < 1.0 ? cg_dmul(norm_w, S->wmax) : S->wmax;
    }
    const double trace = cg_dmul(kplus, cg_pexp(cg_dmul(minus_dt, S->tau_plus_inv)));
    return cg_dadd(wt, cg_dmul(cg_dmul(S->lam, cg_ppow(wt, S->mu)), trace));
}

/* The pair rule's count facilitations before the pre's first spike (Kplus = 0),
 * up to the fixed point of their rounding (cpu._facilitate_unprimed). */
CG_FN double cg_stdp_facilitate_unprimed(double wt, cg_i64 count, const cg_stdp *S)
{
    for (cg_i64 c = 0; c < count; ++c) {
        const double new_w = cg_stdp_facilitate(wt, 0.0, 0, 0, 0, S);
        if (new_w == wt) break;
        wt = new_w;
    }
    return wt;
}

/* Depression by Kminus(t - d), the trace k_u of post spike u decayed to stamp - d
 * (k_u = 0: none; cpu._depress). Power law: max(0, w - lambda * alpha * w * Kminus);
 * pair rule: x - alpha * lambda * x^mu_minus * Kminus, x = w / Wmax, times Wmax if > 0, else 0. */
CG_FN double cg_stdp_depress(double wt, double k_u, cg_i64 u, cg_i64 stamp, cg_i64 d, const cg_stdp *S,
                             double tau_minus_inv)
{
    double kminus = 0.0;
    if (k_u != 0.0) {
        const double t_k = cg_dsub(cg_ms(S, stamp), cg_dmul((double)d, S->ms_per_step));
        kminus = cg_dmul(k_u, cg_pexp(cg_dmul(cg_dsub(cg_ms(S, u), t_k), tau_minus_inv)));
    }
    if (S->rule == CG_RULE_PAIR) {
        const double x = cg_ddiv(wt, S->wmax);
        const double norm_w = cg_dsub(x, cg_dmul(cg_dmul(cg_dmul(S->alpha, S->lam), cg_spow(x, S->mu_minus)),
                                                 kminus));
        return norm_w > 0.0 ? cg_dmul(norm_w, S->wmax) : 0.0;
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
    if (kplus == 0.0 && S->rule == CG_RULE_PAIR) wt = cg_stdp_facilitate_unprimed(wt, last + 1, S);
    if (jk >= oldest)
        *out = cg_stdp_depress(wt, Ki[jk & mask], Ti[jk & mask], stamp, d, S, S->tau_minus_inv[i]);
    else
        *out = cg_stdp_depress(wt, 0.0, 0, stamp, d, S, 0.0);
    return 1;
}

/* The rule's new weight for a pre spike stamped stamp through delay d
 * onto local post i, from the pre's previous trace kplus and stamp tlast
 * (cpu._stdp_update): the short ring first, then the long history. *lost = 1
 * (weight unchanged) when even the history lacks a spike the rule needs. */
CG_FN double cg_stdp_update(double wt, cg_i64 i, double kplus, cg_i64 tlast, cg_i64 stamp, cg_i64 d,
                            const cg_stdp *S, int *lost)
{
    const cg_i64 n = S->hist_n[i];
    if (n == 0) return cg_stdp_depress(wt, 0.0, 0, stamp, d, S, 0.0); /* no post spike yet: Kminus = 0 */
    double new_w;
    if (cg_update_from_ring(wt, i, n, kplus, tlast, stamp, d, S, S->last_t, S->last_k, S->K, &new_w)) return new_w;
    if (!cg_update_from_ring(wt, i, n, kplus, tlast, stamp, d, S, S->hist_t, S->hist_k, S->H, &new_w)) *lost = 1;
    return new_w;
}

/* A spike of pre p (stamp) enters ring entry pos: copy its trace there, then
 * advance it, Kplus = Kplus * exp((t_last - t) / tau_plus) + 1 (cpu._pre_spike;
 * the power law multiplies by 1 / tau_plus, the pair rule divides by tau_plus).
 * The caller is the only thread touching pre p in this step. */
CG_FN void cg_pre_spike(const cg_stdp *S, double *ring_kplus, cg_i64 *ring_tlast, cg_i64 pos, cg_i64 p,
                        cg_i64 stamp)
{
    const double k = S->kplus[p];
    const cg_i64 tl = S->tlast[p];
    ring_kplus[pos] = k;
    ring_tlast[pos] = tl;
    const double dt = cg_dsub(cg_ms(S, tl), cg_ms(S, stamp));
    const double arg = S->rule == CG_RULE_PAIR ? cg_ddiv(dt, S->tau_plus) : cg_dmul(dt, S->tau_plus_inv);
    S->kplus[p] = cg_dadd(cg_dmul(k, cg_pexp(arg)), 1.0);
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
