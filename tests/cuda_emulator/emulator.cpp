/*
 * tests/cuda_emulator/emulator.cpp -- the CUDA kernels of kernels/ run serially
 * on the CPU, for tests without a GPU.
 *
 * Each function has its kernel's name and parameters, preceded by the launch's
 * grid and block sizes (threads per block); fake_cupy.py calls it where CuPy
 * would launch the kernel. The per-thread work is the kernels' own code: the
 * host+device helpers of kernels/delivery.cuh and kernels/neuron.cuh
 * and kernels/stdp.cuh and kernels/exchange.cuh (cg_block_run, cg_flat_synapse,
 * cg_flat_count, cg_last_le, cg_step_neuron, cg_state_value, cg_stdp_update,
 * cg_pre_spike, cg_post_spike, cg_merge_entry, cg_received_pre, cg_spike_word, and the
 * construction's cg_draw_entry, cg_synapse_key, cg_segment_tables), compiled
 * here with g++ -ffp-contract=off. What the emulation replaces
 * is what only a GPU has: warps and thread blocks run one lane after another,
 * shuffles and block scans become loops, __match_any_sync becomes a search for
 * lanes with the same post, and a plastic synapse due twice in a step is
 * updated in flat (ring) order, the order the kernel's lowest lane keeps.
 * Those CUDA-only parts are checked on a GPU by the
 * tests marked gpu, not here.
 */
#include <algorithm>
#include <vector>

#include "construct.cuh"
#include "delivery.cuh"
#include "exchange.cuh"
#include "merge.cuh"
#include "neuron.cuh"
#include "stdp.cuh"

#define EMU extern "C"

EMU void gather_due(int grid, int block, const cg_i64 *clock, const int *ring_pre, const int *ring_count,
                    int n_slots, int cap, int m, int D, int *due_pre, cg_u16 *due_d, int *due_at, int *n_due)
{
    (void)grid;
    const cg_i64 t = clock[0];
    std::vector<int> off(block);
    int done = 0;
    for (int d0 = m; d0 <= D; d0 += block) {
        int total = 0;                                  /* the block's exclusive scan */
        for (int j = 0; j < block; ++j) {
            off[j] = total;
            total += d0 + j <= D ? ring_count[cg_slot(t, d0 + j, n_slots)] : 0;
        }
        const int n_d = std::min(block, D - d0 + 1);
        for (int f = 0; f < total; ++f) {
            const int j = cg_last_le(off.data(), n_d, f);
            const int slot = cg_slot(t, d0 + j, n_slots);
            due_at[done + f] = slot * cap + (f - off[j]);
            due_pre[done + f] = ring_pre[due_at[done + f]];
            due_d[done + f] = (cg_u16)(d0 + j);
        }
        done += total;
    }
    *n_due = done;
}

