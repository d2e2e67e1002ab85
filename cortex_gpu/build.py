"""Local construction: each rank draws its own indegree sub-graph.

A rank draws only the incoming synapses of the neurons it owns (I2), in two
passes over its posts that regenerate the same keyed random numbers:

1. count synapses per (chunk, pre gid), where a chunk is a run of local posts
   inside one section, handled by one thread; each chunk counts in a hash
   table of its own (:mod:`cortex_gpu.gidmap`), sized by the pres it draws,
   not by the network: a table per gid would cost ``n_chunks * n_nodes``;
2. draw them again with weights and delays and write each into its *bucket*:
   the final region of 256 consecutive pre indices of one section, in chunk
   then post order; then sort every bucket by (pre, delay), stably, which
   leaves each (section, pre, delay) run sorted by post.

Why buckets: writing each synapse straight into its (section, pre) segment
scatters over ~77,000 destinations at full-scale PD14 and misses the cache
on nearly every write (~250 ns per synapse); ~300 bucket destinations per
chunk stay in L2, and the sort of one bucket (a few MB) stays in cache.

Why the loops are split per (post, projection): the Philox blocks, the
pres, the ziggurat's fast path and the delay's table search run in loops
without branches, which LLVM vectorizes (8-16 synapses per instruction);
the rare slow draws follow in a scalar loop, and the scatter has a loop of
its own that prefetches ahead of each bucket's write front.

The peak memory is the final layout plus 2 bytes per synapse (the sort key:
the pre's place in its bucket and the delay, 4 bytes where delays span more
than 256 steps): no global synapse list and no full sort buffer exist.

Synapses come in up to three *groups*, each with a layout of its own, built
by the same passes over its projections alone (a synapse's draws are keyed
by projection, post and place, so the split moves no random number):

- ``static``: static synapses onto integrating neurons (weights in pA/nS);
- ``count``: static synapses onto parrot_neurons, which count spikes;
- ``plastic``: synapses of the plastic model (float64 weights, updated at
  delivery by the post's owner).

When there is more than one group, every layout is re-indexed to the union
of their pre-synaptic gids, so that one ring entry (a pre index) serves all.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numba
import numpy as np

from . import keys
from . import philox
from .connect import KIND_ARRAY, RULE_CODES, draw_pres, shared_block_weight, split_total, syn_value, zig_layer
from .distributions import KIND_CONST, KIND_LOGNORMAL, KIND_NORMAL, KIND_UNIFORM, Distribution, as_row, draw, grid_cdf
from .gidmap import EMPTY, GidIndex, gid_insert, gid_lookup, table_shift
from .layout import DeliveryLayout
from .models import N_PROP, NEURON_MODELS, ModelError, col
from .models._base import N_PORT_PROP, port_lists
from .network import PARROT_MODELS, Network, delay_to_steps, locate
from .partition import Partition
from .memory import empty_small_pages, prefetch_write

__all__ = ["LocalGraph", "NeuronTable", "build_local", "MAX_DELAY_STEPS"]

#: Delays are kept as 16-bit step counts during the build.
MAX_DELAY_STEPS = 65535
SECTION_MAX = 65536
#: Pre indices per build bucket (see the module docstring): 2**BUCKET_SHIFT.
BUCKET_SHIFT = 8
#: Elements ahead of a bucket's write front that pass 2 prefetches (:mod:`cortex_gpu.memory`).
PREFETCH_AHEAD = 64
_ERR_DELAY, _ERR_REDRAW, _ERR_DELAY_MAX = 1, 2, 3


@dataclass
class NeuronTable:
    """The local neurons: model kind, kernel columns, refractory steps, initial state."""

    gids: np.ndarray
    kind: np.ndarray          # int8 model id per neuron
    prop: np.ndarray          # float64 (n, N_PROP)
    refr_steps: np.ndarray    # int32
    V_m: np.ndarray           # initial membrane potential, mV (absolute)
    I_syn_ex: np.ndarray      # model's second state slot: I_syn_ex (pA) or g_ex (nS), see NeuronModel.slots
    I_syn_in: np.ndarray      # third slot: I_syn_in (pA) or g_in (nS)
    dI_ex: np.ndarray         # fourth slot (0 unless the model names one): dg_ex (nS/ms) or g_sfa (nS)
    dI_in: np.ndarray         # fifth slot: dg_in (nS/ms) or g_rr (nS)
    w: np.ndarray             # sixth slot: the aeif models' adaptation current w (pA)
    #: receptor ports (iaf_psc_*_multisynapse): neuron i's ports are rows rx_off[i]:rx_off[i+1] of
    #: rx_prop (float64 (n_ports_total, N_PORT_PROP), the model's per-port propagators)
    rx_off: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    rx_prop: np.ndarray = field(default_factory=lambda: np.zeros((0, N_PORT_PROP)))


@dataclass
class LocalGraph:
    """One rank's indegree sub-graph: its neurons and every synapse onto them."""

    rank: int
    n_ranks: int
    neurons: NeuronTable
    layout: DeliveryLayout
    indegree: np.ndarray      # int64 per local neuron: its incoming synapses (counted in pass 1)
    build_s: float
    timings: dict[str, float] = field(default_factory=dict)
    count_layout: DeliveryLayout | None = None     # static synapses onto parrot_neurons
    plastic_layout: DeliveryLayout | None = None   # synapses of the plastic model (float64 weights)

    @property
    def layouts(self) -> list[DeliveryLayout]:
        """Every non-empty group's layout: static, count, plastic (sharing one pre index)."""
        return [lay for lay in (self.layout, self.count_layout, self.plastic_layout) if lay is not None]

    @property
    def n_synapses(self) -> int:
        return sum(lay.n_synapses for lay in self.layouts)

    @property
    def layout_bytes(self) -> int:
        """Bytes of every group's delivery arrays; the shared pre index counted once."""
        shared = self.layout.pre_index.nbytes + self.layout.pre_gids.nbytes
        return sum(lay.nbytes for lay in self.layouts) - (len(self.layouts) - 1) * shared


