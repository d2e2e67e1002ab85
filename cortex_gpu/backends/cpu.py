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

Plastic synapses (stdp_pl_synapse_hom, stdp_synapse, stdp_synapse_hom; their
rules in models/synapses.py) are updated where they are
delivered, by the worker that owns their post, so a weight has exactly one
writer (I1). The pre-synaptic trace ``Kplus`` depends on the pre's spike
train alone: it is kept per pre and copied into each ring entry when the
spike enters the ring (``_pre_spike``). The post-synaptic history (spike
stamps and ``Kminus``) is kept per post (``_post_spike``) and only read
during delivery: a spike delivered at step ``t`` through delay ``d`` needs
post spikes up to step ``t - 2d < t - m``, all merged before the window.

The rule's ``exp`` and ``pow`` are :func:`cortex_gpu.philox.pexp` and
:func:`cortex_gpu.philox.ppow` (about 1 and 2 ulp), built from basic IEEE
operations, not libm's: the CUDA backend computes the same bits with their
twins in kernels/philox.cuh (CUDA's exp/pow round differently from libm's).
Weights then differ from NEST's (libm) by a few ulp per update, ~1e-15
relative over a trajectory (tests/validation).

Ownership check mode (``Own.owner`` not empty): every write to a post's
accumulators, state or synapse weights first checks that the writing worker
owns the post; a violation is recorded in ``Own.err`` (worker, post, synapse,
step), the write is skipped, and the engine aborts naming the ids.
"""
from __future__ import annotations

from collections import namedtuple

import numba
import numpy as np

from .. import philox
from ..gidmap import gid_lookup
from ..layout import run_bounds

__all__ = ["Layout", "Neurons", "Drives", "Ring", "Recording", "Synapses", "Stdp", "Own", "deliver", "drive",
           "update", "run_intervals", "deliver_window", "append_received", "finish_window", "FIXED_ONE", "PARROT"]

#: One weight unit (pA; nS for iaf_cond_exp) in the fixed-point accumulators.
FIXED_ONE = 4294967296.0
_INV_FIXED = 1.0 / FIXED_ONE
_ONE_FX = np.int64(1) << 32
#: Model id of parrot_neuron (models/parrot_neuron.py): it counts arriving spikes in ``acc_in``, -1.0 each.
PARROT = 3
#: Model id of iaf_psc_delta (models/iaf_psc_delta.py): its I_ex slot holds the input buffered while refractory.
PSC_DELTA = 8
#: Model ids of iaf_psc_exp_multisynapse and iaf_psc_alpha_multisynapse (their ports: Neurons.rx_*).
PSC_EXP_PORTS, PSC_ALPHA_PORTS = 9, 10
#: Most copies of one spike a parrot repeats in a step (its multiplicity); the ring has room for them.
PARROT_MAX_COPIES = 16
_POISSON_STREAM = 5 << 24
#: Streams of noise_generator's normal draws (per connection) and sinusoidal_poisson_generator's
#: counts (per connection; per generator for a shared train): keys.NOISE, SIN_POISSON, SIN_POISSON_SHARED.
_NOISE_STREAM = 12 << 24
_SIN_POISSON_STREAM = 13 << 24
_SIN_SHARED_STREAM = 14 << 24
#: Generator kinds of the drive (cortex_gpu/generators.py) and doubles per table row.
GEN_POISSON, GEN_DC, GEN_TABLE_CURRENT, GEN_NOISE, GEN_SIN_POISSON, GEN_SIN_SHARED, GEN_PULSE = 0, 1, 2, 3, 4, 5, 6
TAB_ROW = 3

#: ``syn_port``: each synapse's receptor port (uint8, 1..n) onto receptor-port models; empty otherwise.
Layout = namedtuple("Layout", "seg_off delay_off syn_post syn_weight n_pre max_delay min_delay section_size n_sections "
                              "syn_port")
#: Per neuron: gid, pset (index of its parameter set), state, accumulators. Per parameter set:
#: prop (propagator columns), kind (model id), refr_steps. Neurons share parameter sets so
#: that a step streams ~90 bytes per neuron, not the propagator row of each. ``I_ex``/``I_in``
#: hold the synaptic currents (pA) of the current-based models and the conductances
#: ``g_ex``/``g_in`` (nS) of the conductance models, ``dI_ex``/``dI_in`` their 4th and 5th state
#: variables (dg_ex/dg_in, g_sfa/g_rr); ``h_ode`` is their adaptive ODE step (ms), ``w_ad`` the aeif
#: models' adaptation current w (pA). Receptor ports (iaf_psc_*_multisynapse): neuron ``i``'s ports are
#: entries ``rx_off[i]:rx_off[i+1]`` of ``rx_prop`` (per-port propagators, models/_base.N_PORT_PROP), ``rx_I``
#: (each port's current, pA), ``rx_dI`` (alpha: its dI) and of each row of ``acc_rx`` (the ports' fixed-point
#: input, one row per step as ``acc_ex``).
Neurons = namedtuple("Neurons", "gid pset prop kind refr_steps V I_ex I_in dI_ex dI_in i_0 i0_next refr acc_ex acc_in "
                                 "n_spikes h_ode w_ad rx_off rx_prop rx_I rx_dI acc_rx")
#: Generator drive, grouped by connection (``Connect(generator, targets)``): per connection its
#: generator, delay (steps), key and entry range; per entry (sorted by local index inside a
#: connection) the target's local index and gid and the weight; per generator its kind,
#: value, Poisson CDF table (its guide table at ``g * GUIDE_SIZE``) and active steps.
#: ``has_dc``: whether any current generator is connected. ``tab``: the table generators' rows
#: (cortex_gpu/generators.py), emission step ``s`` of generator ``g`` at ``g_tab_lo[g] + TAB_ROW * s``.
#: ``e_port``: per entry the receptor port of a receptor-port target (0: acc_ex/acc_in).
Drives = namedtuple("Drives", "c_gen c_delay c_key c_ptr e_local e_gid e_weight e_weight_fx "
                              "g_kind g_value g_cdf_lo cdf guide g_start g_stop has_dc tab g_tab_lo e_port")
#: Per slot (step % n_slots): the pre indices of its spikes; with plastic synapses also each
#: entry's pre trace ``kplus`` and the pre's previous spike stamp ``tlast`` (empty otherwise).
Ring = namedtuple("Ring", "pre count kplus tlast")
#: The three synapse groups' layouts (build.py): static (weighted), count (onto parrots), plastic.
Synapses = namedtuple("Synapses", "static count plastic")
#: The plastic rule (``rule``: models/synapses.py RULE_PL or RULE_PAIR), its parameters (``mu`` the power
#: law's exponent; ``mu_plus``, ``mu_minus``, ``wmax`` the pair rule's; ``tau_plus`` ms and its inverse)
#: and the traces (empty arrays without plastic synapses):
#: per pre ``kplus`` and ``tlast`` (stamp of its last spike); per local post its last ``H``
#: spikes ``hist_t`` (stamps), ``hist_k`` (Kminus just after each; ``H`` a power of two),
#: ``hist_n`` (spikes so far), a short ring of the last ``K`` (8), ``last_t``/``last_k`` (n, K),
#: which serves nearly every update from cache, and ``tau_minus_inv`` (1/ms); ``err[w]``: a post history that
#: overflowed (1, post, stamp), or a full weight-recorder buffer (2, post, stamp). Times in ms are NEST's:
#: ``ms_per_tic * (stamp * tics_per_step)``, delays ``d * ms_per_step``. The weight_recorder's buffers,
#: per worker (width 0: not recording): ``wr_rec[w, j]`` (pre index, local post, pre stamp) and
#: ``wr_w[w, j]`` (the weight after the update) of its ``wr_n[w]`` events.
Stdp = namedtuple("Stdp", "lam alpha mu tau_plus_inv ms_per_tic tics_per_step ms_per_step kplus tlast "
                          "hist_t hist_k hist_n last_t last_k tau_minus_inv err rule tau_plus mu_plus mu_minus wmax "
                          "wr_rec wr_w wr_n")
#: Rule ids (models/synapses.py RULE_PL, RULE_PAIR).
RULE_PL, RULE_PAIR = 0, 1
#: Ownership check: ``owner`` (worker of each local post; empty: no check) and ``err[w]``.
Own = namedtuple("Own", "owner err")
#: Spike and state recording: ``rec_local`` (whether each local neuron's spikes are recorded), the
#: buffers the spikes go to (gid, step, count), the multimeter columns and their buffer.
Recording = namedtuple("Recording", "rec_local spk_gid spk_step spk_n mm_local mm_var mm_buf")

# column indices of the propagator table (see models/_base.py PROP_COLUMNS)
(P22, P21EX, P21IN, P20, P11EX, P11IN, P31EX, P31IN, P21IEX, P21IIN, PSC0EX, PSC0IN, IE, THETA, VRESET, EL, VMIN,
 GL, CM, EEX, EIN, TAUEX, TAUIN, HSTEP, TAUMINUS, TAUSFA, TAURR, ESFA, ERR, QSFA, QRR,
 DELTAT, TAUW, AADAPT, BADAPT, VPEAK, VTH, ELABS, GSLTOL, REFR_INPUT) = range(40)
#: Model ids of the conductance models the RKF45 integrator serves (models/iaf_cond_*.py, aeif_cond_*.py).
COND_EXP, COND_ALPHA, COND_SFA_RR, AEIF_COND_EXP, AEIF_COND_ALPHA = 2, 4, 5, 6, 7
#: aeif_cond_exp's instability bounds (NEST's NumericalInstability): V_m below, |w| above.
_AEIF_V_MIN, _AEIF_W_MAX = -1e3, 1e6

# the conductance models' solver: GSL's Runge-Kutta-Fehlberg 4(5) and standard step control, as NEST
# configures them (absolute tolerance 1e-3, relative 0); see models/iaf_cond_exp.py.
_ODE_EPS_ABS = 1e-3
_ODE_ORDER = 5.0
_DBL_MIN = 2.2250738585072014e-308


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
def deliver(t, w, lo, hi, Ls, Lc, Lp, R, q0, acc_ex, acc_in, S, O, rx_off, acc_rx):
    """Deliver the synapses due at step ``t`` onto worker ``w``'s posts ``[lo, hi)``: static (``Ls``),
    onto parrots (``Lc``) and plastic (``Lp``). The groups travel as three arguments, not one
    tuple: Numba's parallel loops do not take nested tuples. Static synapses with a receptor
    port (``Ls.syn_port``) go to port ``rx_off[post] + port - 1`` of ``acc_rx``."""
    _deliver_layout(t, w, lo, hi, Ls, 0, R, q0, acc_ex, acc_in, S, O, rx_off, acc_rx)
    _deliver_layout(t, w, lo, hi, Lc, 1, R, q0, acc_ex, acc_in, S, O, rx_off, acc_rx)
    _deliver_layout(t, w, lo, hi, Lp, 2, R, q0, acc_ex, acc_in, S, O, rx_off, acc_rx)


@numba.njit(cache=True)
def _deliver_layout(t, w, lo, hi, L, mode, R, q0, acc_ex, acc_in, S, O, rx_off, acc_rx):
    """Add the synapses of ``L`` due at step ``t`` onto posts ``[lo, hi)`` to ``acc_ex``/``acc_in``.

    A spike emitted at step ``t - d`` is due now through its runs of delay
    ``d`` (one per section); the runs are sorted by post, so the worker's
    share is found by two binary searches. Only ring entries
    ``[q0[slot], count[slot])`` are read: all of them in a plain step, the
    ones just received from other ranks when those arrive late (I7).
    ``mode``: 0 weighted (weight in pA, sign picks the accumulator), 1 count
    (each spike adds -1.0 to a parrot's ``acc_in``), 2 plastic (the weight
    is updated first, ``_stdp_update``, then delivered as in mode 0).
    """
    if L.syn_post.size == 0:
        return
    D = L.max_delay
    SS = L.section_size
    n_slots = R.count.size
    s_first = lo // SS
    s_last = (hi - 1) // SS
    checking = O.owner.size > 0
    ports = L.syn_port.size > 0
    for d in range(L.min_delay, D + 1):
        slot = (t - d) % n_slots
        for q in range(q0[slot], R.count[slot]):
            p = R.pre[slot, q]
            for s in range(s_first, s_last + 1):
                k0, k1 = run_bounds(L.seg_off, L.delay_off, s * L.n_pre + p, d, L.min_delay, D)
                if k0 == k1:
                    continue
                base = s * SS
                if lo > base:
                    k0 = _lower_bound(L.syn_post, k0, k1, lo - base)
                if hi < base + SS:
                    k1 = _lower_bound(L.syn_post, k0, k1, hi - base)
                if mode == 0 and ports:   # receptor ports: the sign does not pick the accumulator
                    for k in range(k0, k1):
                        i = base + np.int64(L.syn_post[k])
                        if checking and not _owns(O, w, i, k, t):
                            continue
                        acc_rx[rx_off[i] + np.int64(L.syn_port[k]) - 1] += np.int64(
                            np.rint(np.float64(L.syn_weight[k]) * FIXED_ONE))
                elif mode == 0:
                    for k in range(k0, k1):
                        wt = np.float64(L.syn_weight[k])
                        i = base + np.int64(L.syn_post[k])
                        if checking and not _owns(O, w, i, k, t):
                            continue
                        fx = np.int64(np.rint(wt * FIXED_ONE))
                        if wt >= 0.0:
                            acc_ex[i] += fx
                        else:
                            acc_in[i] += fx
                elif mode == 1:
                    for k in range(k0, k1):
                        i = base + np.int64(L.syn_post[k])
                        if checking and not _owns(O, w, i, k, t):
                            continue
                        acc_in[i] -= _ONE_FX
                else:
                    kplus, tlast = R.kplus[slot, q], R.tlast[slot, q]
                    for k in range(k0, k1):
                        i = base + np.int64(L.syn_post[k])
                        if checking and not _owns(O, w, i, k, t):
                            continue
                        wt = _stdp_update(L.syn_weight[k], i, kplus, tlast, t - d + 1, d, S, w)
                        L.syn_weight[k] = wt
                        if S.wr_w.shape[1] > 0:
                            _record_weight(S, w, p, i, t - d + 1, wt)
                        if wt >= 0.0:
                            acc_ex[i] += np.int64(np.rint(wt * FIXED_ONE))
                        else:
                            acc_in[i] += np.int64(np.rint(wt * FIXED_ONE))


@numba.njit(inline="always")
def _owns(O, w, i, k, t):
    """Whether worker ``w`` owns local post ``i``; records the first violation of ``w`` otherwise."""
    if O.owner[i] == w:
        return True
    if O.err[w, 0] == 0:
        O.err[w, 0], O.err[w, 1], O.err[w, 2], O.err[w, 3] = 1, i, k, t
    return False


@numba.njit(inline="always")
def _ms(S, stamp):
    """NEST's time in ms of a step stamp: tics times ms per tic (Time::get_ms)."""
    return S.ms_per_tic * np.float64(np.int64(stamp) * S.tics_per_step)


