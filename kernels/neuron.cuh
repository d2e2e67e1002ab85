/*
 * kernels/neuron.cuh -- one neuron's step: generator drive, then the exact
 * update of iaf_psc_exp / iaf_psc_alpha / iaf_psc_delta, or parrot_neuron's repetition of the
 * spikes that arrived, as cpu.drive and cpu.update do it.
 * Shared by kernels/update.cu (one thread per neuron) and the host harness of
 * tests/test_kernels_host.py.
 *
 * Invariants kept here:
 *  - ownership (I1): the caller is the only writer of neuron i's state and
 *    accumulators during the step; nothing here touches another neuron;
 *  - bit identity with the CPU backend (I3): the same propagators (computed on
 *    the host by cortex_gpu/models), the same operations in the same order, no FMA
 *    contraction (build with nvcc/NVRTC --fmad=false, g++ -ffp-contract=off;
 *    numba emits no FMA for cpu.update, checked with inspect_asm), Poisson
 *    counts from the same keyed Philox block and the same CDF tables.
 *
 * iaf_cond_exp (kind 2) is not mirrored: its adaptive RKF45 step control calls
 * pow(), which is not correctly rounded in either libm or CUDA, so the two
 * backends could drift apart; the CUDA backend refuses such models.
 */
#ifndef CORTEX_GPU_NEURON_CUH
#define CORTEX_GPU_NEURON_CUH

#include "philox.cuh"
#include "delivery.cuh" /* CG_INV_FIXED */

/* Columns of the propagator table (cortex_gpu/models/_base.py PROP_COLUMNS;
 * tests/test_kernels_host.py checks these against it). */
#define CG_P22 0
#define CG_P21EX 1
#define CG_P21IN 2
#define CG_P20 3
#define CG_P11EX 4
#define CG_P11IN 5
#define CG_P31EX 6
#define CG_P31IN 7
#define CG_P21IEX 8
#define CG_P21IIN 9
#define CG_PSC0EX 10
#define CG_PSC0IN 11
#define CG_IE 12
#define CG_THETA 13
#define CG_VRESET 14
#define CG_EL 15
#define CG_VMIN 16
#define CG_REFR_INPUT 39
#define CG_N_PROP 40

#define CG_KIND_PSC_EXP 0
#define CG_KIND_PARROT 3         /* cpu.PARROT (models/parrot_neuron.py) */
#define CG_KIND_PSC_DELTA 8      /* cpu.PSC_DELTA (models/iaf_psc_delta.py) */
#define CG_PARROT_MAX_COPIES 16  /* cpu.PARROT_MAX_COPIES: most copies of one spike a parrot repeats */
#define CG_KIND_DC 1            /* g_kind of a dc_generator (0: poisson_generator) */
#define CG_GUIDE_SIZE 256       /* philox.GUIDE_SIZE */
#define CG_POISSON_STREAM (5u << 24)   /* keys.POISSON, cpu._POISSON_STREAM */
/* the generators of cortex_gpu/generators.py read from the table (cpu.GEN_*), TAB_ROW doubles per step */
#define CG_KIND_TABLE_CURRENT 2 /* step_current_generator, ac_generator: (I, -, -) */
#define CG_KIND_NOISE 3         /* noise_generator: (mean, sigma, draw k) */
#define CG_KIND_SIN_POISSON 4   /* sinusoidal_poisson_generator: (lam, exp(-lam), -), a train per target */
#define CG_KIND_SIN_SHARED 5    /* the same, one train for all targets */
#define CG_KIND_PULSE 6         /* pulsepacket_generator: (spikes in the step, -, -), the same for all targets */
#define CG_TAB_ROW 3
#define CG_NOISE_STREAM (12u << 24)       /* keys.NOISE, cpu._NOISE_STREAM */
#define CG_SIN_POISSON_STREAM (13u << 24) /* keys.SIN_POISSON */
#define CG_SIN_SHARED_STREAM (14u << 24)  /* keys.SIN_POISSON_SHARED */

/* The local neurons (cpu.Neurons): per neuron gid, parameter set, state and
 * fixed-point accumulators; per parameter set its propagator row (CG_N_PROP
 * float64), model kind and refractory steps. Voltages are relative to E_L. */
typedef struct {
    const cg_i64 *gid;
    const int *pset;
    const double *prop;
    const signed char *kind;
    const int *refr_steps;
    double *V, *I_ex, *I_in, *dI_ex, *dI_in, *i_0, *i0_next;
    int *refr;
    cg_i64 *acc_ex, *acc_in;
} cg_neurons;