# ---------------------------------------------------------------- neurons
def _param_values(net: Network, pop, model, local: np.ndarray, seed: int, pop_index: int) -> dict:
    """Per-neuron float64 values of every parameter and state variable for local gids of ``pop``."""
    names = model.draw_order
    out = {}
    for i, name in enumerate(names):
        if name in pop.params:
            v = pop.params[name]
        elif name in model.params:
            v = model.params[name].default
        elif name == "V_m":
            # default initial state: each local neuron's own E_L (already per local neuron)
            out[name] = out["E_L"].copy()
            continue
        else:
            v = model.state[name][0]
        if isinstance(v, Distribution):
            row = as_row(v)
            stream = keys.stream(keys.PARAM, pop_index * 64 + i)
            out[name] = _draw_many(row, seed, stream, local)
            if np.any(np.isnan(out[name])):
                raise ModelError(f"population '{pop.name}': {name} = {v} gave no value inside its bounds")
        else:
            a = np.asarray(v, dtype=float)
            out[name] = a[local - pop.first].copy() if a.ndim else np.full(local.size, float(a))
    return out


@numba.njit(cache=True)
def _draw_many(row, seed, stream, gids):
    out = np.empty(gids.size)
    for i in range(gids.size):
        out[i] = draw(row, seed, stream, gids[i], 0)
    return out


def _neurons(net: Network, local: np.ndarray, seed: int) -> NeuronTable:
    n = local.size
    kind = np.zeros(n, np.int8)
    prop = np.zeros((n, N_PROP))
    refr = np.zeros(n, np.int32)
    state = {k: np.zeros(n) for k in ("V_m", "I_syn_ex", "I_syn_in", "dI_ex", "dI_in", "w")}
    pops = net.population_of(local) if n else np.zeros(0, np.int64)
    h = net.resolution_ms
    n_ports = np.zeros(n, np.int64)
    port_rows: dict[int, np.ndarray] = {}   # population -> its local neurons' port rows, in local order
    for pi in np.unique(pops):
        pop = net.populations[pi]
        model = NEURON_MODELS[pop.model]
        sel = np.flatnonzero(pops == pi)
        values = _param_values(net, pop, model, local[sel], seed, int(pi))
        model.validate(f"population '{pop.name}'", values)
        t, r = model.prepare(values, h)
        t[:, col("tau_minus")] = values["tau_minus"]
        kind[sel] = model.kind
        prop[sel] = t
        refr[sel] = r
        for k, name in zip(state, model.slots):
            if name:    # "" marks a slot the model does not use
                state[k][sel] = values[name]
        if model.port_param:
            lists = port_lists(pop.params.get(model.port_param, model.port_default), pop.n)
            mine = [lists[g - pop.first] for g in local[sel]]
            model.validate(f"population '{pop.name}'", {**values, model.port_param: mine})
            n_ports[sel] = [len(x) for x in mine]
            port_rows[int(pi)] = model.prepare_ports(values, mine, h)
    rx_off = np.concatenate([[0], np.cumsum(n_ports)]).astype(np.int64)
    rx_prop = np.zeros((int(rx_off[-1]), N_PORT_PROP))
    for pi, rows in port_rows.items():
        sel = np.flatnonzero(pops == pi)   # a population's gids are consecutive: its ports are one block
        rx_prop[rx_off[sel[0]]:rx_off[sel[-1] + 1]] = rows
    return NeuronTable(local, kind, prop, refr, *state.values(), rx_off, rx_prop)


# ------------------------------------------------------------ projections
@dataclass
class _Plan:
    """Flat arrays describing every projection's share on this rank, for the kernels."""

    rule: np.ndarray
    pre_off: np.ndarray
    pre_flat: np.ndarray
    log1m: np.ndarray
    autapses: np.ndarray
    multapses: np.ndarray
    w_row: np.ndarray
    d_row: np.ndarray
    r_row: np.ndarray         # per projection: its receptor port (a value row; floored per synapse)
    ports: bool               # whether any projection of the group targets receptor ports
    values: np.ndarray
    d_tab_lo: np.ndarray      # per projection: start of its grid-delay table in d_tab; -1: none
    d_tab_g0: np.ndarray      # start of the table's guide in d_guide
    d_tab_k0: np.ndarray      # delay in steps of a table's first entry
    d_tab_steps: np.ndarray   # branch-free steps of a guided search in the table (philox.guide_steps)
    d_tab: np.ndarray         # concatenated grid CDFs (distributions.grid_cdf)
    d_guide: np.ndarray       # their guide tables (philox.guide_table)
    delay_lo: int             # bounds of every delay in steps, known before drawing (_delay_bounds)
    delay_hi: int
    entry_ptr: np.ndarray     # CSR over local posts -> entries
    entry_proj: np.ndarray
    entry_count: np.ndarray
    entry_aux: np.ndarray
    max_cap: int
    max_npre: int


