"""Local construction: each rank draws its own indegree sub-graph.

A rank draws only the incoming synapses of the neurons it owns (I2), in two
passes over its posts that regenerate the same keyed random numbers:

1. count synapses per (chunk, pre gid), where a chunk is a run of local posts
   inside one section, handled by one thread;
2. draw them again with weights and delays and write each at its place in
   (section, pre, post) order; then sort every (section, pre) segment by delay,
   stably, which leaves each (section, pre, delay) run sorted by post.

The peak memory is the final layout plus a 2-byte delay per synapse: no
global synapse list and no sort buffer exist at any time.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numba
import numpy as np

from . import keys
from .connect import RULE_CODES, draw_pres, split_total, syn_value
from .distributions import Distribution, as_row, draw
from .layout import DeliveryLayout
from .models import N_PROP, NEURON_MODELS, ModelError, col
from .network import Network, delay_to_steps
from .partition import Partition

__all__ = ["LocalGraph", "NeuronTable", "build_local", "MAX_DELAY_STEPS"]

#: Delays are kept as 16-bit step counts during the build.
MAX_DELAY_STEPS = 65535
SECTION_MAX = 65536
_ERR_DELAY, _ERR_REDRAW, _ERR_DELAY_MAX = 1, 2, 3


@dataclass
class NeuronTable:
    """The local neurons: model kind, kernel columns, refractory steps, initial state."""

    gids: np.ndarray
    kind: np.ndarray          # int8 model id per neuron
    prop: np.ndarray          # float64 (n, N_PROP)
    refr_steps: np.ndarray    # int32
    V_m: np.ndarray           # initial membrane potential, mV (absolute)
    I_syn_ex: np.ndarray      # pA
    I_syn_in: np.ndarray      # pA


@dataclass
class LocalGraph:
    """One rank's indegree sub-graph: its neurons and every synapse onto them."""

    rank: int
    n_ranks: int
    neurons: NeuronTable
    layout: DeliveryLayout
    build_s: float
    timings: dict[str, float] = field(default_factory=dict)


# ---------------------------------------------------------------- neurons
def _param_values(net: Network, pop, model, local: np.ndarray, seed: int, pop_index: int) -> dict:
    """Per-neuron float64 values of every parameter and state variable for local gids of ``pop``."""
    names = list(model.params) + list(model.state)
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
    state = {k: np.zeros(n) for k in ("V_m", "I_syn_ex", "I_syn_in")}
    pops = net.population_of(local) if n else np.zeros(0, np.int64)
    h = net.resolution_ms
    for pi in np.unique(pops):
        pop = net.populations[pi]
        model = NEURON_MODELS[pop.model]
        sel = np.flatnonzero(pops == pi)
        values = _param_values(net, pop, model, local[sel], seed, int(pi))
        model.validate(f"population '{pop.name}'", values)
        t, r = model.prepare(values, h)
        kind[sel] = model.kind
        prop[sel] = t
        refr[sel] = r
        for k in state:
            state[k][sel] = values[k]
    return NeuronTable(local, kind, prop, refr, state["V_m"], state["I_syn_ex"], state["I_syn_in"])


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
    values: np.ndarray
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


def _plan(net: Network, local: np.ndarray, seed: int) -> _Plan:
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
    e_local, e_proj, e_count, e_aux = [], [], [], []
    max_cap, max_npre = 1, 1
    for proj in net.projections:
        i = proj.id
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
            pos = np.searchsorted(proj.post, local)
            has = (pos < proj.post.size) & (proj.post[np.minimum(pos, proj.post.size - 1)] == local)
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
        e_proj.append(np.full(e_local[-1].size, i, np.int64))
    cat = (lambda parts, dt: np.concatenate(parts).astype(dt) if parts else np.zeros(0, dt))
    el = cat(e_local, np.int64)
    ep = cat(e_proj, np.int64)
    order = np.lexsort((ep, el))
    ptr = np.zeros(local.size + 1, np.int64)
    np.add.at(ptr, el + 1, 1)
    return _Plan(rule, pre_off, cat(pre_parts, np.int64), log1m, autapses, multapses, w_row, d_row,
                 np.concatenate(values), np.cumsum(ptr), ep[order], cat(e_count, np.int64)[order],
                 cat(e_aux, np.int64)[order], max_cap, max_npre)


