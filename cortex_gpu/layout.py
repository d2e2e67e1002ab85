"""The delivery layout: a rank's incoming synapses, sorted for delivery when due.

Synapses are grouped by (section, pre) *segments* and, inside a segment, by
delay, then post. A *section* is a run of at most 65,536 local post neurons,
so a post is stored as a 16-bit index inside its section; delays are implied
by the run a synapse sits in and stored once per run (I5, I6). Per synapse
this costs 2 bytes of post index plus the weight (4 bytes as float32, 8 as
float64), plus two small tables shared by the synapses of a segment:

- ``seg_off`` (int64, one per segment + 1): the segment's first synapse;
- ``delay_off`` (uint16 when every segment holds fewer than 65,536 synapses,
  else uint32; ``D - m`` per segment, for delays ``m+1 .. D``): where the
  run of each delay starts, relative to the segment. The run of the minimum
  delay ``m`` starts at 0 and the run of ``D`` ends at the segment's end.

A dense int64 offset per (segment, delay) would cost ``8 (D - m + 1)`` bytes
per segment: ~4 bytes per synapse for a segment of 100 synapses with
PD14's spread of 55 delays; the relative uint16 table costs ~1.1.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numba
import numpy as np

from .gidmap import GidIndex

__all__ = ["DeliveryLayout", "run_bounds"]


@dataclass
class DeliveryLayout:
    """A rank's synapses in delivery order; see the module docstring.

    Attributes
    ----------
    pre_gids : int64[n_pre]
        Sorted gids of the pre-synaptic neurons with a synapse on this rank.
    pre_index : GidIndex
        Pre index of each gid in ``pre_gids`` (a hash table sized by ``n_pre``,
        not by the network); -1 for gids with no synapse here.
    section_size : int
        Local posts per section (<= 65536).
    max_delay, min_delay : int
        Largest and smallest delay in steps (D and m).
    seg_off : int64[n_sections * n_pre + 1]
        First synapse of segment ``s * n_pre + p``.
    delay_off : uint16 or uint32[n_sections * n_pre * (D - m)]
        Start of the run of delay ``d`` (``m < d <= D``) of segment ``g``,
        relative to ``seg_off[g]``, at ``g * (D - m) + (d - m - 1)``.
    syn_post : uint16[n_syn]
        Post index inside the section.
    syn_weight : float32 or float64[n_syn]
        Weight in pA; positive excitatory, negative inhibitory.
    device : dict or None
        Device copies of ``seg_off``, ``delay_off``, ``syn_post`` and
        ``syn_weight`` (CuPy arrays) when the layout was built on the GPU
        (:mod:`cortex_gpu.backends.cuda_build`); the cuda backend uses them
        instead of uploading the host arrays.
    host_stale : bool
        True while ``syn_post`` and ``syn_weight`` are allocated on the host
        but not yet copied from ``device`` (the construction on the GPU
        leaves the 6 bytes per synapse there); :meth:`fetch_host` copies
        them. The methods below that read synapses fetch first.
    """

    pre_gids: np.ndarray
    pre_index: GidIndex
    section_size: int
    n_sections: int
    max_delay: int
    min_delay: int
    seg_off: np.ndarray
    delay_off: np.ndarray
    syn_post: np.ndarray
    syn_weight: np.ndarray
    device: dict | None = field(default=None, repr=False, compare=False)
    host_stale: bool = field(default=False, repr=False, compare=False)
    #: receptor port of each synapse (uint8, 1..n) where the group targets receptor-port models
    #: (iaf_psc_*_multisynapse); empty otherwise, so other networks pay no byte for it
    syn_port: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint8), repr=False, compare=False)

    def fetch_host(self) -> None:
        """Copy ``syn_post`` and ``syn_weight`` from the device into the host arrays, in place, if stale."""
        if self.host_stale:
            self.device["syn_post"].get(out=self.syn_post)
            self.device["syn_weight"].get(out=self.syn_weight)
            self.host_stale = False

    @property
    def n_synapses(self) -> int:
        return int(self.syn_post.size)

    @property
    def n_pre(self) -> int:
        return int(self.pre_gids.size)

    @property
    def nbytes(self) -> int:
        """Bytes of every array the delivery reads."""
        return int(self.syn_post.nbytes + self.syn_weight.nbytes + self.syn_port.nbytes + self.seg_off.nbytes
                   + self.delay_off.nbytes + self.pre_index.nbytes + self.pre_gids.nbytes)

    @property
    def bytes_per_synapse(self) -> float:
        return self.nbytes / max(self.n_synapses, 1)

    def with_pre_gids(self, pre_gids: np.ndarray, pre_index: GidIndex) -> "DeliveryLayout":
        """The same synapses indexed by ``pre_gids``, a sorted superset of this layout's pres.

        Pres without synapses here get empty segments, so that several
        layouts share one pre index (and one ring entry per spike);
        ``pre_index`` (``GidIndex.of(pre_gids)``) is that shared index. The synapse
        arrays are shared, not copied.
        """
        pos = np.searchsorted(pre_gids, self.pre_gids)
        if self.pre_gids.size and not np.array_equal(pre_gids[pos], self.pre_gids):
            raise ValueError("pre_gids must contain every pre of the layout")
        n_new, S, w = pre_gids.size, self.n_sections, self.max_delay - self.min_delay
        lengths = np.zeros((S, n_new), np.int64)
        lengths[:, pos] = np.diff(self.seg_off).reshape(S, self.n_pre)
        seg_off = np.concatenate([[0], np.cumsum(lengths.ravel())]).astype(np.int64)
        delay_off = np.zeros((S, n_new, w), self.delay_off.dtype)
        delay_off[:, pos, :] = self.delay_off.reshape(S, self.n_pre, w)
        return DeliveryLayout(pre_gids, pre_index, self.section_size, S, self.max_delay,
                              self.min_delay, seg_off, delay_off.ravel(), self.syn_post, self.syn_weight,
                              syn_port=self.syn_port)

    def run(self, section: int, pre: int, delay: int) -> tuple[int, int]:
        """``[start, stop)`` of the synapses of one (section, pre index, delay) run."""
        return run_bounds(self.seg_off, self.delay_off, section * self.n_pre + pre, delay,
                          self.min_delay, self.max_delay)

    def indegrees(self, n_local: int) -> np.ndarray:
        """Incoming synapses of each local post (int64[n_local]), without per-synapse temporaries."""
        self.fetch_host()
        out = np.zeros(n_local, np.int64)
        _count_posts(self.seg_off, self.syn_post, max(self.n_pre, 1), self.section_size, out)
        return out

    def synapse_delays(self) -> np.ndarray:
        """Delay in steps of every synapse (int64), expanded from the run tables."""
        out = np.empty(self.n_synapses, np.int64)
        _expand_delays(self.seg_off, self.delay_off, self.min_delay, self.max_delay, out)
        return out

    def synapses(self, local_gids: np.ndarray) -> dict[str, np.ndarray]:
        """All synapses as arrays ``source, target, delay_steps, weight`` (gids), for inspection."""
        self.fetch_host()
        seg = np.repeat(np.arange(self.seg_off.size - 1), np.diff(self.seg_off))
        pre = seg % max(self.n_pre, 1)
        section = seg // max(self.n_pre, 1)
        target = local_gids[section * self.section_size + self.syn_post.astype(np.int64)]
        out = {"source": self.pre_gids[pre], "target": target,
               "delay_steps": self.synapse_delays(), "weight": self.syn_weight.astype(np.float64)}
        if self.syn_port.size:
            out["receptor"] = self.syn_port.astype(np.int64)
        return out


@numba.njit(cache=True, inline="always")
def run_bounds(seg_off, delay_off, seg, d, m, D):
    """``(start, stop)`` of the run of delay ``d`` in segment ``seg`` (see the module docstring)."""
    base = seg_off[seg]
    w = D - m
    start = base if d == m else base + np.int64(delay_off[seg * w + (d - m - 1)])
    stop = seg_off[seg + 1] if d == D else base + np.int64(delay_off[seg * w + (d - m)])
    return start, stop


@numba.njit(cache=True)
def _expand_delays(seg_off, delay_off, m, D, out):
    for seg in range(seg_off.size - 1):
        for d in range(m, D + 1):
            a, b = run_bounds(seg_off, delay_off, seg, d, m, D)
            for k in range(a, b):
                out[k] = d


@numba.njit(cache=True)
def _count_posts(seg_off, syn_post, n_pre, section_size, out):
    for seg in range(seg_off.size - 1):
        base = (seg // n_pre) * section_size
        for k in range(seg_off[seg], seg_off[seg + 1]):
            out[base + syn_post[k]] += 1
