"""CPU backend: Numba kernels for delivery, neuron update and spike collection.

Ownership (I1): worker ``w`` owns the local posts ``[lo[w], hi[w])``. It
alone delivers synapses onto them, writes their accumulators and updates
them, so synaptic input needs neither atomics nor locks. Within one
minimum-delay interval of ``m`` steps no spike emitted in the interval is
due (every delay is >= m), so each worker runs the whole interval inside one
parallel region; new spikes are merged into the ring afterwards.

Synaptic input is summed in 64-bit fixed point, ``acc += rint(w * 2**32)``:
integer sums are exact and independent of order, so results do not depend
on the number of workers (I3).

One step, per worker: ``deliver`` (due spikes into the accumulators),
``drive`` (generator input into the same accumulators), ``update`` (read and
clear the accumulators, integrate, threshold); then, serially,
``merge_step`` puts the step's spikes into the ring in gid order.

With several ranks a window of ``m`` steps runs in two calls around the
spike exchange: ``deliver_window`` (every spike already in the ring, into
one accumulator row per step of the window) while the last window's spikes
travel, then ``append_received`` and ``finish_window`` (the received
spikes, the drive, the update, the merge). Fixed-point sums make the result
independent of that split, hence of the rank count.
"""
from __future__ import annotations

from collections import namedtuple

import numba
import numpy as np

from .. import philox
from ..layout import run_bounds

__all__ = ["Layout", "Neurons", "Drives", "Ring", "Recording", "deliver", "drive", "update", "run_intervals",
           "deliver_window", "append_received", "finish_window", "FIXED_ONE"]

#: One pA in the fixed-point accumulators.
FIXED_ONE = 4294967296.0
_INV_FIXED = 1.0 / FIXED_ONE
_POISSON_STREAM = 5 << 24

Layout = namedtuple("Layout", "seg_off delay_off syn_post syn_weight n_pre max_delay min_delay section_size n_sections")
#: Per neuron: gid, pset (index of its parameter set), state, accumulators. Per parameter set:
#: prop (propagator columns), kind (model id), refr_steps. Neurons share parameter sets so
#: that a step streams ~90 bytes per neuron, not the 136-byte propagator row of each.
Neurons = namedtuple("Neurons", "gid pset prop kind refr_steps V I_ex I_in dI_ex dI_in i_0 i0_next refr acc_ex acc_in "
                                 "n_spikes")
#: Generator drive, grouped by connection (``Connect(generator, targets)``): per connection its
#: generator, delay (steps), key and entry range; per entry (sorted by local index inside a
#: connection) the target's local index and gid and the weight; per generator its kind,
#: value, Poisson CDF table (its guide table at ``g * GUIDE_SIZE``) and active steps.
#: ``has_dc``: whether any dc_generator is connected.
Drives = namedtuple("Drives", "c_gen c_delay c_key c_ptr e_local e_gid e_weight e_weight_fx "
                              "g_kind g_value g_cdf_lo cdf guide g_start g_stop has_dc")
Ring = namedtuple("Ring", "pre count")
Recording = namedtuple("Recording", "rec_mask spk_gid spk_step spk_n mm_local mm_var mm_buf")

# column indices of the propagator table (see models/_base.py PROP_COLUMNS)
P22, P21EX, P21IN, P20, P11EX, P11IN, P31EX, P31IN, P21IEX, P21IIN, PSC0EX, PSC0IN, IE, THETA, VRESET, EL, VMIN = range(17)


@numba.njit(inline="always")
def _lower_bound(a, lo, hi, x):
    while lo < hi:
        mid = (lo + hi) >> 1
        if a[mid] < x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@numba.njit(cache=True)
def deliver(t, lo, hi, L, R, q0, acc_ex, acc_in):
    """Add every synapse due at step ``t`` onto posts ``[lo, hi)`` to ``acc_ex``/``acc_in``.

    A spike emitted at step ``t - d`` is due now through its runs of delay
    ``d`` (one per section); the runs are sorted by post, so the worker's
    share is found by two binary searches. Only ring entries
    ``[q0[slot], count[slot])`` are read: all of them in a plain step, the
    ones just received from other ranks when those arrive late (I7).
    """
    D = L.max_delay
    S = L.section_size
    n_slots = R.count.size
    s_first = lo // S
    s_last = (hi - 1) // S
    for d in range(L.min_delay, D + 1):
        slot = (t - d) % n_slots
        for q in range(q0[slot], R.count[slot]):
            p = R.pre[slot, q]
            for s in range(s_first, s_last + 1):
                k0, k1 = run_bounds(L.seg_off, L.delay_off, s * L.n_pre + p, d, L.min_delay, D)
                if k0 == k1:
                    continue
                base = s * S
                if lo > base:
                    k0 = _lower_bound(L.syn_post, k0, k1, lo - base)
                if hi < base + S:
                    k1 = _lower_bound(L.syn_post, k0, k1, hi - base)
                for k in range(k0, k1):
                    w = np.float64(L.syn_weight[k])
                    i = base + np.int64(L.syn_post[k])
                    fx = np.int64(np.rint(w * FIXED_ONE))
                    if w >= 0.0:
                        acc_ex[i] += fx
                    else:
                        acc_in[i] += fx