@numba.njit(parallel=True, cache=True)
def _pass_count(chunk_lo, chunk_hi, local, entry_ptr, entry_proj, entry_count, entry_aux,
                rule, pre_off, pre_flat, log1m, autapses, multapses, seed, max_cap, max_npre, counts):
    """Pass 1: ``counts[c, g]`` = synapses from gid g onto the posts of chunk c."""
    for c in numba.prange(chunk_lo.size):
        out_pre = np.empty(max_cap, np.int64)
        out_conn = np.empty(max_cap, np.int64)
        marker = np.full(max_npre, -1, np.int64)
        stamp = 0
        for i in range(chunk_lo[c], chunk_hi[c]):
            for e in range(entry_ptr[i], entry_ptr[i + 1]):
                p = entry_proj[e]
                stamp += 1
                n = draw_pres(rule[p], pre_flat[pre_off[p]:pre_off[p + 1]], local[i], entry_count[e],
                              entry_aux[e], log1m[p], autapses[p], multapses[p], seed, p,
                              out_pre, out_conn, marker, stamp)
                for k in range(n):
                    counts[c, out_pre[k]] += 1


@numba.njit(parallel=True, cache=True)
def _pass_fill(chunk_lo, chunk_hi, chunk_section, section_size, local, entry_ptr, entry_proj,
               entry_count, entry_aux, rule, pre_off, pre_flat, log1m, autapses, multapses,
               w_row, d_row, values, steps_per_ms, seed, max_cap, max_npre, cursor, pre_index,
               syn_post, syn_weight, syn_delay, err):
    """Pass 2: regenerate each chunk's synapses and write them at ``cursor[c, pre]``."""
    for c in numba.prange(chunk_lo.size):
        out_pre = np.empty(max_cap, np.int64)
        out_conn = np.empty(max_cap, np.int64)
        marker = np.full(max_npre, -1, np.int64)
        stamp = 0
        base = chunk_section[c] * section_size
        for i in range(chunk_lo[c], chunk_hi[c]):
            g_post = local[i]
            for e in range(entry_ptr[i], entry_ptr[i + 1]):
                p = entry_proj[e]
                stamp += 1
                n = draw_pres(rule[p], pre_flat[pre_off[p]:pre_off[p + 1]], g_post, entry_count[e],
                              entry_aux[e], log1m[p], autapses[p], multapses[p], seed, p,
                              out_pre, out_conn, marker, stamp)
                s_w = (2 << 24) | p
                s_d = (3 << 24) | p
                for j in range(n):
                    w = syn_value(w_row[p], values, out_conn[j], seed, s_w, g_post, j)
                    d_ms = syn_value(d_row[p], values, out_conn[j], seed, s_d, g_post, j)
                    if np.isnan(w) or np.isnan(d_ms):
                        err[c, 0] = _ERR_REDRAW
                        err[c, 1] = p
                        continue
                    d = np.floor(d_ms * steps_per_ms + 0.5)
                    if d < 1.0 or d > 65535.0:
                        err[c, 0] = _ERR_DELAY if d < 1.0 else _ERR_DELAY_MAX
                        err[c, 1] = p
                        err[c, 2] = int(min(max(d, -1.0), 1e9))
                        continue
                    q = pre_index[out_pre[j]]
                    k = cursor[c, q]
                    cursor[c, q] = k + 1
                    syn_post[k] = i - base
                    syn_weight[k] = w
                    syn_delay[k] = int(d)


@numba.njit(parallel=True, cache=True)
def _sort_runs(seg_start, seg_stop, syn_post, syn_weight, syn_delay, min_delay, max_delay, delay_off):
    """Stable counting sort of every (section, pre) segment by delay; fill the relative run table.

    Stability keeps each run sorted by post, as pass 2 wrote the segment.
    """
    w = max_delay - min_delay
    for s in numba.prange(seg_start.size):
        a, b = seg_start[s], seg_stop[s]
        cnt = np.zeros(max_delay + 1, np.int64)
        for k in range(a, b):
            cnt[syn_delay[k]] += 1
        pos = np.empty(max_delay + 1, np.int64)
        acc = 0
        for d in range(min_delay, max_delay + 1):
            if d > min_delay:
                delay_off[s * w + (d - min_delay - 1)] = acc
            pos[d] = acc
            acc += cnt[d]
        tmp_p = syn_post[a:b].copy()
        tmp_w = syn_weight[a:b].copy()
        tmp_d = syn_delay[a:b].copy()
        for k in range(b - a):
            d = tmp_d[k]
            syn_post[a + pos[d]] = tmp_p[k]
            syn_weight[a + pos[d]] = tmp_w[k]
            pos[d] += 1


def _chunks(n_local: int, n_sections: int, section_size: int, n_workers: int):
    """Split local posts at section and worker boundaries: one chunk, one thread, one section."""
    cuts = set(range(0, n_local, section_size)) | {n_local}
    cuts |= {int(round(w * n_local / n_workers)) for w in range(n_workers + 1)}
    cuts = np.array(sorted(cuts), np.int64)
    lo, hi = cuts[:-1], cuts[1:]
    keep = hi > lo
    lo, hi = lo[keep], hi[keep]
    return lo, hi, lo // section_size