template <typename W, typename DOFF, bool COUNT>
static void deliver(int grid, int block, const int *due_pre, const cg_u16 *due_d, const int *n_due_p,
                    const cg_i64 *seg_off, const DOFF *delay_off, const cg_u16 *syn_post, const W *syn_weight,
                    cg_i64 n_pre, int m, int D, int S, const int *blk_lo, const int *blk_hi, int n_blk,
                    cg_i64 *acc_ex, cg_i64 *acc_in)
{
    const int n_warps = std::min(grid * (block / 32), n_blk);   /* warps past n_blk return at once */
    const int n_due = *n_due_p;
    for (int b = 0; b < n_warps; ++b) {
        const int lo = blk_lo[b], hi = blk_hi[b];
        const int s = lo / S, base = s * S;
        for (int r = 0; r < n_due; r += 32) {
            int off[32];
            cg_i64 k0s[32];
            int total = 0;                              /* the warp's scan of run lengths */
            for (int lane = 0; lane < 32; ++lane) {
                cg_i64 k0 = 0, k1 = 0;
                const int e = r + lane;
                if (e < n_due)
                    cg_block_run(seg_off, delay_off, syn_post, n_pre, m, D, S, s, due_pre[e], (int)due_d[e],
                                 lo - base, hi - base, &k0, &k1);
                off[lane] = total;
                k0s[lane] = k0;
                total += (int)(k1 - k0);
            }
            for (int c = 0; c < total; c += 32) {
                int post[32];
                cg_i64 ex[32], in[32];
                for (int lane = 0; lane < 32; ++lane) {
                    post[lane] = -1 - lane;
                    ex[lane] = in[lane] = 0;
                    if (c + lane < total)
                    {
                        if (COUNT) cg_flat_count(off, k0s, c + lane, syn_post, &post[lane], &ex[lane], &in[lane]);
                        else cg_flat_synapse(off, k0s, c + lane, syn_post, syn_weight, &post[lane], &ex[lane],
                                             &in[lane]);
                    }
                }
                for (int lane = 0; lane < 32; ++lane) {   /* the lowest lane of each post writes */
                    if (post[lane] < 0) continue;
                    bool leader = true;
                    for (int j = 0; j < lane; ++j) leader = leader && post[j] != post[lane];
                    if (!leader) continue;
                    cg_i64 sum_ex = 0, sum_in = 0;
                    for (int j = lane; j < 32; ++j)
                        if (post[j] == post[lane]) { sum_ex += ex[j]; sum_in += in[j]; }
                    if (sum_ex) acc_ex[base + post[lane]] += sum_ex;
                    if (sum_in) acc_in[base + post[lane]] += sum_in;
                }
            }
        }
    }
}

#define EMU_DELIVER(NAME, W, DOFF)                                                                             \
    EMU void NAME(int grid, int block, const int *due_pre, const cg_u16 *due_d, const int *n_due,             \
                  const cg_i64 *seg_off, const DOFF *delay_off, const cg_u16 *syn_post, const W *syn_weight,   \
                  cg_i64 n_pre, int m, int D, int S, const int *blk_lo, const int *blk_hi, int n_blk,          \
                  cg_i64 *acc_ex, cg_i64 *acc_in)                                                              \
    {                                                                                                          \
        deliver<W, DOFF, false>(grid, block, due_pre, due_d, n_due, seg_off, delay_off, syn_post, syn_weight, n_pre,  \
                         m, D, S, blk_lo, blk_hi, n_blk, acc_ex, acc_in);                                      \
    }

EMU_DELIVER(deliver_f32_u16, float, unsigned short)
EMU_DELIVER(deliver_f32_u32, float, unsigned int)
EMU_DELIVER(deliver_f64_u16, double, unsigned short)
EMU_DELIVER(deliver_f64_u32, double, unsigned int)

#define EMU_DELIVER_COUNT(NAME, DOFF)                                                                          \
    EMU void NAME(int grid, int block, const int *due_pre, const cg_u16 *due_d, const int *n_due,             \
                  const cg_i64 *seg_off, const DOFF *delay_off, const cg_u16 *syn_post, cg_i64 n_pre, int m,   \
                  int D, int S, const int *blk_lo, const int *blk_hi, int n_blk, cg_i64 *acc_in)              \
    {                                                                                                          \
        deliver<float, DOFF, true>(grid, block, due_pre, due_d, n_due, seg_off, delay_off, syn_post, nullptr,  \
                                   n_pre, m, D, S, blk_lo, blk_hi, n_blk, nullptr, acc_in);                    \
    }

EMU_DELIVER_COUNT(deliver_count_u16, unsigned short)
EMU_DELIVER_COUNT(deliver_count_u32, unsigned int)

/* deliver_stdp.cu: per warp, the due entries in order and each one's synapses
 * onto the block in post order, each weight updated then delivered; the
 * block's first lost history recorded, as the kernel records it. */