def _value_row(value, values: list, offset: list, order=None) -> np.ndarray:
    if isinstance(value, np.ndarray):
        flat = (value[order] if order is not None else value).ravel().astype(float)
        row = np.array([-1.0, float(offset[0]), 0.0, 0.0, 0.0])
        values.append(flat)
        offset[0] += flat.size
        return row
    return as_row(value)


def _plan(net: Network, local: np.ndarray, seed: int, projections: frozenset[int] | None = None) -> _Plan:
    """The flat tables of every projection; only those in ``projections`` (all if None) get entries."""
    n_proj = len(net.projections)
    rule = np.zeros(n_proj, np.int64)
    pre_off = np.zeros(n_proj + 1, np.int64)
    pre_parts, values = [], [np.zeros(0)]
    offset = [0]
    log1m = np.zeros(n_proj)
    autapses = np.zeros(n_proj, np.bool_)
    multapses = np.zeros(n_proj, np.bool_)
    w_row = np.zeros((n_proj, 5))
    d_row = np.zeros((n_proj, 5))
    r_row = np.zeros((n_proj, 5))
    ports = False
    e_local, e_proj, e_count, e_aux = [], [], [], []
    max_cap, max_npre = 1, 1
    d_tab_lo, d_tab_g0, d_tab_k0, d_tab_steps = (np.full(n_proj, -1, np.int64) for _ in range(4))
    d_tabs, d_guides, tab_size = [np.zeros(0)], [np.zeros(0, np.int64)], 0
    bounds = []
    for proj in net.projections:
        i = proj.id
        if projections is not None and i not in projections:
            pre_parts.append(np.zeros(0, np.int64))
            pre_off[i + 1] = pre_off[i]
            continue
        rule[i] = RULE_CODES[proj.rule]
        autapses[i], multapses[i] = proj.allow_autapses, proj.allow_multapses
        order = None
        if proj.rule == "one_to_one":
            order = np.argsort(proj.post, kind="stable")
            post_sorted = proj.post[order]
            pre_parts.append(proj.pre[order])
            lo = np.searchsorted(post_sorted, local, side="left")
            hi = np.searchsorted(post_sorted, local, side="right")
            has = hi > lo
            e_local.append(np.flatnonzero(has))
            e_count.append((hi - lo)[has])
            e_aux.append(lo[has])
            if has.any():
                max_cap = max(max_cap, int((hi - lo).max()))
        else:
            pre_parts.append(proj.pre)
            pos, has = locate(proj.post, local)
            idx = np.flatnonzero(has)
            e_local.append(idx)
            e_aux.append(pos[has])
            if proj.rule == "fixed_indegree":
                cnt = np.full(idx.size, proj.indegree, np.int64)
            elif proj.rule == "fixed_total_number":
                cnt = split_total(proj.total, proj.post.size, pos[has].astype(np.int64), seed,
                                  keys.stream(keys.COUNT, i))
            else:
                cnt = np.full(idx.size, proj.pre.size if proj.rule in ("all_to_all", "pairwise_bernoulli") else 0,
                              np.int64)
            e_count.append(cnt)
            if cnt.size:
                max_cap = max(max_cap, int(cnt.max()))
            if proj.rule == "pairwise_bernoulli":
                log1m[i] = -np.inf if proj.p == 1.0 else np.log1p(-proj.p)
        max_npre = max(max_npre, proj.pre.size)
        pre_off[i + 1] = pre_off[i] + pre_parts[-1].size
        w_row[i] = _value_row(proj.weight, values, offset, order)
        d_row[i] = _value_row(proj.delay, values, offset, order)
        r = proj.receptor_type
        r_row[i] = _value_row(r.astype(float) if isinstance(r, np.ndarray) else r, values, offset, order)
        ports = ports or net.port_targets(proj.post)
        tab = grid_cdf(d_row[i], net.resolution_ms) if d_row[i][0] != KIND_ARRAY else None
        if tab is not None:
            d_tab_k0[i] = tab[0]
            d_tab_lo[i] = tab_size
            d_tab_g0[i] = (len(d_guides) - 1) * philox.GUIDE_SIZE
            tab_size += tab[1].size
            d_tabs.append(tab[1])
            d_guides.append(philox.guide_table(tab[1]))
            d_tab_steps[i] = philox.guide_steps(tab[1], d_guides[-1])
        bounds.append(_delay_bounds(d_row[i], tab, proj.delay, net.resolution_ms))
        e_proj.append(np.full(e_local[-1].size, i, np.int64))
    delay_lo = min((b[0] for b in bounds), default=1)   # noqa: E501 (only the group's projections)
    delay_hi = max((b[1] for b in bounds), default=1)
    cat = (lambda parts, dt: np.concatenate(parts).astype(dt) if parts else np.zeros(0, dt))
    el = cat(e_local, np.int64)
    ep = cat(e_proj, np.int64)
    order = np.lexsort((ep, el))
    ptr = np.zeros(local.size + 1, np.int64)
    np.add.at(ptr, el + 1, 1)
    return _Plan(rule, pre_off, cat(pre_parts, np.int64), log1m, autapses, multapses, w_row, d_row, r_row, ports,
                 np.concatenate(values), d_tab_lo, d_tab_g0, d_tab_k0, d_tab_steps, np.concatenate(d_tabs),
                 np.concatenate(d_guides), delay_lo, delay_hi, np.cumsum(ptr), ep[order], cat(e_count, np.int64)[order],
                 cat(e_aux, np.int64)[order], max_cap, max_npre)