@numba.njit(cache=True)
def drive(t, lo, hi, seed, G, acc_ex, acc_in, i0_next):
    """Add the generators' input at step ``t`` for neurons ``[lo, hi)``.

    Poisson counts go into the same fixed-point accumulators as synaptic
    input (integer sums: order does not matter); dc_generator current goes
    to ``i0_next`` (summed in connection order, as before any reordering),
    which ``update`` applies from the next step on. Ownership: only the
    worker owning ``[lo, hi)`` writes these entries.

    A generator's output emitted at step ``s`` reaches its target at
    ``s + delay``. The Poisson count of (connection ``key``, target ``gid``,
    emission step ``s``) is word ``gid % 4`` of the Philox block keyed by
    ``(POISSON | key, gid // 4, s)`` (see ``philox.invert_cdf_u32``); the
    last block is kept, so four neighbouring targets cost one block.
    Entries are grouped by connection so that the per-target loop reads
    only index, gid and weight (a per-neuron list of entries streamed ~3x
    the bytes and ran ~3x slower next to delivery).
    """
    e_local, e_gid, e_w, e_wfx = G.e_local, G.e_gid, G.e_weight, G.e_weight_fx
    g_kind, g_value, g_start, g_stop = G.g_kind, G.g_value, G.g_start, G.g_stop
    cdf = G.cdf
    if G.has_dc:
        for i in range(lo, hi):
            i0_next[i] = 0.0
    words = np.zeros(4, np.uint32)  # the last block, indexed by lane
    for c in range(G.c_gen.size):
        g = G.c_gen[c]
        s = t - G.c_delay[c]
        if s < g_start[g] or s >= g_stop[g]:
            continue
        a = _lower_bound(e_local, G.c_ptr[c], G.c_ptr[c + 1], lo)
        b = _lower_bound(e_local, a, G.c_ptr[c + 1], hi)
        if g_kind[g] == 1:
            amp = g_value[g]
            for e in range(a, b):
                i0_next[e_local[e]] += e_w[e] * amp
            continue
        if g_value[g] == 0.0:
            continue
        stream = _POISSON_STREAM | G.c_key[c]
        t_lo, g0 = G.g_cdf_lo[g], g * philox.GUIDE_SIZE
        last_entity = np.int64(-1)
        for e in range(a, b):
            gid = e_gid[e]
            entity = gid >> 2
            if entity != last_entity:
                words[0], words[1], words[2], words[3] = philox.block(seed, stream, entity, s, 0)
                last_entity = entity
            k = philox.invert_cdf_u32(cdf, t_lo, G.guide, g0, words[gid & 3])
            i = e_local[e]
            if e_w[e] >= 0.0:
                acc_ex[i] += k * e_wfx[e]
            else:
                acc_in[i] += k * e_wfx[e]