template <typename DOFF>
static void deliver_stdp(int grid, int block, const cg_i64 *clock, const int *due_pre, const cg_u16 *due_d,
                         const int *due_at, const int *n_due_p, const cg_i64 *seg_off, const DOFF *delay_off,
                         const cg_u16 *syn_post, double *syn_weight, cg_i64 n_pre, int m, int D, int S,
                         const int *blk_lo, const int *blk_hi, int n_blk, cg_i64 *acc_ex, cg_i64 *acc_in,
                         const double *ring_kplus, const cg_i64 *ring_tlast, const cg_stdp *P, cg_i64 *blk_err)
{
    const int n_warps = std::min(grid * (block / 32), n_blk);
    const cg_i64 t = clock[0];
    for (int b = 0; b < n_warps; ++b) {
        const int lo = blk_lo[b], hi = blk_hi[b];
        const int s = lo / S, base = s * S;
        for (int e = 0; e < *n_due_p; ++e) {
            cg_i64 k0 = 0, k1 = 0;
            const int d = (int)due_d[e];
            cg_block_run(seg_off, delay_off, syn_post, n_pre, m, D, S, s, due_pre[e], d, lo - base, hi - base, &k0,
                         &k1);
            for (cg_i64 k = k0; k < k1; ++k) {
                const int i = base + (int)syn_post[k];
                int lost = 0;
                const double w = cg_stdp_update(syn_weight[k], i, ring_kplus[due_at[e]], ring_tlast[due_at[e]],
                                                t - d + 1, d, P, &lost);
                syn_weight[k] = w;
                if (w >= 0.0)
                    acc_ex[i] += cg_fixed(w);
                else
                    acc_in[i] += cg_fixed(w);
                cg_i64 *err = blk_err + (cg_i64)b * 5;
                if (lost && err[0] == 0) {
                    err[0] = 1;
                    err[1] = t;
                    err[2] = e;
                    err[3] = i;
                    err[4] = t - d + 1;
                }
            }
        }
    }
}

#define EMU_DELIVER_STDP(NAME, DOFF)                                                                             \
    EMU void NAME(int grid, int block, const cg_i64 *clock, const int *due_pre, const cg_u16 *due_d,            \
                  const int *due_at, const int *n_due, const cg_i64 *seg_off, const DOFF *delay_off,             \
                  const cg_u16 *syn_post, double *syn_weight, cg_i64 n_pre, int m, int D, int S,                 \
                  const int *blk_lo, const int *blk_hi, int n_blk, cg_i64 *acc_ex, cg_i64 *acc_in,               \
                  const double *ring_kplus, const cg_i64 *ring_tlast, const double *rule,                        \
                  double ms_per_tic, double ms_per_step, cg_i64 tics_per_step, int *hist_t, double *hist_k,      \
                  cg_i64 *hist_n, int H, int *last_t, double *last_k, int K, const double *tau_minus_inv,        \
                  cg_i64 *blk_err)                                                                               \
    {                                                                                                            \
        cg_stdp P = {ms_per_tic, ms_per_step, tics_per_step, nullptr, nullptr, hist_t, hist_k, hist_n, H,       \
                     last_t, last_k, K, tau_minus_inv};                                                          \
        cg_stdp_set_rule(&P, rule);                                                                              \
        deliver_stdp<DOFF>(grid, block, clock, due_pre, due_d, due_at, n_due, seg_off, delay_off, syn_post,      \
                           syn_weight, n_pre, m, D, S, blk_lo, blk_hi, n_blk, acc_ex, acc_in, ring_kplus,        \
                           ring_tlast, &P, blk_err);                                                             \
    }

EMU_DELIVER_STDP(deliver_stdp_u16, unsigned short)
EMU_DELIVER_STDP(deliver_stdp_u32, unsigned int)