@numba.njit(inline="always")
def _stdp_update(wt, i, kplus, tlast, stamp, d, S, w):
    """The plastic rule's update of weight ``wt`` (pA) for a pre spike stamped ``stamp``.

    models/synapses.py, in NEST's operations and order: facilitation by
    each post spike ``u`` with ``tlast - d < u <= stamp - d`` (stamps; the
    delay is dendritic), oldest first, then depression by the post trace
    just before ``stamp - d``. ``kplus``/``tlast``: the pre's
    trace after, and stamp of, its previous spike.

    Post ``i``'s last ``K`` spikes sit in a short ring (``last_t``/``last_k``,
    96 bytes per post, read in post order by a run), which serves nearly
    every update; an update that reaches further back reads the long
    history (``_stdp_update_history``).
    """
    n = S.hist_n[i]
    if n == 0:
        return _depress(wt, 0.0, 0, stamp, d, S, 0.0)     # no post spike yet: Kminus = 0, nothing facilitates
    new_w, served = _update_from_ring(wt, i, n, kplus, tlast, stamp, d, S, S.last_t, S.last_k)
    if served:
        return new_w
    return _stdp_update_history(wt, i, kplus, tlast, stamp, d, S, w)


@numba.njit(cache=True)
def _stdp_update_history(wt, i, kplus, tlast, stamp, d, S, w):
    """``_stdp_update`` through post ``i``'s long history (``hist_t``/``hist_k``, ``H`` entries).

    When even that lacks an entry the rule needs, ``S.err[w]`` records it
    and the engine stops the run; the weight is left as it was.
    """
    new_w, served = _update_from_ring(wt, i, S.hist_n[i], kplus, tlast, stamp, d, S, S.hist_t, S.hist_k)
    if not served:
        _history_lost(S, w, i, stamp)
    return new_w