@numba.njit(cache=True)
def update(t, lo, hi, N, acc_ex, acc_in, spikes, n_spikes):
    """Advance neurons ``[lo, hi)`` over step ``t`` in NEST's order; returns the new spike count.

    Reads and clears each neuron's accumulators ``acc_ex``/``acc_in`` (the
    step's row, which only this worker writes), integrates exactly, and appends spiking local indices, in
    increasing order, to ``spikes``. Kept lean on purpose: with the drive
    inlined here the loop ran ~15x slower (register pressure).
    """
    prop = N.prop
    V_arr = N.V
    I_ex = N.I_ex
    I_in = N.I_in
    dI_ex = N.dI_ex
    dI_in = N.dI_in
    i_0 = N.i_0
    i0_next = N.i0_next
    refr = N.refr
    kind = N.kind
    pset = N.pset
    refr_steps = N.refr_steps
    for i in range(lo, hi):
        q = pset[i]
        ex = acc_ex[i] * _INV_FIXED
        inh = acc_in[i] * _INV_FIXED
        acc_ex[i] = 0
        acc_in[i] = 0
        V = V_arr[i]
        if kind[q] == 0:  # iaf_psc_exp
            if refr[i] == 0:
                V = (V * prop[q, P22] + I_ex[i] * prop[q, P21EX] + I_in[i] * prop[q, P21IN]
                     + (prop[q, IE] + i_0[i]) * prop[q, P20])
            else:
                refr[i] -= 1
            I_ex[i] = I_ex[i] * prop[q, P11EX] + ex
            I_in[i] = I_in[i] * prop[q, P11IN] + inh
        else:  # iaf_psc_alpha
            if refr[i] == 0:
                V = (prop[q, P20] * (i_0[i] + prop[q, IE]) + prop[q, P31EX] * dI_ex[i]
                     + prop[q, P21EX] * I_ex[i] + prop[q, P31IN] * dI_in[i] + prop[q, P21IN] * I_in[i]
                     + prop[q, P22] * V + V)
                if V < prop[q, VMIN]:
                    V = prop[q, VMIN]
            else:
                refr[i] -= 1
            I_ex[i] = prop[q, P21IEX] * dI_ex[i] + prop[q, P11EX] * I_ex[i]
            dI_ex[i] = dI_ex[i] * prop[q, P11EX] + prop[q, PSC0EX] * ex
            I_in[i] = prop[q, P21IIN] * dI_in[i] + prop[q, P11IN] * I_in[i]
            dI_in[i] = dI_in[i] * prop[q, P11IN] + prop[q, PSC0IN] * inh
        if V >= prop[q, THETA]:
            refr[i] = refr_steps[q]
            V = prop[q, VRESET]
            spikes[n_spikes] = i
            n_spikes += 1
        V_arr[i] = V
        i_0[i] = i0_next[i]
    return n_spikes


@numba.njit(cache=True)
def _sample(t, t0, lo, hi, N, Rec):
    """Write the state of recorded neurons in ``[lo, hi)`` after step ``t`` to row ``t - t0``."""
    row = t - t0
    for c in range(Rec.mm_local.size):
        i = Rec.mm_local[c]
        if i < lo or i >= hi:
            continue
        v = Rec.mm_var[c]
        if v == 0:
            Rec.mm_buf[row, c] = N.V[i] + N.prop[N.pset[i], EL]
        elif v == 1:
            Rec.mm_buf[row, c] = N.I_ex[i]
        else:
            Rec.mm_buf[row, c] = N.I_in[i]


@numba.njit(parallel=True, cache=True)
def run_intervals(t0, n_intervals, m, seed, lo, hi, L, N, G, R, q0, pre_of_local,
                  src_ptr, src_pre, src_gid, Rec, wk_spikes, wk_count):
    """Simulate ``n_intervals`` intervals of ``m`` steps from step ``t0``; single rank.

    Returns the number of intervals done: fewer than asked when the spike
    recording buffer could overflow in the next one (the caller grows it).
    ``src_ptr[t - t0] : src_ptr[t - t0 + 1]`` index the spike-source emissions
    of step ``t`` (pre indices ``src_pre``, gids ``src_gid``). ``q0`` is all
    zeros: every ring entry is delivered. Each step uses accumulator row 0.
    """
    n_workers = lo.size
    cap = Rec.spk_gid.size
    no_send = np.zeros(0, np.int64)
    acc_ex = N.acc_ex[0]
    acc_in = N.acc_in[0]
    for iv in range(n_intervals):
        if Rec.spk_n[0] + m * (N.V.size + src_pre.size) > cap and iv > 0:
            return iv
        t_iv = t0 + iv * m
        for w in numba.prange(n_workers):
            for k in range(m):
                t = t_iv + k
                deliver(t, lo[w], hi[w], L, R, q0, acc_ex, acc_in)
                drive(t, lo[w], hi[w], seed, G, acc_ex, acc_in, N.i0_next)
                wk_count[w, k] = update(t, lo[w], hi[w], N, acc_ex, acc_in, wk_spikes[w, k], 0)
                if Rec.mm_local.size > 0:
                    _sample(t, t0, lo[w], hi[w], N, Rec)
        for k in range(m):
            t = t_iv + k
            merge_step(t, t0, N, R, pre_of_local, wk_spikes, wk_count, k, src_ptr, src_pre, src_gid, Rec,
                       True, no_send, 0, m)
    return n_intervals