EMU void update_f64(int grid, int block, const cg_i64 *clock, int n, unsigned int seed, const cg_i64 *gid,
                    const int *pset, const double *prop, const signed char *kind, const int *refr_steps, double *V,
                    double *I_ex, double *I_in, double *dI_ex, double *dI_in, double *i_0, double *i0_next,
                    int *refr, cg_i64 *acc_ex, cg_i64 *acc_in, const cg_i64 *d_ptr, const int *d_conn,
                    const double *d_w, const cg_i64 *d_wfx, const int *c_gen, const cg_i64 *c_delay,
                    const cg_i64 *c_key, const int *g_kind, const double *g_value, const cg_i64 *g_cdf_lo,
                    const double *cdf, const cg_i64 *guide, const cg_i64 *g_start, const cg_i64 *g_stop, int has_dc,
                    const double *tab, const cg_i64 *g_tab_lo, int *blk_spk, int *blk_count)
{
    const cg_neurons N = {gid, pset, prop, kind, refr_steps, V, I_ex, I_in, dI_ex, dI_in, i_0, i0_next, refr,
                          acc_ex, acc_in};
    const cg_drives G = {d_ptr, d_conn, d_w, d_wfx, c_gen, c_delay, c_key, g_kind, g_value, g_cdf_lo, cdf,
                         guide, g_start, g_stop, has_dc, tab, g_tab_lo};
    for (int b = 0; b < grid; ++b) {
        int count = 0;                                  /* the block's ballot and scan, in thread order */
        for (int tid = 0; tid < block; ++tid) {
            const int i = b * block + tid;
            if (i < n && cg_step_neuron(i, clock[0], (cg_u32)seed, &N, &G)) blk_spk[b * block + count++] = i;
        }
        blk_count[b] = count;
    }
}

EMU void sample_state(int grid, int block, const cg_i64 *clock, int n_cols, const cg_i64 *mm_local,
                      const int *mm_var, const double *V, const double *I_ex, const double *I_in, const int *pset,
                      const double *prop, double *mm_buf)
{
    const cg_i64 row = clock[0] - clock[1];
    for (int c = 0; c < std::min(n_cols, grid * block); ++c)
        mm_buf[row * n_cols + c] = cg_state_value(mm_var[c], mm_local[c], V, I_ex, I_in, pset, prop);
}

EMU void merge_step(int grid, int block, cg_i64 *clock, int n_ublocks, int ublock, const int *blk_count,
                    const int *blk_spk, int *blk_off, const cg_i64 *gid, const int *pset, const signed char *kind,
                    int *refr, const int *pre_of_local, const unsigned char *rec_mask, cg_i64 *n_spikes,
                    int *ring_pre, int *ring_count, int n_slots, int cap, const cg_i64 *src_ptr, const int *src_pre,
                    const cg_i64 *src_gid, int record_sources, cg_i64 *spk_gid, cg_i64 *spk_step, cg_i64 *spk_n,
                    cg_i64 spk_cap, int plastic, double *ring_kplus, cg_i64 *ring_tlast, const double *rule,
                    double ms_per_tic, cg_i64 tics_per_step, double *kplus, cg_i64 *tlast, int *hist_t,
                    double *hist_k, cg_i64 *hist_n, int H, int *last_t, double *last_k, int K,
                    const double *tau_minus_inv, cg_i64 *merge_err)
{
    (void)grid;
    (void)block;
    cg_stdp P = {ms_per_tic, 0.0, tics_per_step, kplus, tlast, hist_t, hist_k, hist_n, H, last_t, last_k, K,
                 tau_minus_inv};
    cg_stdp_set_rule(&P, rule);
    const cg_i64 t = clock[0], t0 = clock[1], stamp = t + 1;
    const cg_i64 slot0 = (t % n_slots) * cap;
    int n_local = 0;
    for (int k = 0; k < n_ublocks; ++k) {
        blk_off[k] = n_local;
        n_local += blk_count[k];
    }
    int n_ring = 0;
    cg_i64 n_rec = *spk_n;
    const cg_i64 e0 = src_ptr[t - t0], n_src = src_ptr[t - t0 + 1] - e0;
    for (cg_i64 f = 0; f < n_local + n_src; ++f) {
        int rec, copies;
        cg_i64 g;
        const int pre = cg_merge_entry(f, n_local, n_ublocks, ublock, blk_off, blk_spk, gid, pset, kind, refr,
                                       pre_of_local, rec_mask, n_spikes, src_pre, src_gid, e0, record_sources,
                                       plastic, &P, stamp, merge_err, &g, &rec, &copies);
        for (int c = 0; pre >= 0 && c < copies; ++c) {   /* serially, every entry in ring order */
            if (plastic) cg_pre_spike(&P, ring_kplus, ring_tlast, slot0 + n_ring, pre, stamp);
            ring_pre[slot0 + n_ring++] = pre;
        }
        for (int c = 0; rec && c < copies; ++c) {      /* a parrot's spike once per copy */
            if (n_rec < spk_cap) {
                spk_gid[n_rec] = g;
                spk_step[n_rec] = t;
            }
            ++n_rec;
        }
    }
    ring_count[t % n_slots] = n_ring;
    *spk_n = n_rec;
    clock[0] = t + 1;
}