def _delay_bounds(row: np.ndarray, tab, delay, resolution_ms: float) -> tuple[int, int]:
    """Smallest and largest delay in steps a projection can draw, clipped to [1, MAX_DELAY_STEPS].

    Exact for grid tables, constants and per-connection arrays (rounded by
    :func:`~cortex_gpu.network.delay_to_steps`, as :func:`_pass_fill` rounds
    them); the whole range otherwise. Pass 2 packs
    a synapse's delay into its sort key relative to the lowest bound of all
    projections, so the key's width follows from these bounds.
    """
    if tab is not None:
        lo, hi = tab[0], tab[0] + tab[1].size - 1
    elif isinstance(delay, np.ndarray):
        steps = delay_to_steps(delay, resolution_ms)
        lo, hi = (steps.min(), steps.max()) if steps.size else (1, 1)
    elif row[0] == KIND_CONST:
        lo = hi = delay_to_steps(row[1], resolution_ms)
    else:
        lo, hi = 1, MAX_DELAY_STEPS
    return int(min(max(lo, 1), MAX_DELAY_STEPS)), int(min(max(hi, 1), MAX_DELAY_STEPS))


@numba.njit(parallel=True, cache=True)
def _pass_count(todo, chunk_lo, chunk_hi, local, entry_ptr, entry_proj, entry_count, entry_aux,
                rule, pre_off, pre_flat, log1m, autapses, multapses, seed, max_cap, max_npre, tab_keys, tab_count,
                shift, base, n_distinct, degree):
    """Pass 1 for chunks ``todo``: row ``t`` of ``tab_keys``/``tab_count`` counts the synapses of each pre
    gid onto the posts of chunk ``todo[t]`` (a hash table, :mod:`cortex_gpu.gidmap`); ``degree[i]``
    per post. ``n_distinct[t]``: the pres counted, or -1 when they would fill more than half the
    row; the chunk stopped there and the caller draws it again with larger rows. With no key
    column (``tab_keys`` of width 0), row ``t`` of ``tab_count`` counts gid ``base + j`` at ``j``."""
    limit = tab_keys.shape[1] // 2
    dense = tab_keys.shape[1] == 0
    for t in numba.prange(todo.size):
        c = todo[t]
        keys = tab_keys[t]
        cnt = tab_count[t]
        out_pre = np.empty(max_cap, np.int64)
        out_conn = np.empty(max_cap, np.int64)
        out_words = np.empty((4, max_cap), np.uint32)
        marker = np.full(max_npre, -1, np.int64)
        stamp = 0
        distinct = 0
        full = False
        for i in range(chunk_lo[c], chunk_hi[c]):
            deg = 0
            for e in range(entry_ptr[i], entry_ptr[i + 1]):
                p = entry_proj[e]
                stamp += 1
                n = draw_pres(rule[p], pre_flat[pre_off[p]:pre_off[p + 1]], local[i], entry_count[e],
                              entry_aux[e], log1m[p], autapses[p], multapses[p], seed, p,
                              out_pre, out_conn, out_words, marker, stamp)
                if dense:   # a direct table over the chunk's candidate gids from ``base``
                    for k in range(n):
                        cnt[out_pre[k] - base] += 1
                for k in range(0 if dense else n):
                    s, new = gid_insert(keys, shift, out_pre[k], distinct < limit)
                    if s < 0:   # a new pre would fill more than half the table
                        full = True
                        break
                    cnt[s] += 1
                    distinct += new
                deg += n
                if full:
                    break
            if full:
                break
            degree[i] = deg
        n_distinct[t] = -1 if full else distinct


