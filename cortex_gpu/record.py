"""Recording buffers: spikes and sampled state, flushed from the kernels in chunks."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from .models._base import MAX_PORTS
from .network import Multimeter, Network, SpikeRecorder, locate

__all__ = ["SpikeBuffer", "StateSampler", "RECORDABLE_CODES", "PORT_CODE", "recordable_code"]

#: State variables the kernels can sample, by code: the index of the kernel array that holds
#: them (0 ``V``, 1 ``I_ex``, 2 ``I_in``, 3 ``dI_ex``, 4 ``dI_in``, 5 ``w_ad``), i.e. their place in
#: the model's ``NeuronModel.slots``; 6 is ``t_ref_remaining`` (ms), the refractory count times the resolution.
RECORDABLE_CODES = {"V_m": 0, "I_syn_ex": 1, "I_syn_in": 2, "g_ex": 1, "g_in": 2,
                    "dg_ex": 3, "dg_in": 4, "g_sfa": 3, "g_rr": 4, "w": 5,
                    "t_ref_remaining": 6, "I_syn": 7}
#: The receptor-port models' ``I_syn_k`` (port k's current, k = 1..MAX_PORTS) has code PORT_CODE + k;
#: ``I_syn`` (7) is the sum over a neuron's ports.
PORT_CODE = 100


def recordable_code(name: str) -> int:
    """The kernel code of recordable ``name`` (see RECORDABLE_CODES and PORT_CODE); KeyError if none."""
    if name in RECORDABLE_CODES:
        return RECORDABLE_CODES[name]
    m = re.fullmatch(r"I_syn_([1-9][0-9]*)", name)
    if m and int(m.group(1)) <= MAX_PORTS:
        return PORT_CODE + int(m.group(1))
    raise KeyError(name)


@dataclass
class SpikeBuffer:
    """Spikes of recorded gids as (gid, step) pairs; the kernels append, this grows it.

    Which spikes to record is kept per local neuron (``rec_local``, bool per
    neuron in local order) and as the sorted gids of the recorded spike
    sources (``rec_sources``), which every rank runs: nothing here is sized by
    the network, only by the rank's neurons and the sources.
    """

    rec_local: np.ndarray
    rec_sources: np.ndarray
    gid: np.ndarray = field(default_factory=lambda: np.zeros(1 << 16, np.int64))
    step: np.ndarray = field(default_factory=lambda: np.zeros(1 << 16, np.int64))
    n: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))

    @classmethod
    def for_network(cls, net: Network, local_gids: np.ndarray) -> "SpikeBuffer":
        """The recording flags of ``local_gids`` (sorted) and of the network's spike sources."""
        rec_local = np.zeros(local_gids.size, np.bool_)
        sources = [np.zeros(0, np.int64)]
        for r in net.spike_recorders:
            pos, found = locate(local_gids, r.gids)
            rec_local[pos[found]] = True
            sources.append(r.gids[net.is_source_gid(r.gids)])
        return cls(rec_local, np.unique(np.concatenate(sources)))

    def is_recorded(self, gids: np.ndarray, local_gids: np.ndarray) -> np.ndarray:
        """Whether this rank records the spikes of each of ``gids`` (its own neurons and the sources)."""
        pos, found = locate(local_gids, gids)
        out = np.zeros(np.shape(gids), np.bool_)
        out[found] = self.rec_local[pos[found]]
        return out | locate(self.rec_sources, gids)[1]

    def reserve(self, extra: int) -> None:
        """Make room for ``extra`` more spikes."""
        need = int(self.n[0]) + extra
        if need > self.gid.size:
            size = max(need, 2 * self.gid.size)
            self.gid = np.resize(self.gid, size)
            self.step = np.resize(self.step, size)

    def events(self, rec: SpikeRecorder, resolution_ms: float) -> dict[str, np.ndarray]:
        """NEST-style events of one recorder: ``senders`` (gids) and ``times`` (ms), in time order."""
        n = int(self.n[0])
        gid, step = self.gid[:n], self.step[:n]
        times = (step + 1) * resolution_ms
        keep = np.isin(gid, rec.gids) & (times > rec.start_ms) & (times <= rec.stop_ms)
        return {"senders": gid[keep], "times": times[keep]}


@dataclass
class StateSampler:
    """Columns (local neuron, variable) sampled every ``interval`` steps."""

    local: np.ndarray          # local neuron index per column
    var: np.ndarray            # RECORDABLE_CODES per column
    interval: np.ndarray       # steps per column
    owner: list[tuple[int, str, int]]   # (multimeter id, variable, gid) per column
    times: list[np.ndarray] = field(default_factory=list)
    values: list[np.ndarray] = field(default_factory=list)

    @classmethod
    def for_network(cls, net: Network, local_gids: np.ndarray) -> "StateSampler":
        local, var, interval, owner = [], [], [], []
        for mm in net.multimeters:
            steps = int(round(mm.interval_ms / net.resolution_ms))
            pos, ok = locate(local_gids, mm.gids)
            for name in mm.record_from:
                for g, p in zip(mm.gids[ok], pos[ok]):
                    local.append(p)
                    var.append(recordable_code(name))
                    interval.append(steps)
                    owner.append((mm.id, name, int(g)))
        return cls(np.array(local, np.int64), np.array(var, np.int64), np.array(interval, np.int64), owner)

    def buffer(self, n_steps: int) -> np.ndarray:
        return np.zeros((n_steps if self.local.size else 0, self.local.size))

    def collect(self, buf: np.ndarray, t0: int, n_steps: int) -> None:
        """Keep the rows of ``buf`` (steps t0..t0+n_steps-1) that fall on each column's interval."""
        if self.local.size == 0:
            return
        steps = np.arange(t0, t0 + n_steps)
        keep = (steps + 1) % np.gcd.reduce(self.interval) == 0
        self.times.append(steps[keep])
        self.values.append(buf[:n_steps][keep])

    def events(self, mm: Multimeter, resolution_ms: float) -> dict[str, np.ndarray]:
        """NEST-style events: ``senders``, ``times`` (ms) and one array per recorded variable."""
        out: dict[str, np.ndarray] = {}
        cols = [c for c, (mid, _, _) in enumerate(self.owner) if mid == mm.id]
        if not cols or not self.times:
            return {"senders": np.zeros(0, np.int64), "times": np.zeros(0),
                    **{k: np.zeros(0) for k in mm.record_from}}
        steps = np.concatenate(self.times)
        vals = np.concatenate(self.values)[:, cols]
        iv = self.interval[cols[0]]
        rows = np.flatnonzero((steps + 1) % iv == 0)
        names = [self.owner[c][1] for c in cols]
        gids = np.array([self.owner[c][2] for c in cols])
        first = names[0]
        sel = [c for c, nm in enumerate(names) if nm == first]
        ug = gids[sel]
        # NEST order: time-major, then sender
        out["times"] = np.repeat((steps[rows] + 1) * resolution_ms, ug.size)
        out["senders"] = np.tile(ug, rows.size)
        for name in mm.record_from:
            idx = [c for c, nm in enumerate(names) if nm == name]
            out[name] = vals[rows][:, idx].ravel()
        return out