/* kernels/exchange.cu */
EMU void window_begin(int grid, int block, const cg_i64 *clock, int m, cg_i64 *win_t, cg_i64 *n_send)
{
    for (int k = 0; k < std::min(m, grid * block); ++k) win_t[k] = clock[0] + k;
    *n_send = 0;
}

EMU void append_received(int grid, int block, const cg_i64 *words, int n_words, int m, cg_i64 t_prev,
                         const cg_i64 *pre_gids, cg_i64 n_pre, int *ring_pre, int *ring_count, int n_slots, int cap,
                         int *q0)
{
    (void)grid;
    (void)block;
    for (int s = 0; s < n_slots; ++s) q0[s] = ring_count[s];
    if (n_words == 0) return;
    for (int k = 0; k < m; ++k) {                       /* one slot at a time, words in order */
        const int slot = (int)((t_prev + k) % n_slots);
        int n = ring_count[slot];
        for (int j = 0; j < n_words; ++j) {
            const int p = cg_received_pre(words[j], m, k, pre_gids, n_pre);
            if (p < 0) continue;
            if (n < cap) ring_pre[(cg_i64)slot * cap + n] = p;
            ++n;
        }
        ring_count[slot] = std::min(n, cap);
    }
}

EMU void gather_new(int grid, int block, const cg_i64 *clock, const int *ring_pre, const int *ring_count,
                    const int *q0, int n_slots, int cap, int m, int D, int *due_pre, cg_u16 *due_d, int *n_due)
{
    (void)grid;
    (void)block;
    const cg_i64 t = clock[0];
    int done = 0;
    for (int d = m; d <= D; ++d) {                      /* delays in turn, each slot's new entries in order */
        const int slot = cg_slot(t, d, n_slots);
        for (int q = q0[slot]; q < ring_count[slot]; ++q) {
            due_pre[done] = ring_pre[(cg_i64)slot * cap + q];
            due_d[done] = (cg_u16)d;
            ++done;
        }
    }
    *n_due = done;
}

EMU void pack_send(int grid, int block, const cg_i64 *clock, const cg_i64 *win_t, int m, int n_ublocks, int ublock,
                   const int *blk_count, const int *blk_spk, int *send_off, const cg_i64 *gid, cg_i64 *send,
                   cg_i64 *n_send, cg_i64 send_cap)
{
    (void)grid;
    (void)block;
    const int k = (int)(clock[0] - win_t[0]);
    cg_i64 n = *n_send;
    for (int b = 0; b < n_ublocks; ++b) {               /* blocks in order, each in neuron order */
        send_off[b] = (int)(n - *n_send);
        for (int q = 0; q < blk_count[b]; ++q) {
            if (n < send_cap) send[n] = cg_spike_word(gid[blk_spk[(cg_i64)b * ublock + q]], m, k);
            ++n;
        }
    }
    *n_send = n;
}