@numba.njit(parallel=True, cache=True)
def _pass_fill(chunk_lo, chunk_hi, chunk_section, section_size, local, entry_ptr, entry_proj,
               entry_count, entry_aux, rule, pre_off, pre_flat, log1m, autapses, multapses,
               w_row, d_row, values, d_tab_lo, d_tab_g0, d_tab_k0, d_tab_steps, d_tab, d_guide, steps_per_ms, seed,
               max_cap, max_npre, cursor, pre_keys, pre_vals, pre_shift, pre_base, delay_lo, key_shift, syn_post, syn_weight, syn_key, delay_seen, err,
               r_row, syn_port):
    """Pass 2: regenerate each chunk's synapses and append them to ``cursor[c, bucket]``.

    A synapse's pre index comes from the group's
    :class:`cortex_gpu.gidmap.GidIndex` (``pre_keys``, ``pre_vals``, ``pre_shift``, ``pre_base``). Its sort key
    holds the pre's place in the bucket above
    ``key_shift`` bits and its delay in steps minus ``delay_lo`` below;
    ``delay_seen[c]`` gets the smallest and largest delay of chunk c.

    A delay with a grid table is drawn in steps by inverting one 32-bit word
    of the block keyed (DELAY | projection, post, j); other delays are drawn
    in ms and rounded as NEST rounds them. With ``syn_port`` not empty each synapse's receptor
    port (``r_row``: a constant, a per-connection value or a distribution, floored) goes there.
    """
    with_ports = syn_port.size > 0
    for c in numba.prange(chunk_lo.size):
        out_pre = np.empty(max_cap, np.int64)
        out_conn = np.empty(max_cap, np.int64)
        out_words = np.empty((4, max_cap), np.uint32)
        z_fast = np.empty(max_cap)
        d_fast = np.empty(max_cap, np.int64)
        bucket = np.empty(max_cap, np.int64)
        key = np.empty(max_cap, np.int64)
        weight = np.empty(max_cap)
        port = np.zeros(max_cap, np.uint8)
        marker = np.full(max_npre, -1, np.int64)
        stamp = 0
        base = chunk_section[c] * section_size
        cur = cursor[c]
        d_min, d_max = delay_seen[c, 0], delay_seen[c, 1]
        for i in range(chunk_lo[c], chunk_hi[c]):
            g_post = local[i]
            for e in range(entry_ptr[i], entry_ptr[i + 1]):
                p = entry_proj[e]
                stamp += 1
                n = draw_pres(rule[p], pre_flat[pre_off[p]:pre_off[p + 1]], g_post, entry_count[e],
                              entry_aux[e], log1m[p], autapses[p], multapses[p], seed, p,
                              out_pre, out_conn, out_words, marker, stamp)
                s_w = (keys.WEIGHT << 24) | p
                s_d = (keys.DELAY << 24) | p
                s_r = (keys.RECEPTOR << 24) | p
                wr = w_row[p]
                dr = d_row[p]
                t_lo, t_g0, t_k0, t_steps = d_tab_lo[p], d_tab_g0[p], d_tab_k0[p], d_tab_steps[p]
                shared = rule[p] == 2 or rule[p] == 3   # one block per synapse: pre, delay, weight
                fast_w = shared and (wr[0] == KIND_NORMAL or wr[0] == KIND_LOGNORMAL)
                fast_d = shared and t_lo >= 0
                # Loops without branches vectorize; the rare slow weights follow in the loop below.
                if fast_w:
                    for j in range(n):
                        z_fast[j] = philox.zig_fast(out_words[3, j], zig_layer(out_words[0, j], out_words[1, j]))
                if fast_d:
                    for j in range(n):
                        d_fast[j] = philox.invert_cdf_u32_start(d_tab, t_lo, d_guide, t_g0, out_words[2, j], t_steps)
                for j in range(n):
                    if fast_w:
                        w = shared_block_weight(wr, z_fast[j], out_words[0, j], out_words[1, j], out_words[3, j],
                                                seed, s_w, g_post, j)
                    else:
                        w = syn_value(wr, values, out_conn[j], seed, s_w, g_post, j)
                    if fast_d:
                        d = np.float64(t_k0 + philox.invert_cdf_u32_finish(d_tab, t_lo, out_words[2, j], d_fast[j]))
                    elif t_lo >= 0:
                        x, _, _, _ = philox.block(seed, s_d, g_post, j, 0)
                        d = np.float64(t_k0 + philox.invert_cdf_u32(d_tab, t_lo, d_guide, t_g0, x))
                    else:
                        d = np.floor(syn_value(dr, values, out_conn[j], seed, s_d, g_post, j) * steps_per_ms + 0.5)
                    bucket[j] = -1   # skipped by the scatter below
                    if np.isnan(w) or np.isnan(d):
                        err[c, 0] = _ERR_REDRAW
                        err[c, 1] = p
                        continue
                    if d < 1.0 or d > 65535.0:
                        err[c, 0] = _ERR_DELAY if d < 1.0 else _ERR_DELAY_MAX
                        err[c, 1] = p
                        err[c, 2] = int(min(max(d, -1.0), 1e9))
                        continue
                    di = np.int64(d)
                    d_min = min(d_min, di)
                    d_max = max(d_max, di)
                    q = gid_lookup(pre_keys, pre_vals, pre_shift, pre_base, out_pre[j])
                    bucket[j] = q >> BUCKET_SHIFT
                    key[j] = ((q & ((1 << BUCKET_SHIFT) - 1)) << key_shift) | (di - delay_lo)
                    weight[j] = w
                    if with_ports:
                        rv = np.floor(syn_value(r_row[p], values, out_conn[j], seed, s_r, g_post, j))
                        if r_row[p][0] == KIND_UNIFORM and rv >= r_row[p][2]:   # u * (b - a) rounded up to b
                            rv = r_row[p][2] - 1.0
                        port[j] = np.uint8(rv)
                # Scatter alone in its loop: nothing else competes for the write fronts' cache lines.
                for j in range(n):
                    kb = bucket[j]
                    if kb < 0:
                        continue
                    k = cur[kb]
                    cur[kb] = k + 1
                    prefetch_write(syn_post, k + PREFETCH_AHEAD)
                    prefetch_write(syn_weight, k + PREFETCH_AHEAD)
                    prefetch_write(syn_key, k + PREFETCH_AHEAD)
                    syn_post[k] = i - base
                    syn_weight[k] = weight[j]
                    syn_key[k] = key[j]
                    if with_ports:
                        syn_port[k] = port[j]
        delay_seen[c, 0] = d_min
        delay_seen[c, 1] = d_max


