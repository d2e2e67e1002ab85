"""Local construction on the GPU: a rank draws its own synapses on its device.

The twin of :func:`cortex_gpu.build.build_local` for the cuda backend. The
host makes the same small per-projection tables (:func:`build._plan`: rules,
pre sets, weight and delay rows, grid-delay tables) and the neuron table;
the synapses themselves are drawn and sorted on the device by the kernels of
``kernels/construct.cu``, with the same keyed Philox draws as the CPU build
(``kernels/construct.cuh``). The resulting layout arrays are the CPU build's,
bit for bit (tests/test_cuda_build_emulated.py, and tests/test_cuda.py on a GPU).

Per synapse group (static, count, plastic), as on the CPU:

1. count the synapses of every entry (one post, one projection);
2. pass A, section by section: draw the synapses to learn the group's pre
   gids, delays and longest segment (and any bad weight or delay);
3. pass B, section by section: draw again, key each synapse by (pre index,
   delay, position), sort the keys, gather post indices and weights in key
   order and derive the segment and delay-run tables.

Memory on the device: the final layout plus one section's scratch, 30 bytes
per synapse of the largest section (gid, delay, weight, post, key); the
sort's own buffer comes on top. Every group uses the union of the groups'
pre gids from the start, which is what the CPU build's re-indexing
(:meth:`DeliveryLayout.with_pre_gids`) gives.

The layout's arrays stay on the device (``DeliveryLayout.device``), where
:class:`cortex_gpu.backends.cuda.CudaRunner` uses them without a second
upload. The host gets the segment and delay tables at once (a few bytes per
segment); the post indices and weights (6 or 10 bytes per synapse) only
when it first reads them (``connections()``; :meth:`DeliveryLayout.fetch_host`).
"""
from __future__ import annotations

import time

import numpy as np

from .. import keys, philox
from ..build import MAX_DELAY_STEPS, LocalGraph, _plan, _raise_build_error, rank_start
from ..gidmap import GidIndex
from ..layout import DeliveryLayout
from ..network import Network
from ..partition import Partition
from .cuda import CONSTRUCT_KERNEL_FILE, CONSTRUCT_THREADS, _module, check_device_memory, device_free_bytes

__all__ = ["build_local_device", "SCRATCH_BYTES_PER_SYNAPSE"]

#: Device scratch per synapse of a section: gid 8, delay 4, weight 8, post 2, sort key 8.
SCRATCH_BYTES_PER_SYNAPSE = 30


