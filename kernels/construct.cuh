/*
 * kernels/construct.cuh -- the per-synapse draws of the local construction
 * (cortex_gpu/build.py, passes 1 and 2) for the device builder
 * (kernels/construct.cu, cortex_gpu/backends/cuda_build.py).
 *
 * An *entry* is one (local post, projection) pair of build._plan. For it,
 * cg_draw_pres is the twin of connect.draw_pres and cg_synapse_value the twin
 * of the per-synapse branch of build._pass_fill: the same keyed Philox blocks
 * in the same order, the same IEEE operations (philox.cuh, distributions.cuh).
 *
 * Invariant: a synapse's pre gid, weight and delay depend only on (seed,
 * projection, post gid, synapse index j), as on the CPU (I2, I3), so the
 * device build draws exactly the CPU build's synapses.
 *
 * Host+device (CG_FN): tests/cuda_emulator/emulator.cpp runs the same code
 * serially on the CPU.
 */
#ifndef CORTEX_GPU_CONSTRUCT_CUH
#define CORTEX_GPU_CONSTRUCT_CUH

#include "distributions.cuh"
#include "delivery.cuh"   /* cg_u16 */
#include "search.cuh"

#define CG_RULE_ONE_TO_ONE 0
#define CG_RULE_ALL_TO_ALL 1
#define CG_RULE_FIXED_INDEGREE 2
#define CG_RULE_FIXED_TOTAL 3
#define CG_RULE_BERNOULLI 4
/* A weight or delay row of kind -1 indexes per-connection values (connect.KIND_ARRAY). */
#define CG_KIND_ARRAY_ROW -1.0
/* Error codes of build._pass_fill (_ERR_DELAY, _ERR_REDRAW, _ERR_DELAY_MAX). */
#define CG_BUILD_ERR_DELAY 1
#define CG_BUILD_ERR_REDRAW 2
#define CG_BUILD_ERR_DELAY_MAX 3

/* build._Plan's tables, as the device builder uploads them; per projection p:
 * rule, pre set pre_flat[pre_off[p] .. pre_off[p + 1]) (sorted gids, or the
 * pairs' pres for one_to_one), log(1 - p), autapses/multapses flags, weight
 * and delay rows (5 doubles each) and the grid-delay table (d_tab_lo[p] < 0:
 * none). Streams: (key << 24) | p, keys as in cortex_gpu/keys.py. */
typedef struct {
    const cg_i64 *rule, *pre_off, *pre_flat;
    const double *log1m;
    const unsigned char *autapses, *multapses;
    const double *w_row, *d_row, *values;
    const cg_i64 *d_tab_lo, *d_tab_g0, *d_tab_k0;
    const double *d_tab;
    const cg_i64 *d_guide;
    const double *zx, *zf;      /* the ziggurat's tables, philox._ZIG_X and _ZIG_F */
    double steps_per_ms;
    cg_u32 seed, key_pre, key_weight, key_delay;
} cg_plan;

/* Whether g is among out_gid[0 .. j): connect.draw_pres's marker test. The
 * pre set is sorted and repeat-free, so equal gids are equal pre indices. */
CG_FN int cg_taken(const cg_i64 *out_gid, cg_i64 j, cg_i64 g)
{
    for (cg_i64 i = 0; i < j; ++i)
        if (out_gid[i] == g) return 1;
    return 0;
}

/* Pre gids of the synapses of post post_gid in projection p (connect.draw_pres):
 * written to out_gid[j], j < n, unless out_gid is null (count only); returns n.
 * count and aux are the entry's (build._plan). */