@numba.njit(parallel=True, cache=True)
def deliver_window(t_w, m, lo, hi, L, R, q0, acc_ex, acc_in):
    """Deliver ring entries ``[q0[slot], count[slot])`` due at steps ``t_w .. t_w + m - 1``.

    Step ``t_w + k`` goes to accumulator row ``k``. With ``q0`` all zeros
    this is the part of a window's delivery that needs no spike from the
    exchange still in flight (every spike emitted before the last window,
    and the last window's local spikes): it runs while the exchange proceeds
    (I7). Ownership as in ``deliver``.
    """
    for w in numba.prange(lo.size):
        for k in range(m):
            deliver(t_w + k, lo[w], hi[w], L, R, q0, acc_ex[k], acc_in[k])


@numba.njit(cache=True)
def append_received(words, m, t_prev, pre_index, R, q0):
    """Put the spike words of window ``t_prev`` received from other ranks into its ring slots.

    A word is ``gid * m + k``: ``gid`` spiked at step ``t_prev + k``. Spikes
    of neurons without synapses here are dropped. ``q0`` gets each slot's
    count before the additions, so that ``deliver_window`` can deliver the
    new entries alone.
    """
    n_slots = R.count.size
    for s in range(n_slots):
        q0[s] = R.count[s]
    for j in range(words.size):
        gid = words[j] // m
        p = pre_index[gid]
        if p < 0:
            continue
        slot = (t_prev + words[j] % m) % n_slots
        R.pre[slot, R.count[slot]] = p
        R.count[slot] += 1


@numba.njit(parallel=True, cache=True)
def finish_window(t_w, m, seed, lo, hi, L, N, G, R, q0, pre_of_local, src_ptr, src_pre, src_gid, Rec, rec_t0,
                  wk_spikes, wk_count, record_sources, send):
    """Complete window ``t_w`` once the last window's remote spikes are in the ring; returns the
    number of spike words of this window in ``send``.

    Per worker and step: deliver the ring entries ``[q0, count)`` (the
    received spikes), the generators' input, then update from the step's
    accumulator row, which ``deliver_window`` filled beforehand. Then,
    serially, the window's spikes go into the ring in gid order and into
    ``send`` as ``gid * m + k``. Ownership as in ``run_intervals``.
    """
    for w in numba.prange(lo.size):
        for k in range(m):
            t = t_w + k
            deliver(t, lo[w], hi[w], L, R, q0, N.acc_ex[k], N.acc_in[k])
            drive(t, lo[w], hi[w], seed, G, N.acc_ex[k], N.acc_in[k], N.i0_next)
            wk_count[w, k] = update(t, lo[w], hi[w], N, N.acc_ex[k], N.acc_in[k], wk_spikes[w, k], 0)
            if Rec.mm_local.size > 0:
                _sample(t, rec_t0, lo[w], hi[w], N, Rec)
    n_send = 0
    for k in range(m):
        n_send = merge_step(t_w + k, rec_t0, N, R, pre_of_local, wk_spikes, wk_count, k, src_ptr, src_pre,
                            src_gid, Rec, record_sources, send, n_send, m)
    return n_send


@numba.njit(cache=True)
def merge_step(t, t0, N, R, pre_of_local, wk_spikes, wk_count, k, src_ptr, src_pre, src_gid, Rec,
               record_sources, send, n_send, m):
    """Put step ``t``'s spikes in ring slot ``t % n_slots``, count and record them; returns ``n_send``.

    Workers own increasing post ranges and list their spikes in order, so the
    slot holds local spikes in gid order, then spike-source emissions. With
    other ranks (``send`` not empty), every local spike is also appended to
    ``send`` as ``gid * m + k``. Spike sources run on every rank; only the
    rank with ``record_sources`` records them.
    """
    slot = t % R.count.size
    n = 0
    for w in range(wk_count.shape[0]):
        for q in range(wk_count[w, k]):
            i = wk_spikes[w, k, q]
            N.n_spikes[i] += 1
            p = pre_of_local[i]
            if p >= 0:
                R.pre[slot, n] = p
                n += 1
            g = N.gid[i]
            if send.size > 0:
                send[n_send] = g * m + k
                n_send += 1
            if Rec.rec_mask[g]:
                j = Rec.spk_n[0]
                Rec.spk_gid[j] = g
                Rec.spk_step[j] = t
                Rec.spk_n[0] = j + 1
    for e in range(src_ptr[t - t0], src_ptr[t - t0 + 1]):
        if src_pre[e] >= 0:
            R.pre[slot, n] = src_pre[e]
            n += 1
        g = src_gid[e]
        if record_sources and Rec.rec_mask[g]:
            j = Rec.spk_n[0]
            Rec.spk_gid[j] = g
            Rec.spk_step[j] = t
            Rec.spk_n[0] = j + 1
    R.count[slot] = n
    return n_send
