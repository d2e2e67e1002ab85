"""The delivery layout: a rank's incoming synapses, sorted for delivery when due.

Synapses are grouped by (section, pre, delay) and, inside each such run, by
post. A *section* is a run of at most 65,536 local post neurons, so a post is
stored as a 16-bit index inside its section; delays are implied by the run
a synapse sits in and stored once per run (I5, I6). Per synapse this costs
2 bytes of post index plus the weight (4 bytes as float32, 8 as float64),
plus the run table ``run_off`` of ``n_sections * n_pre * max_delay + 1``
int64 offsets shared by all synapses.

``run_off[((s * n_pre) + p) * D + (d - 1)]`` is the first synapse of the run
of section ``s``, pre index ``p`` and delay ``d`` steps (1 <= d <= D); the
run ends where the next entry starts.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["DeliveryLayout"]


@dataclass
class DeliveryLayout:
    """A rank's synapses in delivery order; see the module docstring.

    Attributes
    ----------
    pre_gids : int64[n_pre]
        Sorted gids of the pre-synaptic neurons with a synapse on this rank.
    pre_index : int32[n_nodes]
        Pre index of each gid, -1 for gids with no synapse here.
    section_size : int
        Local posts per section (<= 65536).
    max_delay, min_delay : int
        Largest and smallest delay in steps (D and m).
    run_off : int64[n_sections * n_pre * D + 1]
    syn_post : uint16[n_syn]
        Post index inside the section.
    syn_weight : float32 or float64[n_syn]
        Weight in pA; positive excitatory, negative inhibitory.
    """

    pre_gids: np.ndarray
    pre_index: np.ndarray
    section_size: int
    n_sections: int
    max_delay: int
    min_delay: int
    run_off: np.ndarray
    syn_post: np.ndarray
    syn_weight: np.ndarray

    @property
    def n_synapses(self) -> int:
        return int(self.syn_post.size)

    @property
    def n_pre(self) -> int:
        return int(self.pre_gids.size)

    @property
    def nbytes(self) -> int:
        """Bytes of every array the delivery reads."""
        return int(self.syn_post.nbytes + self.syn_weight.nbytes + self.run_off.nbytes
                   + self.pre_index.nbytes + self.pre_gids.nbytes)

    @property
    def bytes_per_synapse(self) -> float:
        return self.nbytes / max(self.n_synapses, 1)

    def run(self, section: int, pre: int, delay: int) -> tuple[int, int]:
        """``[start, stop)`` of the synapses of one (section, pre index, delay) run."""
        i = (section * self.n_pre + pre) * self.max_delay + (delay - 1)
        return int(self.run_off[i]), int(self.run_off[i + 1])

    def synapses(self, local_gids: np.ndarray) -> dict[str, np.ndarray]:
        """All synapses as arrays ``source, target, delay_steps, weight`` (gids), for inspection."""
        n_runs = self.n_sections * self.n_pre * self.max_delay
        lengths = np.diff(self.run_off)
        run = np.repeat(np.arange(n_runs), lengths)
        delay = run % self.max_delay + 1
        pre = (run // self.max_delay) % self.n_pre
        section = run // (self.max_delay * self.n_pre)
        target = local_gids[section * self.section_size + self.syn_post.astype(np.int64)]
        return {"source": self.pre_gids[pre], "target": target,
                "delay_steps": delay.astype(np.int64), "weight": self.syn_weight.astype(np.float64)}