CG_FN cg_i64 cg_draw_pres(const cg_plan *P, int p, cg_i64 post_gid, cg_i64 count, cg_i64 aux, cg_i64 *out_gid)
{
    const cg_i64 *pre_set = P->pre_flat + P->pre_off[p];
    const cg_i64 n_pre = P->pre_off[p + 1] - P->pre_off[p];
    const cg_u32 s_pre = (P->key_pre << 24) | (cg_u32)p;
    const int autapses = P->autapses[p], multapses = P->multapses[p];
    const cg_i64 rule = P->rule[p];
    cg_i64 n = 0;
    if (rule == CG_RULE_ONE_TO_ONE) {
        if (out_gid)
            for (cg_i64 k = 0; k < count; ++k) out_gid[k] = pre_set[aux + k];
        return count;
    }
    if (rule == CG_RULE_ALL_TO_ALL) {
        for (cg_i64 k = 0; k < n_pre; ++k) {
            const cg_i64 g = pre_set[k];
            if (g == post_gid && !autapses) continue;
            if (out_gid) out_gid[n] = g;
            ++n;
        }
        return n;
    }
    if (rule == CG_RULE_FIXED_INDEGREE || rule == CG_RULE_FIXED_TOTAL) {
        if (!out_gid) return count;
        for (cg_i64 j = 0; j < count; ++j) {
            const cg_u32x4 w = cg_block(P->seed, s_pre, (cg_u64)post_gid, (cg_u32)j, 0);
            cg_i64 k = cg_uniform_int_words(n_pre, w.x0, w.x1);
            cg_i64 g = pre_set[k];
            if (!(autapses && multapses)) {
                cg_u32 sub = 1;
                for (;;) {
                    int ok = autapses || g != post_gid;
                    if (ok && !multapses) ok = !cg_taken(out_gid, j, g);
                    if (ok) break;
                    k = cg_uniform_int(n_pre, P->seed, s_pre, (cg_u64)post_gid, (cg_u32)j, &sub);
                    g = pre_set[k];
                }
            }
            out_gid[j] = g;
        }
        return count;
    }
    /* pairwise_bernoulli: geometric gaps between successes */
    const double l1m = P->log1m[p];
    if (l1m == 0.0) return 0;
    const int certain = l1m < 0.0 && l1m == l1m && cg_dmul(l1m, 0.5) == l1m;   /* -inf: p = 1 */
    cg_i64 k = -1;
    for (cg_u32 step = 0;; ++step) {
        if (certain) {
            k += 1;
        } else {
            cg_u32 sub = 0;
            const double u = cg_uniform(P->seed, s_pre, (cg_u64)post_gid, step, &sub);
            const double gap = cg_ddiv(cg_plog(u), l1m);
            if (gap >= (double)n_pre) break;   /* k would pass n_pre (and not fit an int64 for tiny p) */
            k += 1 + (cg_i64)gap;
        }
        if (k >= n_pre) break;
        const cg_i64 g = pre_set[k];
        if (g == post_gid && !autapses) continue;
        if (out_gid) out_gid[n] = g;
        ++n;
    }
    return n;
}

/* connect.syn_value: a draw of row, or values[row[1] + conn] for per-connection values. */
CG_FN double cg_syn_value(const cg_plan *P, const double *row, cg_i64 conn, cg_u32 stream, cg_i64 post_gid,
                          cg_i64 j)
{
    if (row[0] == CG_KIND_ARRAY_ROW) return P->values[(cg_i64)row[1] + conn];
    return cg_draw(row, P->zx, P->zf, P->seed, stream, (cg_u64)post_gid, (cg_u32)j);
}

/* Weight and delay (steps) of synapse j of post post_gid in projection p, whose
 * pre is g (build._pass_fill's per-synapse branch): 0, or the error code with
 * the offending value in *bad. */
CG_FN int cg_synapse_value(const cg_plan *P, int p, cg_i64 post_gid, cg_i64 aux, cg_i64 j, cg_i64 g,
                           double *w_out, cg_i64 *d_out, cg_i64 *bad)
{
    const cg_i64 rule = P->rule[p];
    const cg_i64 n_pre = P->pre_off[p + 1] - P->pre_off[p];
    const double *wr = P->w_row + 5 * p, *dr = P->d_row + 5 * p;
    const cg_u32 s_pre = (P->key_pre << 24) | (cg_u32)p;
    const cg_u32 s_w = (P->key_weight << 24) | (cg_u32)p, s_d = (P->key_delay << 24) | (cg_u32)p;
    const cg_i64 t_lo = P->d_tab_lo[p];
    const int shared = rule == CG_RULE_FIXED_INDEGREE || rule == CG_RULE_FIXED_TOTAL;
    const int fast_w = shared && (wr[0] == 1.0 || wr[0] == 3.0);   /* normal, lognormal rows */
    const int fast_d = shared && t_lo >= 0;
    cg_i64 conn = -1;                                              /* draw_pres's out_conn */
    if (rule == CG_RULE_ONE_TO_ONE) conn = aux + j;
    else if (rule == CG_RULE_ALL_TO_ALL)                           /* g's place in the sorted pre set */
        conn = aux * n_pre + cg_first_at_least(P->pre_flat + P->pre_off[p], 0, n_pre, g);
    cg_u32x4 b = {0, 0, 0, 0};
    if (shared) b = cg_block(P->seed, s_pre, (cg_u64)post_gid, (cg_u32)j, 0);   /* the pre's block */
    double w;
    if (fast_w) {
        const double z = cg_zig_fast(P->zx, b.x3, cg_zig_layer(b.x0, b.x1));
        w = cg_shared_block_weight(wr, z, b.x0, b.x1, b.x3, P->zx, P->zf, P->seed, s_w, (cg_u64)post_gid, (cg_u32)j);
    } else {
        w = cg_syn_value(P, wr, conn, s_w, post_gid, j);
    }
    double d;
    if (t_lo >= 0) {
        const cg_u32 x = fast_d ? b.x2 : cg_block(P->seed, s_d, (cg_u64)post_gid, (cg_u32)j, 0).x0;
        d = (double)(P->d_tab_k0[p] + cg_invert_cdf_u32(P->d_tab + t_lo, P->d_guide + P->d_tab_g0[p], x));
    } else {
        d = floor(cg_dadd(cg_dmul(cg_syn_value(P, dr, conn, s_d, post_gid, j), P->steps_per_ms), 0.5));
    }
    if (w != w || d != d) return CG_BUILD_ERR_REDRAW;
    if (d < 1.0 || d > 65535.0) {
        *bad = (cg_i64)(d < -1.0 ? -1.0 : (d > 1e9 ? 1e9 : d));
        return d < 1.0 ? CG_BUILD_ERR_DELAY : CG_BUILD_ERR_DELAY_MAX;
    }
    *w_out = w;
    *d_out = (cg_i64)d;
    return 0;
}