@numba.njit(inline="always")
def _update_from_ring(wt, i, n, kplus, tlast, stamp, d, S, T, Km):
    """(new weight, True) from post ``i``'s ring of its last spikes: stamps ``T[i]`` and Kminus
    ``Km[i]`` (a power of two of them, spike ``j`` at ``j & mask``), ``n`` spikes so far; or
    ``(wt, False)`` when the update needs a spike older than the ring keeps."""
    mask = T.shape[1] - 1
    oldest = max(n - mask - 1, 0)
    lim_hi = stamp - d
    j = n - 1
    while j >= oldest and T[i, j & mask] > lim_hi:
        j -= 1
    last = j
    if kplus != 0.0:   # before the pre's first spike Kplus is 0: facilitation adds exactly 0
        while j >= oldest and T[i, j & mask] > tlast - d:
            j -= 1
    jk = last
    if jk >= oldest and T[i, jk & mask] == lim_hi:
        jk -= 1      # the trace is taken just before stamp - d
    if oldest > 0 and (j < oldest or jk < oldest):
        return wt, False
    for jj in range(j + 1, last + 1):
        wt = _facilitate(wt, kplus, tlast, T[i, jj & mask], d, S)
    if kplus == 0.0 and S.rule == RULE_PAIR:
        wt = _facilitate_unprimed(wt, last + 1, S)
    if jk >= oldest:
        return _depress(wt, Km[i, jk & mask], T[i, jk & mask], stamp, d, S, S.tau_minus_inv[i]), True
    return _depress(wt, 0.0, 0, stamp, d, S, 0.0), True


@numba.njit(inline="always")
def _facilitate(wt, kplus, tlast, u, d, S):
    """Facilitation of ``wt`` by post spike ``u`` (models/synapses.py), with philox.ppow and
    philox.pexp (see the module docstring). Power law, NEST's
    ``w + lambda * w**mu * (Kplus * exp((t_last - (t_u + d)) * (1 / tau_plus)))``; pair rule
    ``x + lambda * (1 - x)**mu_plus * (Kplus * exp((t_last - (t_u + d)) / tau_plus))``, ``x = w / Wmax``,
    ``Wmax`` from ``x >= 1`` on."""
    minus_dt = _ms(S, tlast) - (_ms(S, u) + d * S.ms_per_step)
    if S.rule == RULE_PAIR:
        x = wt / S.wmax
        norm_w = x + S.lam * _spow(1.0 - x, S.mu_plus) * (kplus * philox.pexp(minus_dt / S.tau_plus))
        return norm_w * S.wmax if norm_w < 1.0 else S.wmax
    return wt + S.lam * philox.ppow(wt, S.mu) * (kplus * philox.pexp(minus_dt * S.tau_plus_inv))


@numba.njit(inline="always")
def _facilitate_unprimed(wt, count, S):
    """The pair rule's ``count`` facilitations before the pre's first spike (``Kplus`` = 0).

    Each adds 0 to ``x = w / Wmax`` but still rounds ``x * Wmax`` (and caps at
    ``Wmax``), as NEST does for every post spike since time 0; the rounding
    reaches a fixed point within a step or two, so the loop stops there
    instead of reading spikes the history no longer keeps (their stamps do
    not enter).
    """
    for _ in range(count):
        new_w = _facilitate(wt, 0.0, 0, 0, 0, S)
        if new_w == wt:
            break
        wt = new_w
    return wt


@numba.njit(inline="always")
def _spow(x, y):
    """``x ** y`` as libm's pow for the pair rule's bases: exact for ``y == 1`` (NEST's default
    exponents), philox.ppow for ``x >= 0``, the sign of an odd integer power for ``x < 0``, NaN
    for a negative base and a fractional power."""
    if y == 1.0:
        return x
    if x >= 0.0:
        return philox.ppow(x, y)
    if y != np.floor(y):
        return np.nan
    r = philox.ppow(-x, y)
    return -r if np.floor(y * 0.5) * 2.0 != y else r


@numba.njit(inline="always")
def _depress(wt, k_u, u, stamp, d, S, tau_minus_inv):
    """Depression of ``wt`` by the post trace ``Kminus(t - d)``, decayed from post spike ``u``
    (``k_u`` = 0: none). Power law, NEST's ``max(0, w - lambda * alpha * w * Kminus)``; pair rule
    ``x - alpha * lambda * x**mu_minus * Kminus``, ``x = w / Wmax``, ``x * Wmax`` if > 0, else 0."""
    kminus = 0.0
    if k_u != 0.0:
        t_k = _ms(S, stamp) - d * S.ms_per_step
        kminus = k_u * philox.pexp((_ms(S, u) - t_k) * tau_minus_inv)
    if S.rule == RULE_PAIR:
        x = wt / S.wmax
        norm_w = x - S.alpha * S.lam * _spow(x, S.mu_minus) * kminus
        return norm_w * S.wmax if norm_w > 0.0 else 0.0
    new_w = wt - S.lam * S.alpha * wt * kminus
    return new_w if new_w > 0.0 else 0.0


@numba.njit(inline="always")
def _record_weight(S, w, p, i, stamp, wt):
    """A weight_recorder event of worker ``w``: pre ``p``'s spike ``stamp`` left weight ``wt`` onto post ``i``."""
    j = S.wr_n[w]
    if j >= S.wr_w.shape[1]:
        if S.err[w, 0] == 0:
            S.err[w, 0], S.err[w, 1], S.err[w, 2] = 2, i, stamp
        return
    S.wr_rec[w, j, 0], S.wr_rec[w, j, 1], S.wr_rec[w, j, 2] = p, i, stamp
    S.wr_w[w, j] = wt
    S.wr_n[w] = j + 1


@numba.njit(inline="always")
def _history_lost(S, w, i, stamp):
    if S.err[w, 0] == 0:
        S.err[w, 0], S.err[w, 1], S.err[w, 2] = 1, i, stamp


@numba.njit(inline="always")
def _pre_spike(S, R, slot, n, p, stamp):
    """A spike of pre ``p`` enters ring entry ``(slot, n)``: copy its trace there, then advance it.

    NEST: ``Kplus = Kplus * exp((t_last - t) / tau_plus) + 1; t_last = t``
    (the power law multiplies by ``1 / tau_plus``, the pair rule divides by ``tau_plus``),
    after the synapses have used the old values (they read the entry).
    """
    R.kplus[slot, n] = S.kplus[p]
    R.tlast[slot, n] = S.tlast[p]
    if S.rule == RULE_PAIR:
        S.kplus[p] = S.kplus[p] * philox.pexp((_ms(S, S.tlast[p]) - _ms(S, stamp)) / S.tau_plus) + 1.0
    else:
        S.kplus[p] = S.kplus[p] * philox.pexp((_ms(S, S.tlast[p]) - _ms(S, stamp)) * S.tau_plus_inv) + 1.0
    S.tlast[p] = stamp