def _grid(n: int) -> tuple[int]:
    return (max(1, -(-int(n) // CONSTRUCT_THREADS)),)


class _DevicePlan:
    """One synapse group's plan (:class:`build._Plan`) on the device, and its entries' counts."""

    def __init__(self, cp, plan, n_local: int):
        def put(a, dtype):
            a = np.ascontiguousarray(a, dtype).ravel()
            return cp.asarray(a if a.size else np.zeros(1, dtype))
        self.plan = plan
        self.n_entries = int(plan.entry_proj.size)
        self.entry_local = np.repeat(np.arange(n_local, dtype=np.int64), np.diff(plan.entry_ptr))
        self.entries = [put(self.entry_local, np.int64), put(plan.entry_proj, np.int64),
                        put(plan.entry_count, np.int64), put(plan.entry_aux, np.int64)]
        self.tables = [put(plan.rule, np.int64), put(plan.pre_off, np.int64), put(plan.pre_flat, np.int64),
                       put(plan.log1m, np.float64), put(plan.autapses, np.uint8), put(plan.multapses, np.uint8),
                       put(plan.w_row, np.float64), put(plan.d_row, np.float64), put(plan.values, np.float64),
                       put(plan.d_tab_lo, np.int64), put(plan.d_tab_g0, np.int64), put(plan.d_tab_k0, np.int64),
                       put(plan.d_tab, np.float64), put(plan.d_guide, np.int64)]
        self.entry_off = None      # host int64[n_entries + 1], after count()
        self.d_entry_off = None


class _DeviceBuilder:
    """The kernels and scratch of one rank's device construction."""

    def __init__(self, net: Network, local: np.ndarray, seed: int, section_size: int, n_sections: int):
        import cupy as cp
        self.cp = cp
        self.net, self.local, self.seed = net, local, seed
        self.S, self.n_sections = section_size, n_sections
        mod = _module(CONSTRUCT_KERNEL_FILE)
        self.k = {name: mod.get_function(name) for name in
                  ("draw_entries", "synapse_keys", "gather_sorted_f32", "gather_sorted_f64",
                   "segment_tables_u16", "segment_tables_u32")}
        self.d_local = cp.asarray(local.astype(np.int64) if local.size else np.zeros(1, np.int64))
        self.zig = [cp.asarray(philox._ZIG_X), cp.asarray(philox._ZIG_F)]
        self.scalars = [np.float64(1.0 / net.resolution_ms), np.uint32(seed), np.uint32(keys.PRE),
                        np.uint32(keys.WEIGHT), np.uint32(keys.DELAY)]
        self.scratch_n = -1   # nothing allocated yet
        self.unused = cp.zeros(1, np.int64)   # draw_entries' entry_n outside its count mode

    # ------------------------------------------------------------ kernels
    def _draw(self, dp: _DevicePlan, count_only: bool, e0: int, e1: int, section_base: int, out) -> None:
        if e1 <= e0:
            return
        off = dp.d_entry_off if dp.d_entry_off is not None else dp.entries[0]   # unread when counting
        self.k["draw_entries"](_grid(e1 - e0), (CONSTRUCT_THREADS,), (
            np.int32(count_only), np.int64(e0), np.int64(e1), *dp.entries, off, self.d_local,
            np.int64(section_base), *dp.tables, *self.zig, *self.scalars, *out))

    def count(self, dp: _DevicePlan) -> np.ndarray:
        """Synapses of every entry (int64, host); sets the entries' offsets."""
        cp = self.cp
        n = dp.n_entries
        entry_n = cp.zeros(max(n, 1), np.int64)
        one = cp.zeros(1, np.int64)
        dummies = (entry_n, one, cp.zeros(1, np.int32), cp.zeros(1, np.float64), cp.zeros(1, np.uint16),
                   cp.zeros(1, np.int32), one)
        self._draw(dp, True, 0, n, 0, dummies)
        counts = entry_n.get()[:n]
        dp.entry_off = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        dp.d_entry_off = cp.asarray(dp.entry_off)
        return counts

    def section_entries(self, dp: _DevicePlan, s: int) -> tuple[int, int]:
        """The entries ``[e0, e1)`` of section ``s``'s posts (entries are sorted by post)."""
        ptr = dp.plan.entry_ptr
        n_local = self.local.size
        return int(ptr[min(s * self.S, n_local)]), int(ptr[min((s + 1) * self.S, n_local)])

    def section_synapses(self, dp: _DevicePlan, s: int) -> tuple[int, int]:
        """The synapses ``[first, stop)`` of section ``s`` (after :meth:`count`)."""
        e0, e1 = self.section_entries(dp, s)
        return int(dp.entry_off[e0]), int(dp.entry_off[e1])

    def reserve(self, n_max: int, layout_bytes: int = 0) -> None:
        """Section scratch for ``n_max`` synapses, refused before allocation when it does not fit beside
        the ``layout_bytes`` of post indices and weights the passes allocate next."""
        if n_max <= self.scratch_n:
            return
        cp = self.cp
        # the sort needs about another key array of its own
        check_device_memory((SCRATCH_BYTES_PER_SYNAPSE + 8) * n_max + layout_bytes, device_free_bytes(),
                            f"the construction (scratch for a section of {n_max:,} synapses and the layout's "
                            f"{layout_bytes:,} bytes of post indices and weights)")
        self.gid = cp.zeros(max(n_max, 1), np.int64)
        self.delay = cp.zeros(max(n_max, 1), np.int32)
        self.weight = cp.zeros(max(n_max, 1), np.float64)
        self.post = cp.zeros(max(n_max, 1), np.uint16)
        self.key = cp.zeros(max(n_max, 1), np.uint64)
        self.scratch_n = n_max

    def draw_section(self, dp: _DevicePlan, s: int) -> int:
        """Pass A or B's draws of section ``s`` into the scratch; raises the CPU build's error on a bad
        weight or delay. Returns the section's synapses."""
        cp = self.cp
        e0, e1 = self.section_entries(dp, s)
        n_e = max(e1 - e0, 0)
        err_code = cp.zeros(max(dp.n_entries, 1), np.int32)
        err_value = cp.zeros(max(dp.n_entries, 1), np.int64)
        self._draw(dp, False, e0, e1, s * self.S,
                   (self.unused, self.gid, self.delay, self.weight, self.post, err_code, err_value))
        if n_e:
            code = err_code.get()
            bad = np.flatnonzero(code)
            if bad.size:
                e = bad[0]
                _raise_build_error(self.net, np.array([[code[e], dp.plan.entry_proj[e], err_value.get()[e]]]))
        first, stop = self.section_synapses(dp, s)
        return stop - first


def _largest_section(B: _DeviceBuilder, dp: _DevicePlan) -> int:
    return max((b - a for a, b in (B.section_synapses(dp, s) for s in range(B.n_sections))), default=0)


def build_local_device(net: Network, partition: Partition, rank: int, seed: int, *,
                       weight_dtype=np.float32, section_size: int | None = None) -> LocalGraph:
    """Build ``rank``'s neurons on the host and its incoming synapses on the current GPU.

    Same parameters and result as :func:`cortex_gpu.build.build_local`
    (without ``n_workers``); each layout also keeps its arrays on the device
    (``DeliveryLayout.device``).
    """
    r = rank_start(net, partition, rank, seed, section_size)
    t0, timings, local, neurons, groups, only_static = r.t0, r.timings, r.local, r.neurons, r.groups, r.only_static
    section_size, n_sections, n_local = r.section_size, r.n_sections, r.local.size
    B = _DeviceBuilder(net, local, seed, section_size, n_sections)
    cp = B.cp
    plans: dict[str, _DevicePlan] = {}
    indegree = np.zeros(n_local, np.int64)
    for name, ids in groups.items():
        if name == "static" or ids:
            dp = _DevicePlan(cp, _plan(net, local, seed, None if only_static else ids), n_local)
            counts = B.count(dp)
            indegree += np.bincount(dp.entry_local, weights=counts, minlength=n_local).astype(np.int64)
            plans[name] = dp
    layout_bytes = sum(int(dp.entry_off[-1]) * (2 + (8 if name == "plastic" else np.dtype(weight_dtype).itemsize))
                       for name, dp in plans.items())
    B.reserve(max(_largest_section(B, dp) for dp in plans.values()), layout_bytes)

    # pass A: the pre gids, delays and longest segment of every group
    found, span = [], {}
    for name, dp in plans.items():
        d_lo, d_hi, longest = MAX_DELAY_STEPS + 1, 0, 0
        for s in range(n_sections):
            n = B.draw_section(dp, s)
            if n == 0:
                continue
            pres, per_pre = cp.unique(B.gid[:n], return_counts=True)
            found.append(pres)
            longest = max(longest, int(per_pre.max()))
            d_lo, d_hi = min(d_lo, int(B.delay[:n].min())), max(d_hi, int(B.delay[:n].max()))
        span[name] = (d_lo, d_hi, longest) if d_hi else (1, 1, 0)   # an empty group: the CPU's D = m = 1
    pre_gids = cp.unique(cp.concatenate(found)).get().astype(np.int64) if found else np.zeros(0, np.int64)
    timings["count"] = time.perf_counter() - t0

    # pass B: keys, sort, layout tables
    d_pre = cp.asarray(pre_gids if pre_gids.size else np.zeros(1, np.int64))
    n_pre = pre_gids.size
    pre_index = GidIndex.of(pre_gids)
    layouts: dict[str, DeliveryLayout | None] = {"static": None, "count": None, "plastic": None}
    t_fill = t_copy = 0.0
    for name, dp in plans.items():
        m, D, longest = span[name]
        dtype = np.float64 if name == "plastic" else np.dtype(weight_dtype)
        layouts[name], dt, dc = _layout_pass(B, dp, pre_gids, d_pre, pre_index, m, D, longest, dtype)
        t_fill += dt
        t_copy += dc
    # cumulative seconds from the start, as build_local's; the copy to the host on its own
    timings["fill"] = timings["count"] + t_fill
    timings["sort"] = time.perf_counter() - t0 - t_copy
    timings["copy_back_s"] = t_copy
    return LocalGraph(rank, partition.n_ranks, neurons, layouts["static"], indegree, time.perf_counter() - t0,
                      timings, layouts["count"], layouts["plastic"])


def _layout_pass(B: _DeviceBuilder, dp: _DevicePlan, pre_gids, d_pre, pre_index, m: int, D: int,
                 longest: int, weight_dtype) -> tuple[DeliveryLayout, float, float]:
    """Pass B of one group: its layout (device arrays attached), the seconds its draws took and the
    seconds of the copy to the host."""
    cp = B.cp
    n_pre, S, n_sec = pre_gids.size, B.S, B.n_sections
    W = D - m + 1
    n_syn = int(dp.entry_off[-1])
    n_max = _largest_section(B, dp)
    pos_bits = max(1, (max(n_max, 1) - 1).bit_length())
    if (n_pre * W).bit_length() + pos_bits > 64:
        raise NotImplementedError(
            f"construction on the GPU: a sort key of {n_pre:,} pres x {W} delays x {n_max:,} synapses per "
            "section needs more than 64 bits; use smaller sections (section_size) or the host build")
    doff_dtype = np.uint16 if longest <= np.iinfo(np.uint16).max else np.uint32
    syn_post = cp.zeros(max(n_syn, 1), np.uint16)
    syn_weight = cp.zeros(max(n_syn, 1), weight_dtype)
    seg_len = cp.zeros(max(n_sec * n_pre, 1), np.int64)
    delay_off = cp.zeros(max(n_sec * n_pre * (W - 1), 1), doff_dtype)
    gather = B.k["gather_sorted_f32" if weight_dtype == np.float32 else "gather_sorted_f64"]
    tables = B.k["segment_tables_u16" if doff_dtype == np.uint16 else "segment_tables_u32"]
    t_draw = 0.0
    for s in range(n_sec):
        c0 = time.perf_counter()
        n = B.draw_section(dp, s)
        t_draw += time.perf_counter() - c0
        if n == 0:
            continue
        first = B.section_synapses(dp, s)[0]
        key = B.key[:n]
        B.k["synapse_keys"](_grid(n), (CONSTRUCT_THREADS,), (np.int64(n), B.gid, B.delay, d_pre, np.int64(n_pre),
                                                              np.int32(m), np.int32(W), np.int32(pos_bits), key))
        key.sort()
        gather(_grid(n), (CONSTRUCT_THREADS,), (np.int64(n), key, np.int32(pos_bits), B.post, B.weight,
                                                syn_post[first:first + n], syn_weight[first:first + n]))
        tables(_grid(n_pre), (CONSTRUCT_THREADS,), (np.int64(n_pre), np.int64(n), key, np.int32(pos_bits),
                                                    np.int32(W), np.int64(s * n_pre), delay_off, seg_len))
    seg_off = cp.concatenate([cp.zeros(1, np.int64), cp.cumsum(seg_len[:n_sec * n_pre])]) \
        if n_pre else cp.zeros(n_sec * n_pre + 1, np.int64)
    dev = {"seg_off": seg_off, "delay_off": delay_off[:n_sec * n_pre * (W - 1)], "syn_post": syn_post[:n_syn],
           "syn_weight": syn_weight[:n_syn]}
    c0 = time.perf_counter()
    # the tables (a few bytes per segment) come to the host now; post indices and weights, 6 or 10
    # bytes per synapse, when the host first reads them (DeliveryLayout.fetch_host)
    lay = DeliveryLayout(pre_gids, pre_index, S, n_sec, D, m, dev["seg_off"].get(), dev["delay_off"].get(),
                         np.empty(n_syn, np.uint16), np.empty(n_syn, weight_dtype), device=dev, host_stale=True)
    t_copy = time.perf_counter() - c0
    return lay, t_draw, t_copy
