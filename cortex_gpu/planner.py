"""Memory planner: each rank's peak memory, predicted from the network spec without drawing a synapse.

The prediction follows the allocations of :func:`cortex_gpu.build.build_local`,
:meth:`cortex_gpu.engine.Simulation.build` and :meth:`~cortex_gpu.engine.Simulation.run`
array by array. Sizes that depend on random draws are replaced by their
expectations, computed from the connection rules:

- synapses per rank: :func:`cortex_gpu.partition.expected_tile_synapses`;
- distinct pre-synaptic neurons of a rank (``n_pre``): a gid has no synapse
  on the rank with probability ``(1 - f/n_src)^N`` (fixed_total_number, a
  share ``f`` of the posts on the rank), ``(1 - 1/n_src)^(K n_in)``
  (fixed_indegree with multapses; ``(1 - K/n_src)^n_in`` without),
  ``(1 - p)^n_in`` (pairwise_bernoulli); a gid in several projections'
  sources multiplies them; one_to_one pairs are counted exactly;
- delays: the largest (D) and smallest (m) delay in steps on the rank, as
  expectations of the extremes of the rank's synapse count drawn from each
  projection's delay table (:func:`cortex_gpu.distributions.grid_cdf`).

A run passes through phases whose live arrays differ; the peak is the
largest phase: ``neurons`` (neuron table), ``plan`` (the build's per
(post, projection) entries, with their temporaries), ``count`` (pass 1's
per-chunk hash tables of the pres each chunk draws), ``sort`` (synapse arrays with their sort
keys, the usual peak), ``run`` (layout, neuron state, ring, buffers).
Each phase is split into the components of :data:`COMPONENTS`.

The process baseline (Python, NumPy, Numba and the loaded kernels) is the
measured peak of a process that builds and runs a network of 24 neurons
(:func:`measure_baseline`); :data:`BASELINE_BYTES` is that measurement on the
project machine, and ``plan_memory(..., baseline_bytes=measure_baseline())``
measures it on this one. The baseline assumes Numba's cache holds the kernels:
a process that compiles them (the first run after installing, or the first
with float64 weights) peaks ~170 MB higher (measured: 343 MB instead of 170 MB
for a tiny network). Sizes are in bytes; MB and GB are 10**6 and 10**9.
"""
from __future__ import annotations

import json
import math
import re
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from .build import BUCKET_SHIFT, CHUNKS_PER_WORKER, COUNT_TABLE_START, SECTION_MAX, _delay_bounds, synapse_groups
from .gidmap import table_shift
from .distributions import as_row, grid_cdf
from .models import N_PROP
from .engine import POST_HISTORY
from .network import Network, delay_to_steps
from .partition import DEFAULT_TILE_SIZE, expected_tile_synapses, make_partition

__all__ = ["MemoryPlan", "RankMemory", "plan_memory", "cortex_scale_projection", "measure_baseline",
           "measure_peak_rss", "format_cortex_scale", "baseline_network", "COMPONENTS", "BASELINE_BYTES",
           "MEASURED_BYTES_PER_SYNAPSE"]

#: Components of a rank's memory, in the order of the table.
COMPONENTS = ("neurons", "synapses", "gid_tables", "ring_buffers", "spike_buffers", "comm_buffers",
              "build_transients", "baseline")

#: Peak RSS of :func:`measure_baseline` (import, build and 10 ms of a 24-neuron network that
#: calls every build and run kernel, loaded from Numba's cache), 2 threads, on the project
#: machine (x86-64, Python 3.12, NumPy 2, Numba 0.61; median of 3 runs, spread < 0.3 MB).
BASELINE_BYTES = 170_000_000

#: Bytes per synapse of the delivery layout at full-scale PD14 with float32 weights, one rank
#: (bench/results/pd14_full_poisson_vs_nest_10s_cpu2.json: 1,813,658,432 bytes / 298,880,968).
MEASURED_BYTES_PER_SYNAPSE = 6.07

#: MPI's own resident memory per process (shared-memory segments grow with the rank count):
#: mpiexec -n 2 / -n 4 with the mpich wheel, a process importing numpy and numba with and
#: without MPI initialised: +9.5 MB and +16.6 MB.
_MPI_FIXED = 2_400_000
_MPI_PER_RANK = 3_550_000

#: Per local neuron, from the code: NeuronTable (gids 8, kind 1, prop 8 N_PROP, refr 4,
#: V_m/I_syn_ex/I_syn_in/dI_ex/dI_in/w 48) and LocalGraph.indegree (8).
_NEURON_TABLE = 8 + 1 + 8 * N_PROP + 4 + 48 + 8
#: cpu.Neurons' own arrays (pset 4, V/I_ex/I_in 24, dI_ex/dI_in/i_0/i0_next 32, refr 4,
#: acc_ex/acc_in/n_spikes 24, h_ode/w_ad 16) and Simulation._pre_of_local (8).
_NEURON_RUN = 4 + 24 + 32 + 4 + 24 + 16 + 8
#: Simulation.build's parameter-set search: column_stack, the void view's sort and index arrays.
_NEURON_SETUP = 2 * 8 * (N_PROP + 2) + 32
#: _neurons: per-population parameter and state values while they are drawn (~12 float64).
_NEURON_DRAW = 12 * 8
#: _plan per (local post, projection) entry: 24 bytes kept (projection, count, aux), 64 more at
#: its peak (four part lists, the concatenations, the lexsort order and the reordered copies).
_ENTRY_LIVE, _ENTRY_PEAK = 24, 88
#: Bytes per slot of a gid hash table (cortex_gpu.gidmap): an int64 key and an int32 value or count.
_GID_SLOT = 12
#: cpu.Drives per (drive connection, local target): local index, gid, weight, fixed-point weight.
_DRIVE_ENTRY = 32
_SPIKE_BUFFER_START = 1 << 16