/* Generator drive (cpu.Drives), regrouped per target neuron: its entries
 * [ptr[i], ptr[i+1]) in connection order, each with its connection, weight
 * and fixed-point weight; per connection its generator, delay (steps) and key;
 * per generator its kind, value (expected spikes per step, or pA), CDF table
 * (from g_cdf_lo in cdf, guide at g * CG_GUIDE_SIZE) and active emission steps
 * [g_start, g_stop); the table generators' rows, step s of generator g at
 * tab[g_tab_lo[g] + CG_TAB_ROW * s]. */
typedef struct {
    const cg_i64 *ptr;
    const int *conn;
    const double *w;
    const cg_i64 *wfx;
    const int *c_gen;
    const cg_i64 *c_delay;
    const cg_i64 *c_key;
    const int *g_kind;
    const double *g_value;
    const cg_i64 *g_cdf_lo;
    const double *cdf;
    const cg_i64 *guide;
    const cg_i64 *g_start, *g_stop;
    int has_dc;
    const double *tab;
    const cg_i64 *g_tab_lo;
} cg_drives;

/* Generator input to neuron i (gid) at step t, as cpu.drive computes it:
 * Poisson counts times the fixed-point weight into *ax / *ai, and the
 * returned dc current for the next step (summed in connection order,
 * from 0 when any dc_generator is connected, else the unchanged i0_next).
 * The count of (connection key, gid, emission step s) is word gid % 4 of the
 * Philox block keyed (POISSON | key, gid / 4, s). */
CG_FN double cg_drive_neuron(cg_i64 i, cg_i64 t, cg_u32 seed, cg_i64 gid, const cg_drives *G, double i0_next,
                             cg_i64 *ax, cg_i64 *ai)
{
    double i0 = G->has_dc ? 0.0 : i0_next;
    for (cg_i64 e = G->ptr[i]; e < G->ptr[i + 1]; ++e) {
        const int c = G->conn[e];
        const int g = G->c_gen[c];
        const cg_i64 s = t - G->c_delay[c];
        if (s < G->g_start[g] || s >= G->g_stop[g]) continue;
        const double w = G->w[e];
        const int kd = G->g_kind[g];
        if (kd == CG_KIND_DC) {
            i0 = i0 + w * G->g_value[g];
            continue;
        }
        if (kd == CG_KIND_TABLE_CURRENT) {
            i0 = i0 + w * G->tab[G->g_tab_lo[g] + CG_TAB_ROW * s];
            continue;
        }
        if (kd == CG_KIND_NOISE) {   /* mean + sigma * (normal draw k of this connection and target) */
            const double *row = G->tab + G->g_tab_lo[g] + CG_TAB_ROW * s;
            cg_u32 sub = 0u;
            const cg_u32 k_draw = (cg_u32)(cg_i64)row[2];
            const double z = cg_normal(seed, CG_NOISE_STREAM | (cg_u32)G->c_key[c], (cg_u64)gid, k_draw, &sub);
            i0 = i0 + w * (row[0] + row[1] * z);
            continue;
        }
        if (kd == CG_KIND_SIN_POISSON || kd == CG_KIND_SIN_SHARED || kd == CG_KIND_PULSE) {
            const double *row = G->tab + G->g_tab_lo[g] + CG_TAB_ROW * s;
            if (row[0] == 0.0) continue;
            cg_u32 sub = 0u;
            const cg_i64 k = kd == CG_KIND_PULSE ? (cg_i64)row[0]
                : kd == CG_KIND_SIN_SHARED
                ? cg_poisson(row[0], row[1], seed, CG_SIN_SHARED_STREAM | (cg_u32)g, 0u, (cg_u32)s, &sub)
                : cg_poisson(row[0], row[1], seed, CG_SIN_POISSON_STREAM | (cg_u32)G->c_key[c], (cg_u64)gid,
                             (cg_u32)s, &sub);
            if (w >= 0.0) *ax += k * G->wfx[e];
            else *ai += k * G->wfx[e];
            continue;
        }
        if (G->g_value[g] == 0.0) continue;
        const cg_u32x4 x = cg_block(seed, CG_POISSON_STREAM | (cg_u32)G->c_key[c], (cg_u64)(gid >> 2), (cg_u32)s, 0u);
        const int w4 = (int)(gid & 3);   /* the word of this gid in its block */
        const cg_u32 word = w4 == 0 ? x.x0 : w4 == 1 ? x.x1 : w4 == 2 ? x.x2 : x.x3;
        const cg_i64 k = cg_invert_cdf_u32(G->cdf + G->g_cdf_lo[g], G->guide + (cg_i64)g * CG_GUIDE_SIZE, word);
        if (w >= 0.0) *ax += k * G->wfx[e];
        else *ai += k * G->wfx[e];
    }
    return i0;
}