@numba.njit(parallel=True, cache=True)
def _sort_buckets(first_seg, last_seg, seg_start, syn_post, syn_weight, syn_key, key_shift, delay_lo,
                  min_delay, max_delay, delay_off, syn_port):
    """Stable counting sort of every bucket by (pre, delay); fill the relative run table.

    Bucket ``b`` holds the segments ``[first_seg[b], last_seg[b])`` (consecutive
    pre indices of one section) and occupies exactly their final region.
    Stability keeps each run in the chunk-then-post order pass 2 wrote.
    """
    w = max_delay - min_delay + 1
    d_mask = (np.int64(1) << key_shift) - 1
    shift = delay_lo - min_delay
    for bk in numba.prange(first_seg.size):
        f, l = first_seg[bk], last_seg[bk]
        a, b = seg_start[f], seg_start[l]
        cnt = np.zeros((l - f) * w + 1, np.int64)
        for k in range(a, b):
            key = np.int64(syn_key[k])
            cnt[(key >> key_shift) * w + (key & d_mask) + shift + 1] += 1
        for key in range(1, cnt.size):
            cnt[key] += cnt[key - 1]      # cnt[key] = first position of key, relative to a
        for p in range(l - f):
            seg = f + p
            for d in range(min_delay + 1, max_delay + 1):
                delay_off[seg * (w - 1) + (d - min_delay - 1)] = cnt[p * w + (d - min_delay)] - cnt[p * w]
        tmp_p = syn_post[a:b].copy()
        tmp_w = syn_weight[a:b].copy()
        with_ports = syn_port.size > 0
        tmp_r = syn_port[a:b].copy() if with_ports else syn_port[:0].copy()
        for k in range(b - a):
            key = np.int64(syn_key[a + k])
            slot = (key >> key_shift) * w + (key & d_mask) + shift
            pos = a + cnt[slot]
            cnt[slot] += 1
            syn_post[pos] = tmp_p[k]
            syn_weight[pos] = tmp_w[k]
            if with_ports:
                syn_port[pos] = tmp_r[k]


#: Chunks per worker in the build passes, handed out dynamically: populations differ
#: in indegree, so equal chunks of posts would leave one thread waiting for another.
CHUNKS_PER_WORKER = 8


def _chunks(work: np.ndarray, section_size: int, n_workers: int):
    """Split local posts into runs of about equal ``work`` (expected synapses), cut at sections.

    Returns ``(lo, hi, section)`` per chunk; a chunk lies inside one section
    and is drawn by one thread.
    """
    n_local = work.size
    cuts = set(range(0, n_local, section_size)) | {0, n_local}
    n_parts = max(1, n_workers * CHUNKS_PER_WORKER) if n_workers > 1 else 1
    if n_local and n_parts > 1:
        cum = np.cumsum(work, dtype=np.float64)
        cuts |= set(np.searchsorted(cum, cum[-1] * np.arange(1, n_parts) / n_parts).tolist())
    cuts = np.array(sorted(cuts), np.int64)
    lo, hi = cuts[:-1], cuts[1:]
    keep = hi > lo
    lo, hi = lo[keep], hi[keep]
    return lo, hi, lo // section_size


def synapse_groups(net: Network) -> dict[str, frozenset[int]]:
    """Projection ids of each synapse group (see the module docstring)."""
    parrots = set(PARROT_MODELS)
    groups: dict[str, set[int]] = {"static": set(), "count": set(), "plastic": set()}
    for proj in net.projections:
        if net.is_plastic(proj.synapse_model):
            groups["plastic"].add(proj.id)
        elif proj.post.size and net.populations[int(net.population_of(proj.post[:1])[0])].model in parrots:
            groups["count"].add(proj.id)   # Network.connect keeps parrot and other posts apart
        else:
            groups["static"].add(proj.id)
    return {k: frozenset(v) for k, v in groups.items()}