/* The draws of entry e (local post entry_local[e], projection entry_proj[e]).
 * count_only: entry_n[e] = its synapses. Otherwise its synapses go to the
 * section's scratch at entry_off[e] - entry_off[e0]: gid (int64), delay (steps),
 * weight (double), post (index in the section, from section_base); a synapse
 * that fails sets err_code[e] / err_value[e] (build._pass_fill's codes) and is
 * left unwritten (the build then stops with the error). */
CG_FN void cg_draw_entry(const cg_plan *P, int count_only, cg_i64 e, cg_i64 e0, const cg_i64 *entry_local,
                         const cg_i64 *entry_proj, const cg_i64 *entry_count, const cg_i64 *entry_aux,
                         const cg_i64 *entry_off, const cg_i64 *local_gid, cg_i64 section_base, cg_i64 *entry_n,
                         cg_i64 *gid, int *delay, double *weight, cg_u16 *post, int *err_code, cg_i64 *err_value)
{
    const cg_i64 i = entry_local[e];
    const int p = (int)entry_proj[e];
    const cg_i64 g_post = local_gid[i];
    if (count_only) {
        entry_n[e] = cg_draw_pres(P, p, g_post, entry_count[e], entry_aux[e], nullptr);
        return;
    }
    const cg_i64 base = entry_off[e] - entry_off[e0];
    const cg_i64 n = cg_draw_pres(P, p, g_post, entry_count[e], entry_aux[e], gid + base);
    for (cg_i64 j = 0; j < n; ++j) {
        double w = 0.0;
        cg_i64 d = 0, bad = 0;
        const int code = cg_synapse_value(P, p, g_post, entry_aux[e], j, gid[base + j], &w, &d, &bad);
        if (code) {
            err_code[e] = code;
            err_value[e] = bad;
            continue;
        }
        delay[base + j] = (int)d;
        weight[base + j] = w;
        post[base + j] = (cg_u16)(i - section_base);
    }
}

/* key[k] of synapse k of the section: its pre's index in the sorted pre_gids,
 * its delay relative to m (W = D - m + 1 delays) and, in the low pos_bits
 * bits, k itself, so that the keys are distinct and their order is stable. */
CG_FN cg_u64 cg_synapse_key(const cg_i64 *gid, const int *delay, const cg_i64 *pre_gids, cg_i64 n_pre, int m,
                            int W, int pos_bits, cg_i64 k)
{
    const cg_i64 q = cg_first_at_least(pre_gids, 0, n_pre, gid[k]);
    return ((cg_u64)(q * W + (delay[k] - m)) << pos_bits) | (cg_u64)k;
}

/* Output k of a sorted section: the post index and the weight (rounded to the
 * layout's type WT, as numpy's assignment rounds) of the synapse at the
 * position in key[k]'s low pos_bits bits. */
template <typename WT>
CG_FN void cg_gather_sorted(cg_i64 k, const unsigned long long *key, int pos_bits, const cg_u16 *post,
                            const double *weight, cg_u16 *syn_post, WT *syn_weight)
{
    const cg_i64 at = (cg_i64)(key[k] & ((1ULL << pos_bits) - 1));
    syn_post[k] = post[at];
    syn_weight[k] = (WT)weight[at];
}

/* Segment of pre p in the section (global segment seg0 + p): its length
 * seg_len[seg0 + p], and the start of each delay's run relative to it,
 * delay_off[(seg0 + p) * (W - 1) + d - 1] for delays m + d, 0 < d < W (the
 * layout's tables). Binary searches in the sorted keys; no run is written by
 * two threads. */
template <typename DOFF>
CG_FN void cg_segment_tables(cg_i64 p, cg_i64 n, const unsigned long long *key, int pos_bits, int W, cg_i64 seg0,
                             DOFF *delay_off, cg_i64 *seg_len)
{
    const cg_i64 first = cg_first_at_least(key, 0, n, (cg_u64)(p * W) << pos_bits);
    for (int d = 1; d < W; ++d) {
        const cg_i64 at = cg_first_at_least(key, 0, n, (cg_u64)(p * W + d) << pos_bits);
        delay_off[(seg0 + p) * (W - 1) + d - 1] = (DOFF)(at - first);
    }
    seg_len[seg0 + p] = cg_first_at_least(key, 0, n, (cg_u64)((p + 1) * W) << pos_bits) - first;
}

#endif /* CORTEX_GPU_CONSTRUCT_CUH */