/* Advance neuron i over step t in NEST's order (cpu.update): read and clear
 * its accumulators (delivery's sums plus this step's drive), integrate with
 * the propagators, threshold. Returns 1 when it spiked. */
CG_FN int cg_step_neuron(cg_i64 i, cg_i64 t, cg_u32 seed, const cg_neurons *N, const cg_drives *G)
{
    cg_i64 ax = N->acc_ex[i], ai = N->acc_in[i];
    const double i0n = cg_drive_neuron(i, t, seed, N->gid[i], G, N->i0_next[i], &ax, &ai);
    N->acc_ex[i] = 0;
    N->acc_in[i] = 0;
    const int q = N->pset[i];
    const double *P = N->prop + (cg_i64)q * CG_N_PROP;
    const double ex = (double)ax * CG_INV_FIXED;
    const double inh = (double)ai * CG_INV_FIXED;
    if (N->kind[q] == CG_KIND_PARROT) {
        /* no state: the spikes that arrived (counted in acc_in, -1.0 each) are repeated in this step,
         * their number, the multiplicity, left in refr for merge_step; i_0 is not a parrot's */
        N->i0_next[i] = i0n;
        if (inh < 0.0) {
            N->refr[i] = (int)(-inh);
            return 1;
        }
        return 0;
    }
    const double i_0 = N->i_0[i];
    double V = N->V[i];
    int refr = N->refr[i];
    if (N->kind[q] == CG_KIND_PSC_EXP) {
        const double I_ex = N->I_ex[i], I_in = N->I_in[i];
        if (refr == 0)
            V = V * P[CG_P22] + I_ex * P[CG_P21EX] + I_in * P[CG_P21IN] + (P[CG_IE] + i_0) * P[CG_P20];
        else
            refr -= 1;
        N->I_ex[i] = I_ex * P[CG_P11EX] + ex;
        N->I_in[i] = I_in * P[CG_P11IN] + inh;
    } else if (N->kind[q] == CG_KIND_PSC_DELTA) {
        /* the step's input jumps V; I_ex holds the input kept while refractory (refractory_input),
         * decayed by P22 per refractory step left, added in the first step after */
        if (refr == 0) {
            V = P[CG_P20] * (i_0 + P[CG_IE]) + P[CG_P22] * V + (ex + inh);
            if (N->I_ex[i] != 0.0) {
                V += N->I_ex[i];
                N->I_ex[i] = 0.0;
            }
            if (V < P[CG_VMIN]) V = P[CG_VMIN];
        } else {
            if (P[CG_REFR_INPUT] != 0.0) N->I_ex[i] = (N->I_ex[i] + (ex + inh)) * P[CG_P22];
            refr -= 1;
        }
    } else { /* iaf_psc_alpha */
        const double I_ex = N->I_ex[i], I_in = N->I_in[i], dI_ex = N->dI_ex[i], dI_in = N->dI_in[i];
        if (refr == 0) {
            V = P[CG_P20] * (i_0 + P[CG_IE]) + P[CG_P31EX] * dI_ex + P[CG_P21EX] * I_ex + P[CG_P31IN] * dI_in
                + P[CG_P21IN] * I_in + P[CG_P22] * V + V;
            if (V < P[CG_VMIN]) V = P[CG_VMIN];
        } else {
            refr -= 1;
        }
        N->I_ex[i] = P[CG_P21IEX] * dI_ex + P[CG_P11EX] * I_ex;
        N->dI_ex[i] = dI_ex * P[CG_P11EX] + P[CG_PSC0EX] * ex;
        N->I_in[i] = P[CG_P21IIN] * dI_in + P[CG_P11IN] * I_in;
        N->dI_in[i] = dI_in * P[CG_P11IN] + P[CG_PSC0IN] * inh;
    }
    int spiked = 0;
    if (V >= P[CG_THETA]) {
        refr = N->refr_steps[q];
        V = P[CG_VRESET];
        spiked = 1;
    }
    N->V[i] = V;
    N->refr[i] = refr;
    N->i0_next[i] = i0n;
    N->i_0[i] = i0n;
    return spiked;
}

/* A multimeter sample of neuron i (cpu._sample): variable v of
 * record.RECORDABLE_CODES, 0: V_m (absolute, mV), 1: I_ex (pA) or g_ex (nS),
 * 2: I_in or g_in. */
CG_FN double cg_state_value(int v, cg_i64 i, const double *V, const double *I_ex, const double *I_in,
                            const int *pset, const double *prop)
{
    if (v == 0) return V[i] + prop[(cg_i64)pset[i] * CG_N_PROP + CG_EL];
    return v == 1 ? I_ex[i] : I_in[i];
}

#endif /* CORTEX_GPU_NEURON_CUH */