def sections(n_local: int, section_size: int | None = None) -> tuple[int, int]:
    """``(section_size, n_sections)`` of ``n_local`` posts: by default the fewest sections of at most
    :data:`SECTION_MAX` posts, equally sized; raises on a ``section_size`` outside [1, SECTION_MAX]."""
    n_sections = max(1, -(-n_local // SECTION_MAX))
    if section_size is None:
        section_size = max(1, -(-n_local // n_sections))
    if not 1 <= section_size <= SECTION_MAX:
        raise ValueError(f"section_size must be in [1, {SECTION_MAX}], got {section_size}")
    return section_size, max(1, -(-n_local // section_size))


@dataclass
class RankStart:
    """What both builders (this module's and :mod:`cortex_gpu.backends.cuda_build`) start from: the
    rank's gids and neuron table, its sections and the synapse groups of the network."""

    t0: float                  # perf_counter at the start of the build
    local: np.ndarray
    neurons: NeuronTable
    timings: dict
    section_size: int
    n_sections: int
    groups: dict
    only_static: bool          # no count or plastic group: one layout, its own pre index


def rank_start(net: Network, partition: Partition, rank: int, seed: int, section_size: int | None) -> RankStart:
    t0 = time.perf_counter()
    local = partition.local_gids(rank)
    neurons = _neurons(net, local, seed)
    timings = {"neurons": time.perf_counter() - t0}
    section_size, n_sections = sections(local.size, section_size)
    groups = synapse_groups(net)
    return RankStart(t0, local, neurons, timings, section_size, n_sections, groups,
                     not groups["count"] and not groups["plastic"])


def build_local(net: Network, partition: Partition, rank: int, seed: int, *,
                n_workers: int = 1, weight_dtype=np.float32, section_size: int | None = None) -> LocalGraph:
    """Build ``rank``'s neurons and incoming synapses.

    Parameters
    ----------
    net, partition : the network and its tiles-to-ranks map.
    rank : which rank's sub-graph to build.
    seed : the simulation seed (NEST's ``rng_seed``).
    n_workers : threads for the two passes; the result does not depend on it.
    weight_dtype : float32 (6 bytes per synapse) or float64 (10 bytes) for
        static synapses; plastic synapses always keep float64 weights.
    section_size : local posts per section, at most 65536; default: the
        fewest sections of at most 65536 posts, equally sized.
    """
    r = rank_start(net, partition, rank, seed, section_size)
    t0, timings, local, neurons, groups, only_static = r.t0, r.timings, r.local, r.neurons, r.groups, r.only_static
    section_size, n_sections, n_local = r.section_size, r.n_sections, r.local.size
    layouts: dict[str, DeliveryLayout | None] = {}
    indegree = np.zeros(n_local, np.int64)
    previous_chunksize = numba.get_parallel_chunksize()
    numba.set_parallel_chunksize(1)   # chunks differ in work: hand them out one at a time
    try:
        for name, ids in groups.items():
            if name != "static" and not ids:
                layouts[name] = None
                continue
            dtype = np.float64 if name == "plastic" else weight_dtype
            layouts[name] = _build_group(net, local, seed, None if only_static else ids, n_workers, dtype,
                                         section_size, n_sections, indegree, timings, t0, partition, rank)
    finally:
        numba.set_parallel_chunksize(previous_chunksize)
    if not only_static:
        present = [lay for lay in layouts.values() if lay is not None]
        union = present[0].pre_gids
        for lay in present[1:]:
            union = np.union1d(union, lay.pre_gids)
        union = union.astype(np.int64)
        pre_index = GidIndex.of(union)
        layouts = {k: (lay.with_pre_gids(union, pre_index) if lay is not None else None)
                   for k, lay in layouts.items()}
    return LocalGraph(rank, partition.n_ranks, neurons, layouts["static"], indegree, time.perf_counter() - t0,
                      timings, layouts["count"], layouts["plastic"])


def _build_group(net, local, seed, projections, n_workers, weight_dtype, section_size, n_sections, indegree,
                 timings, t0, partition, rank) -> DeliveryLayout:
    """The layout of one synapse group (``projections``; all if None); adds its counts to ``indegree``."""
    n_local = local.size
    plan = _plan(net, local, seed, projections)
    work = np.bincount(np.repeat(np.arange(n_local), np.diff(plan.entry_ptr)), weights=plan.entry_count,
                       minlength=n_local) + 1.0
    lo, hi, sec = _chunks(work, section_size, n_workers)
    cum = np.concatenate([[0.0], np.cumsum(work - 1.0)])
    return _build_passes(net, local, seed, plan, lo, hi, sec, cum[hi] - cum[lo], n_sections, section_size,
                         weight_dtype, timings, t0, indegree)


#: Pres a pass-1 table is first made for (fewer when a chunk draws fewer synapses or its projections
#: have fewer sources); a chunk that draws more distinct pres is drawn again with a table twice as large.
COUNT_TABLE_START = 1 << 17


def _count_chunks(local, seed, plan, lo, hi, syn_bound, indegree):
    """Pass 1 over every chunk: ``(pre_gids, c)``, the sorted pres of the group's synapses and
    ``c[chunk, pre index]`` (int64), the synapses of each; adds each post's synapses to ``indegree``.

    Each chunk counts in a hash table row of its own (no locks); its size
    follows the pres a chunk draws (at most its synapses), not the network.
    """
    degree = np.zeros(local.size, np.int64)
    todo = np.arange(lo.size, dtype=np.int64)
    # A chunk draws at most its synapses' worth of pres, and at most the union of its projections'
    # sources: a table no larger than that stays in cache (pass 1 is one table update per synapse).
    sources = {}
    bound = 0.0
    for c in range(lo.size):
        projs = tuple(np.unique(plan.entry_proj[plan.entry_ptr[lo[c]]:plan.entry_ptr[hi[c]]]).tolist())
        if projs not in sources:
            parts = [plan.pre_flat[plan.pre_off[p]:plan.pre_off[p + 1]] for p in projs]
            sources[projs] = np.unique(np.concatenate(parts)).size if parts else 0
        bound = max(bound, min(syn_bound[c], sources[projs]))
    n_keys = int(min(max(bound, 1.0), COUNT_TABLE_START))
    # where the sources are dense in their span, a direct table over it is smaller than a hash
    # table and costs one add per synapse
    candidates = plan.pre_flat[:plan.pre_off[-1]]
    base = int(candidates.min()) if candidates.size else 0
    span = int(candidates.max()) - base + 1 if candidates.size else 0
    dense = span <= 3 * table_shift(n_keys)[0]
    found_gids, found_counts, found_chunk = [], [], []
    while todo.size:
        cap, shift = table_shift(n_keys)
        tab_keys = np.full((todo.size, 0 if dense else cap), EMPTY, np.int64)
        tab_count = np.zeros((todo.size, span if dense else cap), np.int32)
        n_distinct = np.zeros(todo.size, np.int64)
        _pass_count(todo, lo, hi, local, plan.entry_ptr, plan.entry_proj, plan.entry_count, plan.entry_aux,
                    plan.rule, plan.pre_off, plan.pre_flat, plan.log1m, plan.autapses, plan.multapses,
                    seed, plan.max_cap, plan.max_npre, tab_keys, tab_count, shift, base, n_distinct, degree)
        for t in np.flatnonzero(n_distinct >= 0):
            held = tab_count[t] != 0
            found_gids.append(base + np.flatnonzero(held) if dense else tab_keys[t][held])
            found_counts.append(tab_count[t][held].astype(np.int64))
            found_chunk.append(np.full(found_gids[-1].size, todo[t], np.int64))
        del tab_keys, tab_count
        todo = todo[n_distinct < 0]
        n_keys *= 2
    indegree += degree
    cat = (lambda parts: np.concatenate(parts) if parts else np.zeros(0, np.int64))  # noqa: E731
    gids, counts, chunk = cat(found_gids), cat(found_counts), cat(found_chunk)
    pre_gids = np.unique(gids)
    c = np.zeros((lo.size, pre_gids.size), np.int64)
    c[chunk, np.searchsorted(pre_gids, gids)] = counts
    return pre_gids, c


def _build_passes(net, local, seed, plan, lo, hi, sec, syn_bound, n_sections, section_size,
                  weight_dtype, timings, t0, indegree) -> DeliveryLayout:
    """Passes 1 and 2 and the bucket sort of :func:`build_local`, for one synapse group.

    ``syn_bound[c]``: at most the synapses chunk ``c`` draws (sizes its pass-1 table).
    """
    pre_gids, c = _count_chunks(local, seed, plan, lo, hi, syn_bound, indegree)
    timings["count"] = time.perf_counter() - t0

    # segment offsets: synapses ordered by (section, pre, chunk)
    n_pre = pre_gids.size
    pre_index = GidIndex.of(pre_gids)
    per_sec = np.zeros((n_sections, n_pre), np.int64)
    np.add.at(per_sec, sec, c)
    seg_start = np.concatenate([[0], np.cumsum(per_sec.ravel())])
    n_syn = int(seg_start[-1])
    # buckets: 2**BUCKET_SHIFT consecutive pre indices of one section, in (section, pre) order
    n_bps = max(1, -(-n_pre // (1 << BUCKET_SHIFT)))
    k_first = np.arange(n_bps) << BUCKET_SHIFT
    first_seg = (np.arange(n_sections)[:, None] * n_pre + k_first[None, :]).ravel()
    last_seg = (np.arange(n_sections)[:, None] * n_pre
                + np.minimum(k_first + (1 << BUCKET_SHIFT), n_pre)[None, :]).ravel()
    per_bucket = np.add.reduceat(c, k_first, axis=1) if n_pre else np.zeros((lo.size, 1), np.int64)
    cursor = np.empty((lo.size, n_bps), np.int64)
    for s in range(n_sections):
        rows = np.flatnonzero(sec == s)
        before = np.cumsum(per_bucket[rows], axis=0) - per_bucket[rows]
        cursor[rows] = seg_start[first_seg[s * n_bps:(s + 1) * n_bps]][None, :] + before
    del c, per_bucket
    syn_post = empty_small_pages(n_syn, np.uint16)
    syn_weight = empty_small_pages(n_syn, weight_dtype)
    syn_port = np.zeros(n_syn if plan.ports else 0, np.uint8)
    # sort key: pre's place in its bucket, then the delay relative to the lowest possible one
    key_shift = max(1, plan.delay_hi - plan.delay_lo).bit_length()
    syn_key = empty_small_pages(n_syn, np.uint16 if BUCKET_SHIFT + key_shift <= 16 else np.uint32)
    delay_seen = np.empty((lo.size, 2), np.int64)
    delay_seen[:, 0], delay_seen[:, 1] = MAX_DELAY_STEPS + 1, 0
    err = np.zeros((lo.size, 3), np.int64)
    _pass_fill(lo, hi, sec, section_size, local, plan.entry_ptr, plan.entry_proj, plan.entry_count,
               plan.entry_aux, plan.rule, plan.pre_off, plan.pre_flat, plan.log1m, plan.autapses,
               plan.multapses, plan.w_row, plan.d_row, plan.values, plan.d_tab_lo, plan.d_tab_g0,
               plan.d_tab_k0, plan.d_tab_steps, plan.d_tab, plan.d_guide, 1.0 / net.resolution_ms, seed, plan.max_cap,
               plan.max_npre, cursor, pre_index.keys, pre_index.vals, pre_index.shift, pre_index.base, plan.delay_lo,
               key_shift,
               syn_post, syn_weight, syn_key, delay_seen, err, plan.r_row, syn_port)
    _raise_build_error(net, err)
    timings["fill"] = time.perf_counter() - t0

    max_delay = int(delay_seen[:, 1].max()) if n_syn else 1
    min_delay = int(delay_seen[:, 0].min()) if n_syn else max_delay
    if n_syn and not plan.delay_lo <= min_delay <= max_delay <= plan.delay_hi:
        raise RuntimeError(f"internal: delays {min_delay}..{max_delay} steps outside the bounds "
                           f"{plan.delay_lo}..{plan.delay_hi} the sort keys were made for")
    longest = int(np.diff(seg_start).max()) if seg_start.size > 1 else 0
    delay_off = np.empty(n_sections * n_pre * (max_delay - min_delay),
                         np.uint16 if longest <= np.iinfo(np.uint16).max else np.uint32)
    _sort_buckets(first_seg, last_seg, seg_start, syn_post, syn_weight, syn_key, key_shift, plan.delay_lo,
                  min_delay, max_delay, delay_off, syn_port)
    del syn_key
    timings["sort"] = time.perf_counter() - t0
    return DeliveryLayout(pre_gids, pre_index, section_size, n_sections, max_delay, min_delay,
                          seg_start, delay_off, syn_post, syn_weight, syn_port=syn_port)


def _raise_build_error(net: Network, err: np.ndarray) -> None:
    bad = np.flatnonzero(err[:, 0])
    if bad.size == 0:
        return
    code, p, value = err[bad[0]]
    proj = net.projections[p]
    if code == _ERR_REDRAW:
        raise ModelError(f"{proj}: weight {proj.weight} or delay {proj.delay} gave no value inside its "
                         "bounds after repeated redraws")
    if code == _ERR_DELAY:
        raise ModelError(f"{proj}: a delay of {proj.delay} rounds to {value} steps, below the resolution "
                         f"{net.resolution_ms} ms")
    raise ModelError(f"{proj}: a delay of {proj.delay} exceeds the largest supported delay of "
                     f"{MAX_DELAY_STEPS} steps")