/* ---- construction (kernels/construct.cu): one thread per entry, synapse or pre, here in turn */
EMU void draw_entries(int grid, int block, int count_only, cg_i64 e0, cg_i64 e1, const cg_i64 *entry_local,
                      const cg_i64 *entry_proj, const cg_i64 *entry_count, const cg_i64 *entry_aux,
                      const cg_i64 *entry_off, const cg_i64 *local_gid, cg_i64 section_base, const cg_i64 *rule,
                      const cg_i64 *pre_off, const cg_i64 *pre_flat, const double *log1m,
                      const unsigned char *autapses, const unsigned char *multapses, const double *w_row,
                      const double *d_row, const double *values, const cg_i64 *d_tab_lo, const cg_i64 *d_tab_g0,
                      const cg_i64 *d_tab_k0, const double *d_tab, const cg_i64 *d_guide, const double *zx,
                      const double *zf, double steps_per_ms, cg_u32 seed, cg_u32 key_pre, cg_u32 key_weight,
                      cg_u32 key_delay, cg_i64 *entry_n, cg_i64 *gid, int *delay, double *weight, cg_u16 *post,
                      int *err_code, cg_i64 *err_value)
{
    const cg_plan P = {rule, pre_off, pre_flat, log1m, autapses, multapses, w_row, d_row, values, d_tab_lo,
                       d_tab_g0, d_tab_k0, d_tab, d_guide, zx, zf, steps_per_ms, seed, key_pre, key_weight,
                       key_delay};
    const cg_i64 n_threads = (cg_i64)grid * block;
    for (cg_i64 e = e0; e < e1 && e - e0 < n_threads; ++e)
        cg_draw_entry(&P, count_only, e, e0, entry_local, entry_proj, entry_count, entry_aux, entry_off, local_gid,
                      section_base, entry_n, gid, delay, weight, post, err_code, err_value);
}

EMU void synapse_keys(int grid, int block, cg_i64 n, const cg_i64 *gid, const int *delay, const cg_i64 *pre_gids,
                      cg_i64 n_pre, int m, int W, int pos_bits, unsigned long long *key)
{
    for (cg_i64 k = 0; k < n && k < (cg_i64)grid * block; ++k)
        key[k] = cg_synapse_key(gid, delay, pre_gids, n_pre, m, W, pos_bits, k);
}

#define EMU_GATHER_SORTED(NAME, WT)                                                                            \
    EMU void NAME(int grid, int block, cg_i64 n, const unsigned long long *key, int pos_bits, const cg_u16 *post, \
                  const double *weight, cg_u16 *syn_post, WT *syn_weight)                                      \
    {                                                                                                          \
        for (cg_i64 k = 0; k < n && k < (cg_i64)grid * block; ++k)                                             \
            cg_gather_sorted<WT>(k, key, pos_bits, post, weight, syn_post, syn_weight);                        \
    }

EMU_GATHER_SORTED(gather_sorted_f32, float)
EMU_GATHER_SORTED(gather_sorted_f64, double)

#define EMU_SEGMENT_TABLES(NAME, DOFF)                                                                         \
    EMU void NAME(int grid, int block, cg_i64 n_pre, cg_i64 n, const unsigned long long *key, int pos_bits,    \
                  int W, cg_i64 seg0, DOFF *delay_off, cg_i64 *seg_len)                                        \
    {                                                                                                          \
        for (cg_i64 p = 0; p < n_pre && p < (cg_i64)grid * block; ++p)                                         \
            cg_segment_tables<DOFF>(p, n, key, pos_bits, W, seg0, delay_off, seg_len);                         \
    }

EMU_SEGMENT_TABLES(segment_tables_u16, unsigned short)
EMU_SEGMENT_TABLES(segment_tables_u32, unsigned int)