@numba.njit(inline="always")
def _post_spike(S, i, stamp):
    """Local post ``i`` spiked at ``stamp``: append (stamp, Kminus) to its history (NEST's set_spiketime)."""
    mask = S.hist_t.shape[1] - 1
    n = S.hist_n[i]
    km = 1.0     # NEST starts from Kminus = 0: 0 * exp(...) + 1
    if n > 0:
        j = (n - 1) & mask
        km = S.hist_k[i, j] * philox.pexp((_ms(S, S.hist_t[i, j]) - _ms(S, stamp)) * S.tau_minus_inv[i]) + 1.0
    S.hist_t[i, n & mask] = stamp
    S.hist_k[i, n & mask] = km
    short = S.last_t.shape[1] - 1
    S.last_t[i, n & short] = stamp
    S.last_k[i, n & short] = km
    S.hist_n[i] = n + 1


@numba.njit(cache=True)
def drive(t, w, lo, hi, seed, G, acc_ex, acc_in, i0_next, O, rx_off, acc_rx):
    """Add the generators' input at step ``t`` for neurons ``[lo, hi)``.

    Poisson counts go into the same fixed-point accumulators as synaptic
    input (integer sums: order does not matter); the current generators' current goes
    to ``i0_next`` (summed in connection order, as before any reordering),
    which ``update`` applies from the next step on. Ownership: only the
    worker ``w`` owning ``[lo, hi)`` writes these entries (checked in the
    ownership check mode).

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
    checking = O.owner.size > 0
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
        kd = g_kind[g]
        if kd == GEN_DC or kd == GEN_TABLE_CURRENT:
            amp = g_value[g] if kd == GEN_DC else G.tab[G.g_tab_lo[g] + TAB_ROW * s]
            for e in range(a, b):
                if checking and not _owns(O, w, e_local[e], -1, t):
                    continue
                i0_next[e_local[e]] += e_w[e] * amp
            continue
        if kd == GEN_NOISE:      # mean + sigma * (normal draw k of this connection and target)
            o = G.g_tab_lo[g] + TAB_ROW * s
            mean, sigma, k_draw = G.tab[o], G.tab[o + 1], np.int64(G.tab[o + 2])
            stream = _NOISE_STREAM | G.c_key[c]
            for e in range(a, b):
                if checking and not _owns(O, w, e_local[e], -1, t):
                    continue
                z, _ = philox.normal(seed, stream, e_gid[e], k_draw, 0)
                i0_next[e_local[e]] += e_w[e] * (mean + sigma * z)
            continue
        if kd == GEN_SIN_POISSON or kd == GEN_SIN_SHARED or kd == GEN_PULSE:
            o = G.g_tab_lo[g] + TAB_ROW * s
            lam, e_lam = G.tab[o], G.tab[o + 1]
            if lam == 0.0:
                continue
            n_shared = np.int64(0)
            if kd == GEN_PULSE:          # the step's spike count, the same for every target
                n_shared = np.int64(lam)
                kd = GEN_SIN_SHARED
            elif kd == GEN_SIN_SHARED:   # one train for every target of the generator
                n_shared, _ = philox.poisson(lam, e_lam, seed, _SIN_SHARED_STREAM | g, 0, s, 0)
            for e in range(a, b):
                i = e_local[e]
                if checking and not _owns(O, w, i, -1, t):
                    continue
                if kd == GEN_SIN_SHARED:
                    k = n_shared
                else:
                    k, _ = philox.poisson(lam, e_lam, seed, _SIN_POISSON_STREAM | G.c_key[c], e_gid[e], s, 0)
                if e_w[e] >= 0.0:
                    acc_ex[i] += k * e_wfx[e]
                else:
                    acc_in[i] += k * e_wfx[e]
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
            if checking and not _owns(O, w, i, -1, t):
                continue
            if G.e_port[e] > 0:   # a receptor port (iaf_psc_*_multisynapse)
                acc_rx[rx_off[i] + G.e_port[e] - 1] += k * e_wfx[e]
            elif e_w[e] >= 0.0:
                acc_ex[i] += k * e_wfx[e]
            else:
                acc_in[i] += k * e_wfx[e]


@numba.njit(inline="always")
def _rkf45_rhs(kind, y0, y1, y2, y3, y4, y5, refractory, I_stim, I_e, g_L, C_m, E_ex, E_in, tau_ex, tau_in, theta,
               E_3, E_4, tau_3, tau_4, p):
    """Derivatives of the conductance models' state ``(y0..y5)``.

    ``y0`` is V; ``y1``, ``y2`` are g_ex, g_in. iaf_cond_exp leaves ``y3``, ``y4``, ``y5`` at 0;
    iaf_cond_alpha keeps dg_ex, dg_in in ``y3``, ``y4``; iaf_cond_exp_sfa_rr g_sfa, g_rr
    (reversal potentials ``E_3``, ``E_4``, decay times ``tau_3``, ``tau_4``). The iaf_cond models
    take potentials relative to E_L, currents at ``min(V, theta)``, and V does not move while
    refractory, as in NEST; each model sums its currents in NEST's order. The aeif models: absolute
    potentials, ``y5`` is w (aeif_cond_alpha: dg in ``y3``, ``y4`` as iaf_cond_alpha), V taken at
    ``min(V, V_peak)`` (V_reset while refractory, which w sees), their other parameters read from ``p``.
    """
    if kind == AEIF_COND_EXP or kind == AEIF_COND_ALPHA:
        v = p[VRESET] if refractory else min(y0, p[VPEAK])
        dT = p[DELTAT]
        I_spike = 0.0 if dT == 0.0 else g_L * dT * np.exp((v - p[VTH]) / dT)
        dV = 0.0 if refractory else (-g_L * (v - p[ELABS]) + I_spike - y1 * (v - E_ex) - y2 * (v - E_in) - y5
                                     + I_e + I_stim) / C_m
        dw = (p[AADAPT] * (v - p[ELABS]) - y5) / p[TAUW]
        if kind == AEIF_COND_ALPHA:
            return dV, y3 - y1 / tau_ex, y4 - y2 / tau_in, -y3 / tau_ex, -y4 / tau_in, dw
        return dV, -y1 / tau_ex, -y2 / tau_in, 0.0, 0.0, dw
    v = min(y0, theta)
    if kind == COND_ALPHA:
        dV = 0.0 if refractory else (-(g_L * v) - y1 * (v - E_ex) - y2 * (v - E_in) + I_stim + I_e) / C_m
        return dV, y3 - y1 / tau_ex, y4 - y2 / tau_in, -y3 / tau_ex, -y4 / tau_in, 0.0
    if kind == COND_SFA_RR:
        dV = 0.0 if refractory else (-(g_L * v) + I_stim + I_e - y1 * (v - E_ex) - y2 * (v - E_in)
                                     - y3 * (v - E_3) - y4 * (v - E_4)) / C_m
        return dV, -y1 / tau_ex, -y2 / tau_in, -y3 / tau_3, -y4 / tau_4, 0.0
    dV = 0.0 if refractory else (-(g_L * v) + I_stim + I_e - y1 * (v - E_ex) - y2 * (v - E_in)) / C_m
    return dV, -y1 / tau_ex, -y2 / tau_in, 0.0, 0.0, 0.0


@numba.njit(cache=True)
def _rkf45_evolve(kind, p, y0, y1, y2, y3, y4, y5, h_ode, r_ref, counts, I_stim):
    """:func:`_rkf45_step_all` for model ``kind``, compiled once per model: each call below passes
    a constant kind, so that the compiler drops the other models' branches and the components a
    model leaves at 0 cost little (a driver branching on a variable kind ran iaf_cond_exp ~30%
    slower)."""
    if kind == COND_EXP:
        return _rkf45_step_all(COND_EXP, p, y0, y1, y2, y3, y4, y5, h_ode, r_ref, counts, I_stim)
    if kind == COND_ALPHA:
        return _rkf45_step_all(COND_ALPHA, p, y0, y1, y2, y3, y4, y5, h_ode, r_ref, counts, I_stim)
    if kind == COND_SFA_RR:
        return _rkf45_step_all(COND_SFA_RR, p, y0, y1, y2, y3, y4, y5, h_ode, r_ref, counts, I_stim)
    if kind == AEIF_COND_EXP:
        return _rkf45_step_all(AEIF_COND_EXP, p, y0, y1, y2, y3, y4, y5, h_ode, r_ref, counts, I_stim)
    return _rkf45_step_all(AEIF_COND_ALPHA, p, y0, y1, y2, y3, y4, y5, h_ode, r_ref, counts, I_stim)


@numba.njit(inline="always")
def _rkf45_step_all(kind, p, y0, y1, y2, y3, y4, y5, h_ode, r_ref, counts, I_stim):
    """Integrate a conductance model (``kind``) over one step of ``p[HSTEP]`` ms, as NEST's GSL
    RKF45 does; returns ``(y0, .., y5, h_ode, r_ref, n_spikes)`` (state as in :func:`_rkf45_rhs`;
    ``r_ref``: refractory count, ``counts``: the model's refractory steps).

    ``p`` is the neuron's column row. Fehlberg 4(5) steps advance the fifth-order
    solution; ``h_ode``, the step size carried from step to step, is clipped to
    the end of the step and rescaled after each Fehlberg step from the largest
    error estimate ``rmax`` (in units of the tolerance): a step with
    ``rmax > 1.1`` is redone shorter, ``rmax < 0.5`` lengthens the next one.
    The state is six scalars rather than an array (no allocation per neuron);
    a model leaves the components it lacks at 0, whose error estimates are 0 and
    so leave ``rmax``, hence its results, as with its own components alone.

    The iaf_cond models use NEST's ``control_y`` (absolute tolerance 1e-3): ``rmax =
    max|err_i| / 1e-3``. The aeif models use ``control_yp`` with ``gsl_error_tol`` as both
    tolerances: ``rmax = max |err_i| / (tol * |h * f_i(y_new)| + tol)``, which needs the
    derivative at the new point; and, as NEST, they check the spike after every accepted
    Fehlberg step (within the step): while refractory V stays at V_reset; at ``V >= V_peak``
    (V_th if Delta_T = 0) V is reset, w grows by b and the refractory count starts (``t_ref
    / h + 1``, or 0 without t_ref); ``n_spikes`` counts them, -1 on NEST's numerical
    instability (``V < -1000`` mV or ``|w| > 1e6`` pA).
    """
    aeif = kind == AEIF_COND_EXP or kind == AEIF_COND_ALPHA
    n_spikes = 0
    I_e, g_L, C_m, E_ex, E_in = p[IE], p[GL], p[CM], p[EEX], p[EIN]
    tau_ex, tau_in, theta, t1 = p[TAUEX], p[TAUIN], p[THETA], p[HSTEP]
    E_3, E_4, tau_3, tau_4 = p[ESFA], p[ERR], p[TAUSFA], p[TAURR]
    t = 0.0
    while t < t1:
        dt = t1 - t
        refractory = r_ref > 0
        k10, k11, k12, k13, k14, k15 = _rkf45_rhs(kind, y0, y1, y2, y3, y4, y5, refractory, I_stim, I_e, g_L, C_m,
                                                  E_ex, E_in, tau_ex, tau_in, theta, E_3, E_4, tau_3, tau_4, p)
        while True:
            h = h_ode
            final = h > dt
            if final:
                h = dt
            a = 0.25 * h
            u0 = y0 + a * k10
            u1 = y1 + a * k11
            u2 = y2 + a * k12
            u3 = y3 + a * k13
            u4 = y4 + a * k14
            u5 = y5 + a * k15
            k20, k21, k22, k23, k24, k25 = _rkf45_rhs(kind, u0, u1, u2, u3, u4, u5, refractory, I_stim, I_e, g_L, C_m,
                                                      E_ex, E_in, tau_ex, tau_in, theta, E_3, E_4, tau_3, tau_4, p)
            b1, b2 = 3.0 / 32.0, 9.0 / 32.0
            u0 = y0 + h * (b1 * k10 + b2 * k20)
            u1 = y1 + h * (b1 * k11 + b2 * k21)
            u2 = y2 + h * (b1 * k12 + b2 * k22)
            u3 = y3 + h * (b1 * k13 + b2 * k23)
            u4 = y4 + h * (b1 * k14 + b2 * k24)
            u5 = y5 + h * (b1 * k15 + b2 * k25)
            k30, k31, k32, k33, k34, k35 = _rkf45_rhs(kind, u0, u1, u2, u3, u4, u5, refractory, I_stim, I_e, g_L, C_m,
                                                      E_ex, E_in, tau_ex, tau_in, theta, E_3, E_4, tau_3, tau_4, p)
            b1, b2, b3 = 1932.0 / 2197.0, -7200.0 / 2197.0, 7296.0 / 2197.0
            u0 = y0 + h * (b1 * k10 + b2 * k20 + b3 * k30)
            u1 = y1 + h * (b1 * k11 + b2 * k21 + b3 * k31)
            u2 = y2 + h * (b1 * k12 + b2 * k22 + b3 * k32)
            u3 = y3 + h * (b1 * k13 + b2 * k23 + b3 * k33)
            u4 = y4 + h * (b1 * k14 + b2 * k24 + b3 * k34)
            u5 = y5 + h * (b1 * k15 + b2 * k25 + b3 * k35)
            k40, k41, k42, k43, k44, k45 = _rkf45_rhs(kind, u0, u1, u2, u3, u4, u5, refractory, I_stim, I_e, g_L, C_m,
                                                      E_ex, E_in, tau_ex, tau_in, theta, E_3, E_4, tau_3, tau_4, p)
            b1, b2, b3, b4 = 8341.0 / 4104.0, -32832.0 / 4104.0, 29440.0 / 4104.0, -845.0 / 4104.0
            u0 = y0 + h * (b1 * k10 + b2 * k20 + b3 * k30 + b4 * k40)
            u1 = y1 + h * (b1 * k11 + b2 * k21 + b3 * k31 + b4 * k41)
            u2 = y2 + h * (b1 * k12 + b2 * k22 + b3 * k32 + b4 * k42)
            u3 = y3 + h * (b1 * k13 + b2 * k23 + b3 * k33 + b4 * k43)
            u4 = y4 + h * (b1 * k14 + b2 * k24 + b3 * k34 + b4 * k44)
            u5 = y5 + h * (b1 * k15 + b2 * k25 + b3 * k35 + b4 * k45)
            k50, k51, k52, k53, k54, k55 = _rkf45_rhs(kind, u0, u1, u2, u3, u4, u5, refractory, I_stim, I_e, g_L, C_m,
                                                      E_ex, E_in, tau_ex, tau_in, theta, E_3, E_4, tau_3, tau_4, p)
            b1, b2, b3 = -6080.0 / 20520.0, 41040.0 / 20520.0, -28352.0 / 20520.0
            b4, b5 = 9295.0 / 20520.0, -5643.0 / 20520.0
            u0 = y0 + h * (b1 * k10 + b2 * k20 + b3 * k30 + b4 * k40 + b5 * k50)
            u1 = y1 + h * (b1 * k11 + b2 * k21 + b3 * k31 + b4 * k41 + b5 * k51)
            u2 = y2 + h * (b1 * k12 + b2 * k22 + b3 * k32 + b4 * k42 + b5 * k52)
            u3 = y3 + h * (b1 * k13 + b2 * k23 + b3 * k33 + b4 * k43 + b5 * k53)
            u4 = y4 + h * (b1 * k14 + b2 * k24 + b3 * k34 + b4 * k44 + b5 * k54)
            u5 = y5 + h * (b1 * k15 + b2 * k25 + b3 * k35 + b4 * k45 + b5 * k55)
            k60, k61, k62, k63, k64, k65 = _rkf45_rhs(kind, u0, u1, u2, u3, u4, u5, refractory, I_stim, I_e, g_L, C_m,
                                                      E_ex, E_in, tau_ex, tau_in, theta, E_3, E_4, tau_3, tau_4, p)
            # fifth-order solution
            c1, c3, c4 = 902880.0 / 7618050.0, 3953664.0 / 7618050.0, 3855735.0 / 7618050.0
            c5, c6 = -1371249.0 / 7618050.0, 277020.0 / 7618050.0
            z0 = y0 + h * (c1 * k10 + c3 * k30 + c4 * k40 + c5 * k50 + c6 * k60)
            z1 = y1 + h * (c1 * k11 + c3 * k31 + c4 * k41 + c5 * k51 + c6 * k61)
            z2 = y2 + h * (c1 * k12 + c3 * k32 + c4 * k42 + c5 * k52 + c6 * k62)
            z3 = y3 + h * (c1 * k13 + c3 * k33 + c4 * k43 + c5 * k53 + c6 * k63)
            z4 = y4 + h * (c1 * k14 + c3 * k34 + c4 * k44 + c5 * k54 + c6 * k64)
            z5 = y5 + h * (c1 * k15 + c3 * k35 + c4 * k45 + c5 * k55 + c6 * k65)
            # error estimate: fifth- minus fourth-order solution
            d1, d3, d4, d5, d6 = 1.0 / 360.0, -128.0 / 4275.0, -2197.0 / 75240.0, 1.0 / 50.0, 2.0 / 55.0
            e0 = abs(h * (d1 * k10 + d3 * k30 + d4 * k40 + d5 * k50 + d6 * k60))
            e1 = abs(h * (d1 * k11 + d3 * k31 + d4 * k41 + d5 * k51 + d6 * k61))
            e2 = abs(h * (d1 * k12 + d3 * k32 + d4 * k42 + d5 * k52 + d6 * k62))
            e3 = abs(h * (d1 * k13 + d3 * k33 + d4 * k43 + d5 * k53 + d6 * k63))
            e4 = abs(h * (d1 * k14 + d3 * k34 + d4 * k44 + d5 * k54 + d6 * k64))
            e5 = abs(h * (d1 * k15 + d3 * k35 + d4 * k45 + d5 * k55 + d6 * k65))
            t_new = t1 if final else t + h
            if aeif:
                u0 = z0
                u1 = z1
                u2 = z2
                u3 = z3
                u4 = z4
                u5 = z5
                l0, l1, l2, l3, l4, l5 = _rkf45_rhs(kind, u0, u1, u2, u3, u4, u5, refractory, I_stim, I_e, g_L, C_m,
                                                    E_ex, E_in, tau_ex, tau_in, theta, E_3, E_4, tau_3, tau_4, p)
                tol = p[GSLTOL]
                rmax = _DBL_MIN      # GSL's standard control: D_i = tol * |h * f_i| + tol (a_y 0, a_dydt 1)
                rmax = max(e0 / abs(tol * abs(h * l0) + tol), rmax)
                rmax = max(e1 / abs(tol * abs(h * l1) + tol), rmax)
                rmax = max(e2 / abs(tol * abs(h * l2) + tol), rmax)
                rmax = max(e3 / abs(tol * abs(h * l3) + tol), rmax)
                rmax = max(e4 / abs(tol * abs(h * l4) + tol), rmax)
                rmax = max(e5 / abs(tol * abs(h * l5) + tol), rmax)
            else:
                rmax = max(max(max(max(max(e0, e1), e2), e3), e4), e5) / _ODE_EPS_ABS
                if rmax < _DBL_MIN:
                    rmax = _DBL_MIN
            h_next = h
            if rmax > 1.1:
                r = 0.9 / rmax ** (1.0 / _ODE_ORDER)
                if r < 0.2:
                    r = 0.2
                h_next = r * h
                if h_next < h and t_new + h_next != t_new:
                    h_ode = h_next
                    continue      # redo the step from t with the shorter h
                h_next = h
            elif rmax < 0.5:
                r = 0.9 / rmax ** (1.0 / (_ODE_ORDER + 1.0))
                if r > 5.0:
                    r = 5.0
                if r < 1.0:
                    r = 1.0
                h_next = r * h
            break
        t = t_new
        y0, y1, y2, y3, y4, y5, h_ode = z0, z1, z2, z3, z4, z5, h_next
        if aeif:
            if y0 < _AEIF_V_MIN or y5 < -_AEIF_W_MAX or y5 > _AEIF_W_MAX:
                return y0, y1, y2, y3, y4, y5, h_ode, r_ref, -1
            if r_ref > 0:
                y0 = p[VRESET]
            elif y0 >= theta:
                y0 = p[VRESET]
                y5 += p[BADAPT]
                r_ref = counts + 1 if counts > 0 else 0
                n_spikes += 1
    return y0, y1, y2, y3, y4, y5, h_ode, r_ref, n_spikes


@numba.njit(cache=True)
def _update_aeif(i, q, N, ex, inh, spikes, mult, n_spikes):
    """One step of aeif neuron ``i`` (parameter set ``q``) in NEST's order (models/aeif_cond_exp.py): integrate
    with spikes detected within the step, count the refractory period down, add the step's input ``ex``/``inh``
    (aeif_cond_alpha: into dg, times e/tau_syn); returns the new spike count. Kept out of ``update``'s loop,
    which ran ~30% slower for every model with this inlined (register pressure)."""
    kind = N.kind[q]
    p = N.prop[q]
    V, g_ex, g_in, y3, y4, N.w_ad[i], N.h_ode[i], r, n_spk = _rkf45_evolve(
        kind, p, N.V[i], N.I_ex[i], N.I_in[i], N.dI_ex[i], N.dI_in[i], N.w_ad[i], N.h_ode[i], N.refr[i],
        N.refr_steps[q], N.i_0[i])
    N.refr[i] = r - 1 if r > 0 else 0
    if kind == AEIF_COND_ALPHA:
        N.I_ex[i] = g_ex
        N.I_in[i] = g_in
        N.dI_ex[i] = y3 + ex * p[PSC0EX]
        N.dI_in[i] = y4 - inh * p[PSC0IN]
    else:
        N.I_ex[i] = g_ex + ex
        N.I_in[i] = g_in - inh
    if n_spk != 0:     # merge_step refuses more than one (or an instability, -1)
        mult[n_spikes] = n_spk
        spikes[n_spikes] = i
        n_spikes += 1
    N.V[i] = V
    N.i_0[i] = N.i0_next[i]
    return n_spikes


@numba.njit(cache=True)
def _update_ports(i, q, N, V, acc_rx):
    """The membrane and port currents of receptor-port neuron ``i`` (parameter set ``q``) over one step, in
    NEST's order (models/iaf_psc_exp_multisynapse.py, iaf_psc_alpha_multisynapse.py); returns V before the
    threshold check, reads and clears the ports' accumulators. Out of ``update``'s loop (register pressure)."""
    p = N.prop[q]
    a, b = N.rx_off[i], N.rx_off[i + 1]
    P = N.rx_prop
    if N.kind[q] == PSC_EXP_PORTS:
        if N.refr[i] == 0:
            V = V * p[P22] + (p[IE] + N.i_0[i]) * p[P20]
            for r in range(a, b):
                V += P[r, 1] * N.rx_I[r]
        else:
            N.refr[i] -= 1
        for r in range(a, b):
            N.rx_I[r] = N.rx_I[r] * P[r, 0] + acc_rx[r] * _INV_FIXED
            acc_rx[r] = 0
        return V
    if N.refr[i] == 0:   # iaf_psc_alpha_multisynapse: rx_dI is NEST's y1, rx_I its y2
        V = p[P20] * (N.i_0[i] + p[IE]) + p[P22] * V
        for r in range(a, b):
            V += P[r, 2] * N.rx_dI[r] + P[r, 3] * N.rx_I[r]
        V = p[VMIN] if V < p[VMIN] else V
    else:
        N.refr[i] -= 1
    for r in range(a, b):
        N.rx_I[r] = P[r, 1] * N.rx_dI[r] + P[r, 0] * N.rx_I[r]
        N.rx_dI[r] = N.rx_dI[r] * P[r, 0] + P[r, 4] * (acc_rx[r] * _INV_FIXED)
        acc_rx[r] = 0
    return V


@numba.njit(cache=True)
def update(t, w, lo, hi, N, acc_ex, acc_in, spikes, mult, n_spikes, O, acc_rx):
    """Advance neurons ``[lo, hi)`` over step ``t`` in NEST's order; returns the new spike count.

    Reads and clears each neuron's accumulators ``acc_ex``/``acc_in`` (the
    step's row, which only this worker writes), integrates (exactly for the
    current-based models; the conductance models with NEST's adaptive RKF45,
    ``_rkf45_evolve``), and appends spiking local indices, in
    increasing order, to ``spikes``. Kept lean on purpose: with the drive
    inlined here the loop ran ~15x slower (register pressure). A parrot
    spikes when spikes arrived (its ``acc_in`` counts them, -1.0 each); their
    number, its multiplicity, goes to ``mult`` beside its place in
    ``spikes``, for ``merge_step`` (a parrot may spike in several steps of
    one window, so the multiplicity is kept per step, not per neuron).
    """
    checking = O.owner.size > 0
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
        if checking and not _owns(O, w, i, -1, t):
            continue
        q = pset[i]
        ex = acc_ex[i] * _INV_FIXED
        inh = acc_in[i] * _INV_FIXED
        acc_ex[i] = 0
        acc_in[i] = 0
        if kind[q] == PARROT:  # no state; spikes arrived on receptor 0 are repeated in this step
            if inh < 0.0:
                mult[n_spikes] = np.int32(-inh)
                spikes[n_spikes] = i
                n_spikes += 1
            continue
        V = V_arr[i]
        if kind[q] == 0:  # iaf_psc_exp
            if refr[i] == 0:
                V = (V * prop[q, P22] + I_ex[i] * prop[q, P21EX] + I_in[i] * prop[q, P21IN]
                     + (prop[q, IE] + i_0[i]) * prop[q, P20])
            else:
                refr[i] -= 1
            I_ex[i] = I_ex[i] * prop[q, P11EX] + ex
            I_in[i] = I_in[i] * prop[q, P11IN] + inh
        elif kind[q] == COND_EXP or kind[q] == COND_ALPHA or kind[q] == COND_SFA_RR:
            # the conductance models, NEST's order (models/iaf_cond_*.py): integrate, spike input (into g;
            # iaf_cond_alpha: into dg, which NEST adds after the threshold: the same, as V does not see it
            # until the next step), refractory clamp or threshold
            V, g_ex, g_in, y3, y4, _, N.h_ode[i], _, _ = _rkf45_evolve(kind[q], prop[q], V, I_ex[i], I_in[i], dI_ex[i],
                                                                       dI_in[i], 0.0, N.h_ode[i], refr[i], 0, i_0[i])
            if kind[q] == COND_ALPHA:
                I_ex[i] = g_ex
                I_in[i] = g_in
                dI_ex[i] = y3 + ex * prop[q, PSC0EX]
                dI_in[i] = y4 - inh * prop[q, PSC0IN]   # inhibitory weights are negative
            else:
                I_ex[i] = g_ex + ex
                I_in[i] = g_in - inh     # inhibitory weights are negative; g_in grows by their magnitude
                dI_ex[i] = y3
                dI_in[i] = y4
            if refr[i] > 0:
                refr[i] -= 1
                V = prop[q, VRESET]  # clamped; V_reset < V_th, so the threshold check below passes
        elif kind[q] == AEIF_COND_EXP or kind[q] == AEIF_COND_ALPHA:
            n_spikes = _update_aeif(i, q, N, ex, inh, spikes, mult, n_spikes)
            continue
        elif kind[q] == PSC_EXP_PORTS or kind[q] == PSC_ALPHA_PORTS:
            V = _update_ports(i, q, N, V, acc_rx)
        elif kind[q] == PSC_DELTA:  # the step's input jumps V; see models/iaf_psc_delta.py
            if refr[i] == 0:
                V = prop[q, P20] * (i_0[i] + prop[q, IE]) + prop[q, P22] * V + (ex + inh)
                if I_ex[i] != 0.0:  # input kept while refractory (refractory_input), decayed to now
                    V += I_ex[i]
                    I_ex[i] = 0.0
                if V < prop[q, VMIN]:
                    V = prop[q, VMIN]
            else:
                if prop[q, REFR_INPUT] != 0.0:  # decays by P22 per refractory step left: w * exp(-r h / tau_m)
                    I_ex[i] = (I_ex[i] + (ex + inh)) * prop[q, P22]
                refr[i] -= 1
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
            if kind[q] == COND_SFA_RR:   # adaptation and relative refractoriness
                dI_ex[i] += prop[q, QSFA]
                dI_in[i] += prop[q, QRR]
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
        elif v == 2:
            Rec.mm_buf[row, c] = N.I_in[i]
        elif v == 3:
            Rec.mm_buf[row, c] = N.dI_ex[i]
        elif v == 4:
            Rec.mm_buf[row, c] = N.dI_in[i]
        elif v == 5:
            Rec.mm_buf[row, c] = N.w_ad[i]
        elif v == 7:     # I_syn of the receptor-port models: the ports' sum, from 0.0 in port order as NEST
            total = 0.0
            for r in range(N.rx_off[i], N.rx_off[i + 1]):
                total += N.rx_I[r]
            Rec.mm_buf[row, c] = total
        elif v >= 100:   # I_syn_k (record.PORT_CODE + k): port k's current
            r = N.rx_off[i] + v - 101
            Rec.mm_buf[row, c] = N.rx_I[r] if r < N.rx_off[i + 1] else np.nan
        else:   # t_ref_remaining, ms: NEST's resolution times the refractory count
            Rec.mm_buf[row, c] = N.prop[N.pset[i], HSTEP] * N.refr[i]


@numba.njit(parallel=True, cache=True)
def run_intervals(t0, n_intervals, m, seed, lo, hi, Ls, Lc, Lp, N, G, R, S, O, q0, pre_of_local,
                  src_ptr, src_pre, src_gid, src_rec, Rec, wk_spikes, wk_mult, wk_count, rec_extra):
    """Simulate ``n_intervals`` intervals of ``m`` steps from step ``t0``; single rank.

    Returns the number of intervals done: fewer than asked when the spike
    recording buffer could overflow in the next one (the caller grows it),
    or when the ownership check or a post history recorded an error (the
    caller raises). ``src_ptr[t - t0] : src_ptr[t - t0 + 1]`` index the
    spike-source emissions of step ``t`` (pre indices ``src_pre``, gids
    ``src_gid``, whether each is recorded ``src_rec``). ``q0`` is all zeros: every ring entry is delivered. Each
    step uses accumulator row 0. ``rec_extra``: recorded spikes a step can hold beyond one per neuron (the
    parrots' extra copies).
    """
    n_workers = lo.size
    cap = Rec.spk_gid.size
    no_send = np.zeros(0, np.int64)
    acc_ex = N.acc_ex[0]
    acc_in = N.acc_in[0]
    acc_rx = N.acc_rx[0]
    for iv in range(n_intervals):
        if iv > 0 and (Rec.spk_n[0] + m * (N.V.size + rec_extra + src_pre.size) > cap or _failed(S, O) or
                       (S.wr_w.shape[1] > 0 and np.max(S.wr_n) > S.wr_w.shape[1] // 2)):
            return iv      # the caller empties the buffers (weight_recorder: at half full)
        t_iv = t0 + iv * m
        for w in numba.prange(n_workers):
            for k in range(m):
                t = t_iv + k
                deliver(t, w, lo[w], hi[w], Ls, Lc, Lp, R, q0, acc_ex, acc_in, S, O, N.rx_off, acc_rx)
                drive(t, w, lo[w], hi[w], seed, G, acc_ex, acc_in, N.i0_next, O, N.rx_off, acc_rx)
                wk_count[w, k] = update(t, w, lo[w], hi[w], N, acc_ex, acc_in, wk_spikes[w, k], wk_mult[w, k], 0, O,
                                        acc_rx)
                if Rec.mm_local.size > 0:
                    _sample(t, t0, lo[w], hi[w], N, Rec)
        for k in range(m):
            t = t_iv + k
            merge_step(t, t0, N, R, S, pre_of_local, wk_spikes, wk_mult, wk_count, k, src_ptr, src_pre, src_gid,
                       src_rec, Rec, True, no_send, 0, m)
    return n_intervals


@numba.njit(inline="always")
def _failed(S, O):
    """Whether any worker recorded a lost post history or an ownership violation."""
    for w in range(S.err.shape[0]):
        if S.err[w, 0] != 0:
            return True
    for w in range(O.err.shape[0]):
        if O.err[w, 0] != 0:
            return True
    return False


@numba.njit(parallel=True, cache=True)
def deliver_window(t_w, m, lo, hi, Ls, Lc, Lp, R, q0, acc_ex, acc_in, S, O, rx_off, acc_rx):
    """Deliver ring entries ``[q0[slot], count[slot])`` due at steps ``t_w .. t_w + m - 1``.

    Step ``t_w + k`` goes to accumulator row ``k``. With ``q0`` all zeros
    this is the part of a window's delivery that needs no spike from the
    exchange still in flight (every spike emitted before the last window,
    and the last window's local spikes): it runs while the exchange proceeds
    (I7). Ownership as in ``deliver``. A plastic synapse sees its spikes in
    order: those delivered here were emitted before any received later.
    """
    for w in numba.prange(lo.size):
        for k in range(m):
            deliver(t_w + k, w, lo[w], hi[w], Ls, Lc, Lp, R, q0, acc_ex[k], acc_in[k], S, O, rx_off, acc_rx[k])


@numba.njit(cache=True)
def append_received(words, m, t_prev, pre_keys, pre_vals, pre_shift, pre_base, R, S, q0):
    """Put the spike words of window ``t_prev`` received from other ranks into its ring slots.

    A word is ``gid * m + k``: ``gid`` spiked at step ``t_prev + k``. Its pre
    index comes from the rank's pre index, a hash table over its pres
    (``pre_keys``, ``pre_vals``, ``pre_shift``, ``pre_base``: :class:`cortex_gpu.gidmap.GidIndex`),
    so that no table here is sized by the network. Spikes
    of neurons without synapses here are dropped. ``q0`` gets each slot's
    count before the additions, so that ``deliver_window`` can deliver the
    new entries alone. A pre's spikes arrive in time order (one sender, in
    step order), which its trace ``Kplus`` needs.
    """
    n_slots = R.count.size
    for s in range(n_slots):
        q0[s] = R.count[s]
    plastic = S.kplus.size > 0
    for j in range(words.size):
        gid = words[j] // m
        p = gid_lookup(pre_keys, pre_vals, pre_shift, pre_base, gid)
        if p < 0:
            continue
        step = t_prev + words[j] % m
        slot = step % n_slots
        if plastic:
            _pre_spike(S, R, slot, R.count[slot], p, step + 1)
        R.pre[slot, R.count[slot]] = p
        R.count[slot] += 1


@numba.njit(parallel=True, cache=True)
def finish_window(t_w, m, seed, lo, hi, Ls, Lc, Lp, N, G, R, S, O, q0, pre_of_local, src_ptr, src_pre, src_gid,
                  src_rec, Rec, rec_t0, wk_spikes, wk_mult, wk_count, record_sources, send):
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
            deliver(t, w, lo[w], hi[w], Ls, Lc, Lp, R, q0, N.acc_ex[k], N.acc_in[k], S, O, N.rx_off, N.acc_rx[k])
            drive(t, w, lo[w], hi[w], seed, G, N.acc_ex[k], N.acc_in[k], N.i0_next, O, N.rx_off, N.acc_rx[k])
            wk_count[w, k] = update(t, w, lo[w], hi[w], N, N.acc_ex[k], N.acc_in[k], wk_spikes[w, k], wk_mult[w, k],
                                    0, O, N.acc_rx[k])
            if Rec.mm_local.size > 0:
                _sample(t, rec_t0, lo[w], hi[w], N, Rec)
    n_send = 0
    for k in range(m):
        n_send = merge_step(t_w + k, rec_t0, N, R, S, pre_of_local, wk_spikes, wk_mult, wk_count, k, src_ptr,
                            src_pre, src_gid, src_rec, Rec, record_sources, send, n_send, m)
    return n_send


@numba.njit(cache=True)
def merge_step(t, t0, N, R, S, pre_of_local, wk_spikes, wk_mult, wk_count, k, src_ptr, src_pre, src_gid, src_rec,
               Rec, record_sources, send, n_send, m):
    """Put step ``t``'s spikes in ring slot ``t % n_slots``, count and record them; returns ``n_send``.

    Workers own increasing post ranges and list their spikes in order, so the
    slot holds local spikes in gid order, then spike-source emissions. With
    other ranks (``send`` not empty), every local spike is also appended to
    ``send`` as ``gid * m + k``. Spike sources run on every rank; only the
    rank with ``record_sources`` records them. A parrot's spike of
    multiplicity ``c`` (left in ``wk_mult`` by ``update``) enters the ring and
    ``send`` ``c`` times. With plastic synapses each entry gets its pre's
    trace and each local spike joins its neuron's post history.
    """
    slot = t % R.count.size
    stamp = t + 1
    plastic = S.kplus.size > 0
    n = 0
    for w in range(wk_count.shape[0]):
        for q in range(wk_count[w, k]):
            i = wk_spikes[w, k, q]
            N.n_spikes[i] += 1
            copies = 1
            if N.kind[N.pset[i]] == PARROT:
                copies = wk_mult[w, k, q]
                if copies > PARROT_MAX_COPIES:
                    raise ValueError("a parrot_neuron received more spikes in one step than it can repeat "
                                     "(cortex_gpu.backends.cpu.PARROT_MAX_COPIES)")
            elif (N.kind[N.pset[i]] == AEIF_COND_EXP or N.kind[N.pset[i]] == AEIF_COND_ALPHA) and wk_mult[w, k, q] != 1:
                if wk_mult[w, k, q] < 0:
                    raise ValueError("aeif_cond_exp/aeif_cond_alpha: numerical instability (V_m < -1000 mV or "
                                     "|w| > 1e6 pA), as NEST raises NumericalInstability")
                raise NotImplementedError("aeif_cond_exp/aeif_cond_alpha: more than one spike of a neuron in one "
                                          "step (t_ref = 0 and a fast rise) is not built")
            if plastic:
                _post_spike(S, i, stamp)
            p = pre_of_local[i]
            g = N.gid[i]
            for _ in range(copies):
                if p >= 0:
                    if plastic:
                        _pre_spike(S, R, slot, n, p, stamp)
                    R.pre[slot, n] = p
                    n += 1
                if send.size > 0:
                    send[n_send] = g * m + k
                    n_send += 1
            if Rec.rec_local[i]:
                for _ in range(copies):      # NEST records a parrot's spike once per copy
                    j = Rec.spk_n[0]
                    Rec.spk_gid[j] = g
                    Rec.spk_step[j] = t
                    Rec.spk_n[0] = j + 1
    for e in range(src_ptr[t - t0], src_ptr[t - t0 + 1]):
        if src_pre[e] >= 0:
            if plastic:
                _pre_spike(S, R, slot, n, src_pre[e], stamp)
            R.pre[slot, n] = src_pre[e]
            n += 1
        g = src_gid[e]
        if record_sources and src_rec[e]:
            j = Rec.spk_n[0]
            Rec.spk_gid[j] = g
            Rec.spk_step[j] = t
            Rec.spk_n[0] = j + 1
    R.count[slot] = n
    return n_send