@dataclass
class RankMemory:
    """Predicted memory of one rank: the components at its peak phase, and every phase's total."""

    rank: int
    n_neurons: int
    n_synapses: float
    n_pre: float
    n_sections: int
    min_delay: int
    max_delay: int
    components: dict[str, int]
    phases: dict[str, int]
    peak_phase: str
    gid_tables: dict[str, int]
    fits: bool | None = None

    @property
    def total(self) -> int:
        return int(sum(self.components.values()))


@dataclass
class MemoryPlan:
    """Per-rank predictions of :func:`plan_memory`, and whether each fits ``memory_per_rank``."""

    n_ranks: int
    strategy: str
    threads: int
    weight_dtype: str
    baseline: str
    ranks: list[RankMemory]
    memory_per_rank: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def max_total(self) -> int:
        return max(r.total for r in self.ranks)

    @property
    def fits(self) -> bool | None:
        return None if self.memory_per_rank is None else all(r.fits for r in self.ranks)

    def to_dict(self) -> dict:
        return {"n_ranks": self.n_ranks, "strategy": self.strategy, "threads": self.threads,
                "weight_dtype": self.weight_dtype, "baseline": self.baseline,
                "memory_per_rank_bytes": self.memory_per_rank, "fits": self.fits,
                "max_total_bytes": self.max_total, "notes": self.notes,
                "ranks": [{"rank": r.rank, "n_neurons": r.n_neurons, "n_synapses": r.n_synapses,
                           "n_pre": r.n_pre, "n_sections": r.n_sections, "min_delay_steps": r.min_delay,
                           "max_delay_steps": r.max_delay, "total_bytes": r.total, "fits": r.fits,
                           "peak_phase": r.peak_phase, "components_bytes": r.components,
                           "phases_bytes": r.phases, "gid_tables_bytes": r.gid_tables} for r in self.ranks]}

    def table(self, max_rows: int = 16) -> str:
        """A readable table: one row per rank, each component in MB, the total and whether it fits."""
        heads = ["rank", *COMPONENTS, "total", "fits"]
        short = {"gid_tables": "gid tables", "ring_buffers": "ring", "spike_buffers": "spike bufs",
                 "comm_buffers": "comm bufs", "build_transients": "transients"}
        heads = [short.get(h, h) for h in heads]
        ranks = self.ranks
        if len(ranks) > max_rows:   # the largest and the smallest ranks
            order = sorted(ranks, key=lambda r: r.total)
            ranks = sorted(order[-(max_rows // 2):] + order[:max_rows // 2], key=lambda r: r.rank)
        rows = []
        for r in ranks:
            fits = "-" if r.fits is None else ("yes" if r.fits else "NO")
            rows.append([str(r.rank), *(f"{r.components[c] / 1e6:.1f}" for c in COMPONENTS),
                         f"{r.total / 1e6:.1f}", fits])
        widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(heads)]
        line = lambda cells: "  ".join(c.rjust(w) for c, w in zip(cells, widths))  # noqa: E731
        out = [f"predicted peak memory per rank, MB (10**6 bytes), components alive at each rank's peak; "
               f"{self.n_ranks} rank(s), {self.strategy}, {self.threads} thread(s), {self.weight_dtype} weights",
               line(heads), *(line(row) for row in rows)]
        if len(self.ranks) > len(ranks):
            out.append(f"({len(self.ranks) - len(ranks)} ranks between these left out)")
        r0 = max(self.ranks, key=lambda r: r.total)
        out.append(f"largest rank {r0.rank}: {r0.n_neurons} neurons, {r0.n_synapses:.4g} synapses, "
                   f"{r0.n_pre:.4g} pre-synaptic neurons, delays {r0.min_delay}..{r0.max_delay} steps, "
                   f"peak while: {r0.peak_phase}")
        if self.memory_per_rank is not None:
            out.append(f"memory per rank {self.memory_per_rank / 1e9:g} GB: "
                       + ("fits" if self.fits else "does NOT fit"))
        out.append(f"baseline: {self.baseline}")
        out.extend(f"note: {n}" for n in self.notes)
        return "\n".join(out)


# ------------------------------------------------------------------ rules
def _intervals(gids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``[start, stop)`` runs of consecutive gids in the sorted array ``gids``."""
    if gids.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    brk = np.flatnonzero(np.diff(gids) != 1) + 1
    return gids[np.r_[0, brk]], gids[np.r_[brk - 1, gids.size - 1]] + 1


def _posts_in(proj, start: np.ndarray, stop: np.ndarray) -> int:
    post = np.sort(proj.post) if proj.rule == "one_to_one" else proj.post
    return int((np.searchsorted(post, stop) - np.searchsorted(post, start)).sum())


def _log_none(proj, n_in: int, n_syn: float) -> float:
    """log P(a given source gid has no synapse of ``proj`` onto ``n_in`` posts) (not one_to_one)."""
    n_src = proj.pre.size
    if n_in == 0 or n_src == 0:
        return 0.0
    if proj.rule == "fixed_total_number":
        return proj.total * math.log1p(-(n_in / proj.post.size) / n_src)
    if proj.rule == "fixed_indegree":
        if proj.allow_multapses:
            return proj.indegree * n_in * math.log1p(-1.0 / n_src)
        return -math.inf if proj.indegree >= n_src else n_in * math.log1p(-proj.indegree / n_src)
    if proj.rule == "pairwise_bernoulli":
        return -math.inf if proj.p >= 1.0 else n_in * math.log1p(-proj.p)
    return -math.inf   # all_to_all


def _add_to_sources(acc: np.ndarray, pre: np.ndarray, value: float) -> None:
    """``acc[pre] += value``, with ``acc`` a difference array when ``pre`` is one run of gids."""
    if pre.size == 0 or value == 0.0:
        return
    if pre[-1] - pre[0] + 1 == pre.size:
        acc[pre[0]] += value
        acc[pre[-1] + 1] -= value
    else:
        np.add.at(acc, pre, value)
        np.add.at(acc, pre + 1, -value)


def _delay_pmf(proj, resolution_ms: float):
    """``(k_first, pmf over steps)`` of a projection's delays, or None where only bounds are known."""
    if isinstance(proj.delay, np.ndarray):
        steps = delay_to_steps(proj.delay, resolution_ms).ravel()
        if steps.size == 0:
            return None
        k0 = int(steps.min())
        return k0, np.bincount(steps - k0) / steps.size
    row = as_row(proj.delay)
    tab = grid_cdf(row, resolution_ms)
    if tab is not None:
        return int(tab[0]), np.diff(np.r_[0.0, tab[1]])
    lo, hi = _delay_bounds(row, None, proj.delay, resolution_ms)
    return (lo, np.ones(1)) if lo == hi else None


def _delay_extremes(net: Network, n_syn: list[float]) -> tuple[int, int]:
    """Expected (m, D): smallest and largest delay in steps among the rank's synapses."""
    pmfs = []
    lo_b, hi_b = [], []
    for proj, n in zip(net.projections, n_syn):
        if n <= 0:
            continue
        pmf = _delay_pmf(proj, net.resolution_ms)
        if pmf is None:   # no table: the bounds, the worst case
            lo, hi = _delay_bounds(_row(proj.delay), None, proj.delay, net.resolution_ms)
            lo_b.append(lo)
            hi_b.append(hi)
        else:
            pmfs.append((pmf, n))
    if not pmfs and not lo_b:
        return 1, 1
    k_hi = max([k0 + p.size - 1 for (k0, p), _ in pmfs] + hi_b)
    ks = np.arange(1, k_hi + 1)
    log_all_below = np.zeros(ks.size)    # log P(every synapse has d < k)
    log_all_above = np.zeros(ks.size)    # log P(every synapse has d >= k)
    for (k0, p), n in pmfs:
        cdf = np.clip(np.cumsum(p), 0.0, 1.0)
        below = np.where(ks - 1 < k0, 0.0, cdf[np.clip(ks - 1 - k0, 0, p.size - 1)])  # P(d <= k-1)
        with np.errstate(divide="ignore"):
            log_all_below += n * np.log(below)
            log_all_above += n * np.log1p(-below)
    big_d = float((1.0 - np.exp(log_all_below)).sum())
    small_m = float(np.exp(log_all_above).sum())
    D, m = int(round(big_d)), int(round(small_m))
    if hi_b:
        D, m = max(D, max(hi_b)), min(m, min(lo_b)) if pmfs else min(lo_b)
    return max(1, min(m, D)), max(1, D)


# ----------------------------------------------------------------- per rank
def _spec_bytes(net: Network) -> int:
    """Bytes of the arrays the network description holds (gid lists and per-connection values)."""
    seen, total = set(), 0

    def add(a) -> None:
        nonlocal total
        if isinstance(a, np.ndarray):
            base = a if a.base is None else a.base
            if id(base) not in seen and isinstance(base, np.ndarray):
                seen.add(id(base))
                total += base.nbytes
    for proj in net.projections:
        for a in (proj.pre, proj.post, proj.weight, proj.delay):
            add(a)
    for d in net.drives:
        add(d.targets)
        add(d.weight)
    for r in list(net.spike_recorders) + list(net.multimeters):
        add(r.gids)
    for pop in net.populations:
        for v in pop.params.values():
            add(v)
        add(getattr(pop, "positions", None))
        for t in getattr(pop, "spike_times_ms", None) or ():
            add(t)
    return total


def _rank_memory(net: Network, local: np.ndarray, rank: int, threads: int, weight_bytes: int,
                 spec: int, baseline: int, partition=None, exchange: str = "neighbour",
                 add_mpi: bool = True) -> RankMemory:
    n_local, n_nodes = int(local.size), int(net.n_nodes)
    n_sec = max(1, -(-n_local // SECTION_MAX))
    section = max(1, -(-n_local // n_sec))
    n_sec = max(1, -(-n_local // section))
    start, stop = _intervals(local)
    one = SimpleNamespace(projections=None)

    # synapses, entries and the chance that a gid is a pre of this rank, per projection
    log_none = np.zeros(n_nodes + 1)
    exact_pre = np.zeros(n_nodes, bool)
    n_syn_p, entries, sum_pre, cand_pre = [], 0, 0, 0
    cand_lo, cand_hi = n_nodes, 0   # span of the sources of projections onto this rank
    group_syn: dict[str, float] = {}   # expected synapses of each synapse group with synapses here
    group_of = {p: name for name, ids in synapse_groups(net).items() for p in ids}
    sec_lam = np.zeros((n_sec, n_nodes + 1))   # expected synapses of each source gid per section
    sec_bounds = [(local[s * section], local[min((s + 1) * section, n_local) - 1] + 1) for s in range(n_sec)] \
        if n_local else []
    sec_runs = [_intervals(local[s * section:(s + 1) * section]) for s in range(n_sec)]
    for proj in net.projections:
        one.projections = [proj]
        n_syn = float(expected_tile_synapses(one, start, stop).sum())
        n_in = _posts_in(proj, start, stop)
        n_syn_p.append(n_syn)
        if n_in:
            group = group_of[proj.id]
            group_syn[group] = group_syn.get(group, 0.0) + n_syn
        entries += n_in
        sum_pre += proj.pre.size
        cand_pre += proj.pre.size if n_in else 0
        if n_in and proj.pre.size:
            cand_lo, cand_hi = min(cand_lo, int(proj.pre.min())), max(cand_hi, int(proj.pre.max()) + 1)
        if proj.rule == "one_to_one":
            mine = np.isin(proj.post, local)
            exact_pre[proj.pre[mine]] = True
            for s, (a, b) in enumerate(sec_bounds):
                sel = mine & (proj.post >= a) & (proj.post < b)
                np.add.at(sec_lam[s], proj.pre[sel], 1.0)
            continue
        _add_to_sources(log_none, proj.pre, _log_none(proj, n_in, n_syn))
        for s, (s_start, s_stop) in enumerate(sec_runs):
            n_s = float(expected_tile_synapses(one, s_start, s_stop).sum())
            _add_to_sources(sec_lam[s], proj.pre, n_s / max(proj.pre.size, 1))
    with np.errstate(invalid="ignore"):
        log_none = np.cumsum(log_none)[:n_nodes]   # -inf - -inf = nan where a gid is certain
    p_pre = np.where(np.isnan(log_none), 1.0, -np.expm1(np.nan_to_num(log_none, nan=0.0, neginf=-np.inf)))
    p_pre[exact_pre] = 1.0
    n_pre = float(p_pre.sum())
    cand_span = max(cand_hi - cand_lo, 0)
    n_syn = float(sum(n_syn_p))
    lam = np.cumsum(sec_lam, axis=1)[:, :n_nodes].max() if n_local and n_nodes else 0.0
    longest = lam + 6.0 * math.sqrt(lam) + 1.0
    m, D = _delay_extremes(net, n_syn_p) if n_syn > 0 else (1, 1)

    # sizes from build.py / layout.py / engine.py / record.py, in bytes
    n_seg = n_sec * n_pre
    delay_off = (2 if longest <= 65535 else 4) * n_seg * (D - m)
    lo_b = [_delay_bounds(_row(p.delay), _table(p, net), p.delay, net.resolution_ms)
            for p in net.projections if not isinstance(p.delay, np.ndarray) or p.delay.size]
    key_shift = max(1, (max((b[1] for b in lo_b), default=1) - min((b[0] for b in lo_b), default=1))).bit_length()
    key_bytes = 2 if BUCKET_SHIFT + key_shift <= 16 else 4
    n_parts = threads * CHUNKS_PER_WORKER if threads > 1 else 1
    n_chunks = min(max(n_local, 1), n_sec + n_parts - 1)
    n_bps = max(1, math.ceil(n_pre / (1 << BUCKET_SHIFT)))
    n_plastic = group_syn.get("plastic", 0.0)   # float64 weights whatever weight_dtype says

    def group_weight_bytes(group: str) -> int:
        return 8 if group == "plastic" else weight_bytes

    def sort_tmp(group: str) -> float:
        """The bucket sort's scratch of ``group``: one bucket's synapses and run table per thread."""
        g_syn = group_syn[group]
        bucket_syn = min(g_syn, g_syn / max(n_seg, 1) * (1 << BUCKET_SHIFT))
        return min(threads, n_sec * n_bps) * (bucket_syn * (2 + group_weight_bytes(group))
                                              + 8 * ((1 << BUCKET_SHIFT) * (D - m + 1) + 1))
    drive_entries = sum(int(np.isin(d.targets, local).sum()) for d in net.drives)
    srcs = sum(pop.n for pop in net.populations if pop.is_source)

    neurons_build = _NEURON_TABLE * n_local
    plan_live = _ENTRY_LIVE * entries + 8 * (n_local + 1) + 8 * sum_pre
    plan_peak = plan_live + (_ENTRY_PEAK - _ENTRY_LIVE) * entries + 5 * 8 * n_local
    # every group has its own segment and run tables over the shared pre index; build.build_local
    # builds the groups one after another (static, count, plastic), each with its own sort keys
    group_order = [g for g in ("static", "count", "plastic") if g in group_syn] or ["static"]
    group_layout = {g: (2 + group_weight_bytes(g)) * group_syn.get(g, 0.0) + 8 * (n_seg + 1) + delay_off
                    for g in group_order}
    layout = sum(group_layout.values()) + 8 * n_pre
    # plastic synapses: per local post its spike history (stamp, Kminus), count and 1/tau_minus;
    # per pre Kplus and its last stamp; per ring entry the pre's trace and last stamp
    stdp_neurons = (12 * POST_HISTORY + 16) * n_local if n_plastic else 0
    stdp_ring = (16 * n_pre + 16 * (D + 1) * max(n_pre + srcs, 1)) if n_plastic else 0
    # rank-local gid tables: the pre index is a hash table over the rank's pres; pass 1 counts
    # each chunk's pres in a table of its own, then keeps (gid, count, chunk) per pre it found
    hash_slots = table_shift(math.ceil(n_pre))[0]
    pre_span = float(np.ptp(np.flatnonzero(p_pre > 0.0)) + 1) if np.any(p_pre > 0.0) else 0.0
    # gidmap.GidIndex: a direct int32 table over the pres' span where that is no larger than the hash
    pre_index = 4 * pre_span if 4 * pre_span <= _GID_SLOT * hash_slots else _GID_SLOT * hash_slots
    chunk_syn = n_syn / max(n_chunks, 1)
    distinct = n_pre * -math.expm1(-chunk_syn / n_pre) if n_pre > 0 else 0.0
    slots = _count_table_slots(min(chunk_syn, cand_pre), distinct)
    first_slots = table_shift(int(min(max(min(chunk_syn, cand_pre), 1.0), COUNT_TABLE_START)))[0]
    # a direct int32 table over the sources' span where that is no larger (build._count_chunks)
    table = 4 * cand_span if cand_span <= 3 * first_slots else _GID_SLOT * slots
    counts = n_chunks * (table + 24 * distinct)
    rec_sources = len({int(g) for r in net.spike_recorders for g in r.gids[net.is_source_gid(r.gids)]})
    mask = n_local + 8 * rec_sources   # SpikeBuffer.rec_local, allocated whether or not anything is recorded
    min_delay = m if n_syn > 0 else 10
    need = 2 * min_delay * (n_local + srcs + 1)
    spk_size = _SPIKE_BUFFER_START if need <= _SPIKE_BUFFER_START else max(need, 2 * _SPIKE_BUFFER_START)
    spike_buffers = 16 * spk_size + 4 * threads * min_delay * max(-(-n_local // threads), 1)
    n_mm = sum(mm.gids.size * len(mm.record_from) for mm in net.multimeters)
    spike_buffers += 8 * 1000 * n_mm    # multimeter rows of one chunk of steps (CHUNK_STEPS)
    ring = 4 * (D + 1) * max(n_pre + srcs, 1) + 8 * (D + 1) + stdp_ring

    # with other ranks: one accumulator row per step of a window, the send buffer, one receive
    # buffer per rank this rank listens to (all ranks for the all-gather), MPI's own memory
    comm, acc_rows, mpi = 0, 0, 0
    n_ranks = partition.n_ranks if partition is not None else 1
    if n_ranks > 1:
        acc_rows = 16 * (min_delay - 1) * n_local
        sizes = np.bincount(partition.tile_rank, weights=partition.tile_stop - partition.tile_start,
                            minlength=n_ranks)
        owners = partition.owner(np.flatnonzero(p_pre > 0.0))
        sources = np.unique(owners[(owners >= 0) & (owners != rank)])
        heard = sizes.sum() - sizes[rank] if exchange == "allgather" else sizes[sources].sum()
        comm = 8 * min_delay * (n_local + heard) + 8 * (len(sources) + 2)
        mpi = (_MPI_FIXED + _MPI_PER_RANK * n_ranks) if add_mpi else 0

    # the groups in build order, each with the layouts of the groups built before it (alive meanwhile)
    group_steps = [(g, sum(group_layout[h] for h in group_order[:i])) for i, g in enumerate(group_order)]

    def phase(neurons=0, synapses=0, gid=0, ring_=0, spikes=0, transients=0, comm_=0):
        return {"neurons": int(neurons), "synapses": int(synapses), "gid_tables": int(spec + gid),
                "ring_buffers": int(ring_), "spike_buffers": int(spikes), "comm_buffers": int(comm_),
                "build_transients": int(transients), "baseline": int(baseline + mpi)}

    phases = {
        "neurons": phase(neurons_build + _NEURON_DRAW * n_local),
        "plan": phase(neurons_build, transients=plan_peak),
        "count": max((phase(neurons_build, synapses=built + 8 * n_pre, gid=counts,
                            transients=plan_live + 12 * n_chunks * n_pre) for _, built in group_steps),
                     key=lambda ph: sum(ph.values())),
        "sort": max((phase(neurons_build, synapses=built + group_layout[g] + 8 * n_pre, gid=pre_index,
                           transients=plan_live + key_bytes * group_syn.get(g, 0.0) + 16 * n_seg
                           + 8 * n_chunks * n_bps + (sort_tmp(g) if g in group_syn else 0.0))
                     for g, built in group_steps), key=lambda ph: sum(ph.values())),
        "run": phase(neurons_build + (_NEURON_RUN * n_local + _DRIVE_ENTRY * drive_entries) + acc_rows
                     + stdp_neurons, comm_=comm,
                     synapses=layout,
                     gid=pre_index + mask, ring_=ring, spikes=spike_buffers,
                     transients=_NEURON_SETUP * n_local),
    }
    totals = {k: sum(v.values()) for k, v in phases.items()}
    peak = max(totals, key=totals.get)
    gid_tables = {"network_spec": int(spec), "pre_index": int(pre_index), "build_counts": int(counts),
                  "spike_record_flags": int(mask)}
    return RankMemory(rank, n_local, n_syn, n_pre, n_sec, m, D, phases[peak], totals, peak, gid_tables)


def _count_table_slots(bound: float, distinct: float) -> int:
    """Slots of each chunk's pass-1 table (build._count_chunks): first sized for ``bound`` pres (the
    chunk's synapses or its projections' sources, the fewer) up to COUNT_TABLE_START, doubled until
    the chunk's ``distinct`` pres fill at most half of it."""
    n_keys = int(min(max(bound, 1.0), COUNT_TABLE_START))
    while table_shift(n_keys)[0] // 2 < distinct:
        n_keys *= 2
    return table_shift(n_keys)[0]


def _row(delay):
    return None if isinstance(delay, np.ndarray) else as_row(delay)


def _table(proj, net: Network):
    """The projection's grid-delay table, as build._plan makes it (None for arrays and constants)."""
    row = _row(proj.delay)
    return None if row is None else grid_cdf(row, net.resolution_ms)


def plan_memory(net: Network, n_ranks: int = 1, *, strategy: str = "round_robin", threads: int = 1,
                weight_dtype: str = "float32", memory_per_rank_gb: float | None = None,
                baseline_bytes: int | None = None, tile_size: int = DEFAULT_TILE_SIZE,
                exchange: str = "neighbour") -> MemoryPlan:
    """Predict each rank's peak memory for building ``net`` on ``n_ranks`` ranks and running it.

    Parameters
    ----------
    net : the network description; nothing is drawn or built.
    n_ranks, strategy, tile_size : the decomposition, as :class:`cortex_gpu.engine.Simulation` makes it.
    threads : CPU workers of the build and the run (chunks, sort buffers and spike lists grow with it).
    weight_dtype : 'float32' or 'float64'.
    exchange : the spike exchange between ranks, 'neighbour' or 'allgather' (its receive buffers).
    memory_per_rank_gb : memory of each rank in GB (10**9 bytes); sets each rank's ``fits``.
    baseline_bytes : the process baseline, measured with :func:`measure_baseline` for this rank count
        (MPI's memory included); default :data:`BASELINE_BYTES` (a measured constant) plus MPI's
        memory as measured with the mpich wheel.
    """
    if int(n_ranks) != n_ranks or n_ranks < 1:
        raise ValueError(f"n_ranks must be an integer >= 1, got {n_ranks}")
    if int(threads) != threads or threads < 1:
        raise ValueError(f"threads must be an integer >= 1, got {threads}")
    if weight_dtype not in ("float32", "float64"):
        raise ValueError(f"weight_dtype must be 'float32' or 'float64', got {weight_dtype!r}")
    if memory_per_rank_gb is not None and not (math.isfinite(memory_per_rank_gb) and memory_per_rank_gb > 0):
        raise ValueError(f"memory per rank must be a positive number of GB, got {memory_per_rank_gb}")
    partition = make_partition(net, int(n_ranks), strategy, tile_size)
    if baseline_bytes is None:
        baseline, how = BASELINE_BYTES, f"{BASELINE_BYTES / 1e6:.0f} MB, measured constant (planner.BASELINE_BYTES)"
    else:
        baseline, how = int(baseline_bytes), f"{baseline_bytes / 1e6:.0f} MB, measured now (measure_baseline)"
    spec = _spec_bytes(net)
    wb = 4 if weight_dtype == "float32" else 8
    ranks = [_rank_memory(net, partition.local_gids(r), r, int(threads), wb, spec, baseline, partition, exchange,
                          add_mpi=baseline_bytes is None)
             for r in range(int(n_ranks))]
    limit = None if memory_per_rank_gb is None else int(memory_per_rank_gb * 1e9)
    for r in ranks:
        r.fits = None if limit is None else r.total <= limit
    notes = ["RSS counts touched pages: the ring and recording buffers are counted as allocated (a burst "
             "touches them all), so the run phase is an upper bound"]
    if n_ranks > 1:
        notes.append(f"MPI ranks: the baseline includes MPI's own memory ({(_MPI_FIXED + _MPI_PER_RANK * n_ranks) / 1e6:.0f} "
                     f"MB at {n_ranks} ranks, measured with the mpich wheel)")
    return MemoryPlan(int(n_ranks), strategy, int(threads), weight_dtype, how, ranks, limit, notes)


# ------------------------------------------------------------- measurement
_MEASURE = """
import json, sys
a = json.loads(sys.argv[1])
from cortex_gpu.engine import Simulation
if a["model"] is None:
    from cortex_gpu.planner import baseline_network
    net = baseline_network()
else:
    from cortex_gpu.models.registry import make_network
    net = make_network(a["model"], a["scale"], **a["kwargs"])
from cortex_gpu.comm import world
comm = world()
sim = Simulation(net, partition=a["strategy"], threads=a["threads"], weight_dtype=a["weight_dtype"], comm=comm)
rep = sim.build()
sim.run(a["t_ms"])
from cortex_gpu.engine import peak_rss_mb
print(json.dumps({"rank": comm.rank, "peak_rss_bytes": int(peak_rss_mb() * 1024) * 1024,
                  "n_synapses": rep.n_synapses, "n_neurons": rep.n_neurons, "n_pre": sim.graph.layout.n_pre,
                  "min_delay": rep.min_delay_steps, "max_delay": rep.max_delay_steps}))
"""


def baseline_network() -> Network:
    """24 neurons that call every build and run kernel: the process baseline's workload."""
    from .distributions import Normal, Redraw
    net = Network(0.1)
    a = net.add_population("iaf_psc_exp", 16, {"V_m": Normal(-65.0, 5.0)})
    b = net.add_population("iaf_psc_exp", 8)
    w = Redraw(Normal(80.0, 8.0), low=0.0)
    d = Redraw(Normal(1.5, 0.75), low=0.05)
    net.connect(a, b, "fixed_total_number", N=40, weight=w, delay=d)
    net.connect(b, a, "fixed_indegree", indegree=4, weight=-300.0, delay=0.8)
    net.connect(a, a, "pairwise_bernoulli", p=0.2, weight=w, delay=d)
    g = net.add_generator("poisson_generator", {"rate": 20000.0})
    net.drive(g, a.gids, 90.0, 1.5)
    net.record_spikes(np.arange(net.n_nodes))
    return net


def measure_peak_rss(model: str | None, scale: float = 1.0, *, n_ranks: int = 1, rank: int = 0,
                     strategy: str = "round_robin", threads: int = 1, weight_dtype: str = "float32",
                     t_ms: float = 10.0, timeout: float = 600, **model_kwargs) -> dict:
    """Build ``rank`` of ``n_ranks`` in a fresh process, run ``t_ms``; its peak RSS and sizes.

    With several ranks, every rank runs (under ``mpiexec -n n_ranks``, each
    in its own process, exchanging spikes) and ``rank``'s figures are returned.

    ``model`` is a name of :data:`cortex_gpu.models.registry.NETWORKS` (None: the
    baseline network). Returns ``peak_rss_bytes``, ``n_synapses``, ``n_neurons``,
    ``n_pre``, ``min_delay`` and ``max_delay`` of the built rank.
    """
    args = {"model": model, "scale": scale, "kwargs": model_kwargs, "n_ranks": n_ranks, "rank": rank,
            "strategy": strategy, "threads": threads, "weight_dtype": weight_dtype, "t_ms": t_ms}
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([root, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["NUMBA_NUM_THREADS"] = str(max(int(threads), int(env.get("NUMBA_NUM_THREADS", "0") or 0), 1))
    cmd = [sys.executable, "-c", _MEASURE, json.dumps(args)]
    if n_ranks > 1:
        mpiexec = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which("mpiexec")
        if mpiexec is None:
            raise RuntimeError("measuring several ranks needs mpiexec (pip install mpich mpi4py)")
        cmd = [mpiexec, "-n", str(n_ranks), *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise RuntimeError(f"measurement process failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    # ranks' lines may interleave on the launcher's stdout: take every flat JSON object
    rows = [json.loads(obj) for obj in re.findall(r"\{[^{}]*\}", proc.stdout)]
    return next(r for r in rows if r["rank"] == rank)


def measure_baseline(threads: int = 1, n_ranks: int = 1) -> int:
    """Peak RSS in bytes of a fresh process that builds and runs :func:`baseline_network` for 10 ms.

    With ``n_ranks > 1`` it runs under ``mpiexec`` and the figure includes
    MPI's own memory; pass it to :func:`plan_memory` for that many ranks.
    The baseline depends on the machine's state as well as on the code: the
    kernel maps shared-library pages already in the page cache around each
    one touched, so the same install measured 170 MB in one venv and 222 MB
    in a freshly installed one.
    """
    return int(measure_peak_rss(None, threads=threads, n_ranks=n_ranks)["peak_rss_bytes"])


# ------------------------------------------------------------- cortex scale
#: Per neuron on a rank at run time: neuron table, engine state, pre index of local neurons.
_BYTES_PER_NEURON = _NEURON_TABLE + _NEURON_RUN


def cortex_scale_projection(memory_per_rank_gb: float = 96.0, bytes_per_synapse: float = MEASURED_BYTES_PER_SYNAPSE,
                            n_neurons: float = 2e10, n_synapses: float = 1e14, *,
                            nest_gpu_bytes_per_synapse: float = 12.4, jupiter_gpus: int = 23752,
                            delay_values: int = 55, build_chunks: int = 16, synapses_per_pre: float = 3900.0,
                            tile_size: int = DEFAULT_TILE_SIZE) -> dict:
    """GPUs needed to hold a cortex-scale network (default: human cortex on GH200s with 96 GB).

    Synapses at ``bytes_per_synapse`` (measured: full-scale PD14) plus each
    neuron's state, over ``memory_per_rank_gb``; compared with NEST GPU's
    ~12.4 bytes per synapse and with JUPITER's 23,752 GH200. The tables that
    map gids to a rank's own data (see :func:`plan_memory`) are given per
    rank at this size: the rank-local ones follow from the rank's pres,
    ``synapses_per_gpu / synapses_per_pre`` (~3,900 synapses per pre at
    full-scale PD14 on one rank, where ``bytes_per_synapse`` was measured),
    and its neurons; the ones that still grow with the whole network are
    listed apart.
    """
    for name, v in (("memory per rank", memory_per_rank_gb), ("bytes per synapse", bytes_per_synapse),
                    ("neurons", n_neurons), ("synapses", n_synapses), ("synapses per pre", synapses_per_pre)):
        if not (math.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be a positive number, got {v}")
    mem = memory_per_rank_gb * 1e9
    syn_bytes = n_synapses * bytes_per_synapse
    neuron_bytes = n_neurons * _BYTES_PER_NEURON
    gpus = math.ceil((syn_bytes + neuron_bytes) / mem)
    gpus_nest = math.ceil((n_synapses * nest_gpu_bytes_per_synapse + neuron_bytes) / mem)
    per_rank_syn = n_synapses / gpus
    per_rank_neurons = n_neurons / gpus
    n_pre = min(n_neurons, per_rank_syn / synapses_per_pre)
    chunk_syn = per_rank_syn / build_chunks
    distinct = n_pre * -math.expm1(-chunk_syn / n_pre)
    # tables from gids to the rank's own data, each rank: sized by its pres and neurons (build.py,
    # gidmap.py, record.py); the build's count tables live only in pass 1, before the layout exists
    local = {"pre index (hash table, 12 bytes per slot, >= 2 slots per pre)": _GID_SLOT * table_shift(
                 math.ceil(n_pre))[0],
             f"build count tables ({build_chunks} chunks, one hash table each, and the pres found)":
                 build_chunks * (_GID_SLOT * _count_table_slots(chunk_syn, distinct) + 24 * distinct),
             "spike record flags (1 byte per local neuron)": per_rank_neurons}
    # what each rank still holds for every gid: the network spec's gid lists (a projection's pre and
    # post lists, a drive's targets and weights, a recorder's gids) and the partition's tile table
    spec_gids = 16 * n_neurons
    tiles = 20 * n_neurons / tile_size
    global_ = {"network spec gid lists (>= 2 int64 per gid)": spec_gids,
               f"partition tile table (20 bytes per tile of {tile_size} gids)": tiles}
    local_total = sum(local.values())
    gid_total = local_total + sum(global_.values())
    # per-segment tables: seg_off (8 bytes) + delay_off (2 bytes per delay value) per (section, pre)
    seg_bytes = 8 + 2 * delay_values
    seg_per_syn = {str(s): seg_bytes / s for s in (3900, 100, 10, 1)}
    return {
        "n_neurons": n_neurons, "n_synapses": n_synapses, "memory_per_rank_gb": memory_per_rank_gb,
        "bytes_per_synapse": bytes_per_synapse,
        "bytes_per_synapse_source": "full-scale PD14, float32 weights, one rank: "
                                    "bench/results/pd14_full_poisson_vs_nest_10s_cpu2.json",
        "bytes_per_neuron": _BYTES_PER_NEURON,
        "synapse_tb": syn_bytes / 1e12, "neuron_tb": neuron_bytes / 1e12,
        "gpus_needed": gpus, "synapses_per_gpu": per_rank_syn, "neurons_per_gpu": per_rank_neurons,
        "nest_gpu_bytes_per_synapse": nest_gpu_bytes_per_synapse, "gpus_needed_nest_gpu": gpus_nest,
        "jupiter_gpus": jupiter_gpus, "fraction_of_jupiter": gpus / jupiter_gpus,
        "fraction_of_jupiter_nest_gpu": gpus_nest / jupiter_gpus,
        "fits_jupiter": gpus <= jupiter_gpus,
        "synapses_per_pre": synapses_per_pre, "pres_per_gpu": n_pre,
        "gid_tables_per_rank_gb": {k: v / 1e9 for k, v in local.items()},
        "gid_tables_per_rank_total_gb": local_total / 1e9,
        "gid_tables_fit": local_total <= mem,
        "global_gid_tables_per_rank_gb": {k: v / 1e9 for k, v in global_.items()},
        "global_gid_tables_per_rank_total_gb": sum(global_.values()) / 1e9,
        "all_gid_tables_fit": gid_total <= mem,
        "segment_table_bytes_per_synapse_at_synapses_per_segment": seg_per_syn,
        "caveats": [
            f"the rank-local gid tables (pre index, the build's count tables, recording flags) cost "
            f"{local_total / 1e9:,.2f} GB per rank at {synapses_per_pre:,.0f} synapses per pre "
            f"({n_pre:.3g} pres per GPU); fewer synapses per pre means more pres and larger tables",
            f"still global: the network spec's gid lists ({spec_gids / 1e9:,.0f} GB per rank: projections "
            "keep their pre and post gids, drives their targets and weights, recorders their gids, as "
            "arrays) and the partition's tile table "
            f"({tiles / 1e9:,.2f} GB); the spec must describe populations by ranges for the GPU count to hold",
            f"{bytes_per_synapse:g} bytes/synapse holds while a (section, pre) segment keeps many synapses "
            f"(~3,900 at full-scale PD14 on one rank); its tables cost {seg_bytes} bytes per segment, "
            f"{seg_bytes / 10:.1f} bytes/synapse at 10 synapses per segment: the partition must keep "
            "pre-synaptic neurons few per rank (area_processes)",
            "communication buffers, the CUDA context and device-side ring buffers are not included",
        ],
    }


def format_cortex_scale(r: dict) -> str:
    """The projection of :func:`cortex_scale_projection` as readable lines."""
    lines = [
        f"cortex scale: {r['n_neurons']:.3g} neurons, {r['n_synapses']:.3g} synapses, "
        f"{r['memory_per_rank_gb']:g} GB per GPU",
        f"  synapses at {r['bytes_per_synapse']:g} bytes/synapse: {r['synapse_tb']:,.1f} TB; "
        f"neurons at {r['bytes_per_neuron']} bytes: {r['neuron_tb']:,.1f} TB",
        f"  GPUs needed: {r['gpus_needed']:,} ({r['synapses_per_gpu']:.3g} synapses, "
        f"{r['neurons_per_gpu']:.3g} neurons each) = {100 * r['fraction_of_jupiter']:.1f}% of JUPITER's "
        f"{r['jupiter_gpus']:,} GH200",
        f"  NEST GPU at {r['nest_gpu_bytes_per_synapse']:g} bytes/synapse: {r['gpus_needed_nest_gpu']:,} GPUs "
        f"= {100 * r['fraction_of_jupiter_nest_gpu']:.1f}% of JUPITER",
        f"  rank-local gid tables per rank at {r['synapses_per_pre']:,.0f} synapses per pre "
        f"({r['pres_per_gpu']:.3g} pres per GPU):",
        *(f"    {k}: {v:,.3f} GB" for k, v in r["gid_tables_per_rank_gb"].items()),
        f"    total {r['gid_tables_per_rank_total_gb']:,.2f} GB per rank: "
        + ("fits" if r["gid_tables_fit"] else "does NOT fit"),
        "  tables every rank still holds for the whole network:",
        *(f"    {k}: {v:,.2f} GB" for k, v in r["global_gid_tables_per_rank_gb"].items()),
        f"    with them: " + ("fits" if r["all_gid_tables_fit"] else
                              "does NOT fit; the GPU count holds only once the spec describes populations by "
                              "ranges"),
    ]
    lines += [f"  caveat: {c}" for c in r["caveats"]]
    return "\n".join(lines)