def build_local(net: Network, partition: Partition, rank: int, seed: int, *,
                n_workers: int = 1, weight_dtype=np.float32, section_size: int | None = None) -> LocalGraph:
    """Build ``rank``'s neurons and incoming synapses.

    Parameters
    ----------
    net, partition : the network and its tiles-to-ranks map.
    rank : which rank's sub-graph to build.
    seed : the simulation seed (NEST's ``rng_seed``).
    n_workers : threads for the two passes; the result does not depend on it.
    weight_dtype : float32 (6 bytes per synapse) or float64 (10 bytes).
    section_size : local posts per section, at most 65536; default: the
        fewest sections of at most 65536 posts, equally sized.
    """
    t0 = time.perf_counter()
    timings = {}
    local = partition.local_gids(rank)
    neurons = _neurons(net, local, seed)
    timings["neurons"] = time.perf_counter() - t0
    n_local = local.size
    n_sections = max(1, -(-n_local // SECTION_MAX))
    if section_size is None:
        section_size = max(1, -(-n_local // n_sections))
    if not 1 <= section_size <= SECTION_MAX:
        raise ValueError(f"section_size must be in [1, {SECTION_MAX}], got {section_size}")
    n_sections = max(1, -(-n_local // section_size))
    plan = _plan(net, local, seed)
    lo, hi, sec = _chunks(n_local, n_sections, section_size, n_workers)
    n_nodes = net.n_nodes
    counts = np.zeros((lo.size, n_nodes), np.int32)
    _pass_count(lo, hi, local, plan.entry_ptr, plan.entry_proj, plan.entry_count, plan.entry_aux,
                plan.rule, plan.pre_off, plan.pre_flat, plan.log1m, plan.autapses, plan.multapses,
                seed, plan.max_cap, plan.max_npre, counts)
    timings["count"] = time.perf_counter() - t0

    # segment offsets: synapses ordered by (section, pre, chunk)
    has = counts.any(axis=0)
    pre_gids = np.flatnonzero(has).astype(np.int64)
    n_pre = pre_gids.size
    pre_index = np.full(n_nodes, -1, np.int32)
    pre_index[pre_gids] = np.arange(n_pre, dtype=np.int32)
    c = counts[:, pre_gids].astype(np.int64)
    del counts
    per_sec = np.zeros((n_sections, n_pre), np.int64)
    np.add.at(per_sec, sec, c)
    seg_start = np.concatenate([[0], np.cumsum(per_sec.ravel())])
    n_syn = int(seg_start[-1])
    cursor = np.empty_like(c)
    for s in range(n_sections):
        rows = np.flatnonzero(sec == s)
        before = np.cumsum(c[rows], axis=0) - c[rows]
        cursor[rows] = seg_start[s * n_pre:(s + 1) * n_pre][None, :] + before
    syn_post = np.empty(n_syn, np.uint16)
    syn_weight = np.empty(n_syn, weight_dtype)
    syn_delay = np.empty(n_syn, np.uint16)
    err = np.zeros((lo.size, 3), np.int64)
    _pass_fill(lo, hi, sec, section_size, local, plan.entry_ptr, plan.entry_proj, plan.entry_count,
               plan.entry_aux, plan.rule, plan.pre_off, plan.pre_flat, plan.log1m, plan.autapses,
               plan.multapses, plan.w_row, plan.d_row, plan.values, 1.0 / net.resolution_ms, seed,
               plan.max_cap, plan.max_npre, cursor, pre_index, syn_post, syn_weight, syn_delay, err)
    _raise_build_error(net, err)
    timings["fill"] = time.perf_counter() - t0

    max_delay = int(syn_delay.max()) if n_syn else 1
    min_delay = int(syn_delay.min()) if n_syn else max_delay
    longest = int(np.diff(seg_start).max()) if seg_start.size > 1 else 0
    delay_off = np.empty(n_sections * n_pre * (max_delay - min_delay),
                         np.uint16 if longest <= np.iinfo(np.uint16).max else np.uint32)
    _sort_runs(seg_start[:-1], seg_start[1:], syn_post, syn_weight, syn_delay, min_delay, max_delay,
               delay_off)
    del syn_delay
    timings["sort"] = time.perf_counter() - t0
    layout = DeliveryLayout(pre_gids, pre_index, section_size, n_sections, max_delay, min_delay,
                            seg_start, delay_off, syn_post, syn_weight)
    return LocalGraph(rank, partition.n_ranks, neurons, layout, time.perf_counter() - t0, timings)


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
