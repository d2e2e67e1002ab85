"""One explicit run state: everything a simulation needs to continue, as named arrays in a layout-free form.

The engine (:class:`cortex_gpu.engine.Simulation`) and its backends keep
their state in backend structures (``cpu.Neurons``, ``cpu.Ring``,
``cpu.Stdp``, the plastic layout's weights, the recorders; the CUDA
backend copies of them on the device). :func:`capture` gathers it into one
:class:`RunState`, :func:`apply` puts one back; checkpoints
(:mod:`cortex_gpu.checkpoint`) write and read nothing else.

The form does not depend on the rank count, the partition or the backend:

- ``neurons``: one row per neuron, sorted by gid (``gid`` and every
  declared per-neuron array, first axis the neuron);
- ``spikes``: the spikes still in flight (the ring of recent spikes), one
  entry per copy, as emitting ``gid`` and emission ``step``, with the
  plastic synapses' pre trace of each entry (``kplus``, ``tlast``);
- ``pres``: per pre gid, the declared per-pre arrays (the STDP pre trace);
- ``plastic``: plastic synapses keyed by (``pre`` gid, ``post`` gid,
  ``delay`` steps, index), with their current ``weight``: sorted by the three,
  synapses with the same three in layout order (the index is the place among
  them; they are interchangeable, as they see the same spikes at the same time);
- ``recorded``: recorded spikes (``gid``, ``step``) so far;
- ``sampled``: the multimeter columns (``mm``, ``var``, ``gid``) and rows
  (``times`` steps, ``values``);
- ``step``, and ``generators`` (each generator's current parameters).

Adding state
------------
A model or feature that keeps a new per-neuron array in ``cpu.Neurons`` (or
``cpu.Stdp``) declares it with one line, in its model file::

    from ..runstate import declare_neuron_state
    declare_neuron_state("I_rec")                   # cpu.Neurons.I_rec, first axis the neuron

and likewise :func:`declare_pre_state` (per pre, ``cpu.Stdp``),
:func:`declare_entry_state` (per ring entry, ``cpu.Ring``) and
:func:`declare_generator_state` (per generator, ``cpu.Drives``).
:func:`capture` refuses a ``cpu.Neurons`` field that is neither declared
nor listed in :data:`NEURON_CONFIG` (parameters rebuilt from the network,
or transient accumulators), so new state cannot be forgotten silently.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["RunState", "capture", "apply", "declare_neuron_state", "declare_pre_state", "declare_entry_state",
           "declare_generator_state", "NEURON_STATE", "PRE_STATE", "ENTRY_STATE", "GENERATOR_STATE",
           "NEURON_CONFIG", "GROUPS", "merge"]

#: RunState.neurons key -> (holder, attribute): holder ``"neurons"`` is ``cpu.Neurons``, ``"stdp"`` ``cpu.Stdp``.
NEURON_STATE: dict[str, tuple[str, str]] = {}
#: RunState.pres key -> (holder, attribute), arrays indexed by the layout's pre index.
PRE_STATE: dict[str, tuple[str, str]] = {}
#: RunState.spikes key -> (holder, attribute), arrays ``[slot, entry]`` of the ring (``"ring"``: ``cpu.Ring``).
ENTRY_STATE: dict[str, tuple[str, str]] = {}
#: RunState key in ``generator_arrays`` -> (holder, attribute), arrays indexed by generator id (``"drives"``).
GENERATOR_STATE: dict[str, tuple[str, str]] = {}
#: cpu.Neurons fields that are not run state: rebuilt from the network (gid, parameter sets) or
#: transient (the input accumulators, zero at every step boundary).
NEURON_CONFIG = ("gid", "pset", "prop", "kind", "refr_steps", "acc_ex", "acc_in", "rx_off", "rx_prop", "acc_rx")
#: cpu.Neurons fields of state that is not per neuron and not built into checkpoints yet: a network that
#: uses them (non-empty) cannot be checkpointed. The receptor-port currents of the multisynapse models
#: are per port (``rx_off`` gives each neuron's first port).
UNSUPPORTED_STATE = {"rx_I": "receptor-port currents (iaf_psc_exp_multisynapse, iaf_psc_alpha_multisynapse)",
                     "rx_dI": "receptor-port currents (iaf_psc_exp_multisynapse, iaf_psc_alpha_multisynapse)"}
#: The named groups of a RunState (each a dict of arrays).
GROUPS = ("neurons", "spikes", "pres", "plastic", "recorded", "sampled", "generator_arrays")


def _declare(table: dict, name: str, holder: str, attr: str | None) -> None:
    entry = (holder, attr or name)
    if table.get(name, entry) != entry:
        raise ValueError(f"run state {name!r} is already declared as {table[name]}, not {entry}")
    table[name] = entry


def declare_neuron_state(name: str, holder: str = "neurons", attr: str | None = None) -> None:
    """Declare a per-neuron array (first axis the rank's neurons, local order) as run state."""
    _declare(NEURON_STATE, name, holder, attr)


def declare_pre_state(name: str, holder: str = "stdp", attr: str | None = None) -> None:
    """Declare a per-pre array (indexed by the layout's pre index) as run state."""
    _declare(PRE_STATE, name, holder, attr)


def declare_entry_state(name: str, holder: str = "ring", attr: str | None = None) -> None:
    """Declare a per-ring-entry array (``[slot, entry]``) as run state."""
    _declare(ENTRY_STATE, name, holder, attr)


def declare_generator_state(name: str, holder: str = "drives", attr: str | None = None) -> None:
    """Declare a per-generator array (indexed by generator id, the same on every rank) as run state."""
    _declare(GENERATOR_STATE, name, holder, attr)


# the state every model shares (backends/cpu.py documents each array)
for _name in ("V", "I_ex", "I_in", "dI_ex", "dI_in", "i_0", "i0_next", "refr", "n_spikes", "h_ode", "w_ad"):
    declare_neuron_state(_name)
for _name in ("hist_t", "hist_k", "hist_n", "last_t", "last_k"):   # STDP post histories
    declare_neuron_state(_name, "stdp")
for _name in ("kplus", "tlast"):                                   # STDP pre traces
    declare_pre_state(_name, "stdp")
    declare_entry_state(_name, "ring")


@dataclass
class RunState:
    """A simulation's run state at a step boundary, independent of ranks, partition and backend.

    Each group is a dict of NumPy arrays (see the module docstring). A
    rank's capture holds its own part: its neurons, the in-flight spikes
    and pre traces it keeps, its plastic synapses and its recordings;
    :func:`merge` joins the parts of several ranks.
    """

    step: int
    neurons: dict[str, np.ndarray] = field(default_factory=dict)
    spikes: dict[str, np.ndarray] = field(default_factory=dict)
    pres: dict[str, np.ndarray] = field(default_factory=dict)
    plastic: dict[str, np.ndarray] = field(default_factory=dict)
    recorded: dict[str, np.ndarray] = field(default_factory=dict)
    sampled: dict[str, np.ndarray] = field(default_factory=dict)
    generator_arrays: dict[str, np.ndarray] = field(default_factory=dict)
    #: each generator's parameters (generator id order)
    generators: list[dict[str, float]] = field(default_factory=list)

    def arrays(self) -> dict[str, np.ndarray]:
        """Every array under ``group/name`` (the names of a checkpoint shard)."""
        return {f"{g}/{k}": v for g in GROUPS for k, v in getattr(self, g).items()}

    @classmethod
    def from_arrays(cls, step: int, arrays: dict[str, np.ndarray], generators=()) -> "RunState":
        st = cls(int(step), generators=list(generators))
        for key, v in arrays.items():
            group, name = key.split("/", 1)
            if group not in GROUPS:
                raise ValueError(f"unknown run-state group {group!r} (array {key!r})")
            getattr(st, group)[name] = v
        return st


def _holders(sim) -> dict:
    return {"neurons": sim._N, "stdp": sim._S, "ring": sim._R, "drives": sim._G}


def _check_declared(sim) -> None:
    for f, what in UNSUPPORTED_STATE.items():
        if f in sim._N._fields and getattr(sim._N, f).size:
            raise NotImplementedError(f"checkpoints of networks with {what} are not built yet: their per-port "
                                      "state is not part of the run state")
    missing = [f for f in sim._N._fields if f not in NEURON_CONFIG and f not in UNSUPPORTED_STATE
               and (("neurons", f) not in NEURON_STATE.values())]
    if missing:
        raise NotImplementedError(
            f"cpu.Neurons field(s) {', '.join(missing)} are neither declared run state "
            "(cortex_gpu.runstate.declare_neuron_state) nor listed in runstate.NEURON_CONFIG: a checkpoint would "
            "lose them")


def _slot_steps(step: int, n_slots: int) -> np.ndarray:
    """Emission step held by each ring slot at step boundary ``step``: the one in [step - n_slots, step)."""
    s = np.arange(n_slots, dtype=np.int64)
    return step - 1 - ((step - 1 - s) % n_slots)


def _canonical_order(pre: np.ndarray, post: np.ndarray, delay: np.ndarray) -> np.ndarray:
    """Order of synapses by (pre, post, delay), those with equal three in storage order (their index)."""
    return np.lexsort((delay, post, pre))


def _narrow(a: np.ndarray) -> np.ndarray:
    """int32 where the values fit (gids, delays), else int64: halves a plastic synapse's key."""
    a = np.asarray(a)
    if a.size == 0 or (a.min() >= np.iinfo(np.int32).min and a.max() <= np.iinfo(np.int32).max):
        return a.astype(np.int32)
    return a.astype(np.int64)


def capture(sim) -> RunState:
    """The run state of a built simulation at its current step (this rank's part)."""
    _check_declared(sim)
    if sim.backend == "cuda":
        sim._cuda.fetch_run_state()
    H = _holders(sim)
    N, R = sim._N, sim._R
    n = N.gid.size
    if np.any(N.acc_ex) or np.any(N.acc_in):
        raise RuntimeError("internal: synaptic input left in the accumulators at a step boundary")
    if getattr(sim, "_static_weights_set", False):
        raise NotImplementedError("checkpointing after changing static weights (Simulation.set_weights, "
                                  "SynapseCollection.set) is not built: static synapses are redrawn, not stored")
    order = np.argsort(N.gid, kind="stable")
    st = RunState(int(sim.step))
    st.neurons["gid"] = N.gid[order].astype(np.int64)
    for key, (holder, attr) in NEURON_STATE.items():
        arr = getattr(H[holder], attr)
        if arr.shape[:1] == (n,) and (n or arr.ndim):
            st.neurons[key] = np.ascontiguousarray(arr[order])
    L = sim.graph.layout
    pre_gids = L.pre_gids.astype(np.int64)
    for key, (holder, attr) in PRE_STATE.items():
        arr = getattr(H[holder], attr)
        if arr.shape[:1] == pre_gids.shape and arr.size:
            st.pres[key] = arr.copy()
    if st.pres:
        st.pres["gid"] = pre_gids
    # the ring: slot s holds the spikes emitted at the one step of [step - n_slots, step) that is s mod n_slots
    n_slots, cap = R.pre.shape
    t_slot = _slot_steps(sim.step, n_slots)
    count = R.count.astype(np.int64)
    if np.any(count[t_slot < 0]):
        raise RuntimeError("internal: ring entries for steps before the start")
    mask = np.arange(cap)[None, :] < count[:, None]
    slot_of = np.broadcast_to(np.arange(n_slots)[:, None], mask.shape)[mask]
    gid = pre_gids[R.pre[mask]] if mask.any() else np.zeros(0, np.int64)
    step = t_slot[slot_of]
    e_order = np.lexsort((gid, step))
    st.spikes["gid"], st.spikes["step"] = gid[e_order], step[e_order]
    for key, (holder, attr) in ENTRY_STATE.items():
        arr = getattr(H[holder], attr)
        if arr.shape == R.pre.shape:
            st.spikes[key] = arr[mask][e_order]
    lay = sim.graph.plastic_layout
    if lay is not None:
        syn = lay.synapses(sim.graph.neurons.gids)
        pre, post, d = syn["source"], syn["target"], syn["delay_steps"]
        order = _canonical_order(pre, post, d)
        st.plastic = {"pre": _narrow(pre[order]), "post": _narrow(post[order]), "delay": _narrow(d[order]),
                      "weight": lay.syn_weight[order].astype(np.float64)}
    k = int(sim._spikes.n[0])
    st.recorded = {"gid": sim._spikes.gid[:k].copy(), "step": sim._spikes.step[:k].copy()}
    sp = sim._sampler
    if sp.local.size:
        st.sampled = {"mm": np.array([o[0] for o in sp.owner], np.int64),
                      "var": np.array([o[1] for o in sp.owner], dtype=str),
                      "gid": np.array([o[2] for o in sp.owner], np.int64),
                      "times": np.concatenate(sp.times) if sp.times else np.zeros(0, np.int64),
                      "values": (np.concatenate(sp.values) if sp.values else np.zeros((0, sp.local.size)))}
    for key, (holder, attr) in GENERATOR_STATE.items():
        st.generator_arrays[key] = np.asarray(getattr(H[holder], attr)).copy()
    st.generators = [dict(g.params) for g in sim.net.generators]
    return st


def merge(parts: list[RunState]) -> RunState:
    """One RunState from the parts of every rank (neurons by gid; in-flight spikes and pre traces once each)."""
    if not parts:
        raise ValueError("no run-state parts to merge")
    steps = {p.step for p in parts}
    if len(steps) != 1:
        raise ValueError(f"run-state parts of different steps: {sorted(steps)}")
    out = RunState(parts[0].step, generators=parts[0].generators, generator_arrays=parts[0].generator_arrays)
    cat = lambda group, key: np.concatenate([getattr(p, group)[key] for p in parts  # noqa: E731
                                             if key in getattr(p, group)])
    keys = lambda group: list(dict.fromkeys(k for p in parts for k in getattr(p, group)))  # noqa: E731
    gid = cat("neurons", "gid")
    order = np.argsort(gid, kind="stable")
    for key in keys("neurons"):
        out.neurons[key] = cat("neurons", key)[order]
    if keys("pres"):
        g = cat("pres", "gid")
        _, first = np.unique(g, return_index=True)
        out.pres = {k: cat("pres", k)[first] for k in keys("pres")}
    out.spikes = _merge_spikes(parts, keys("spikes"))
    if keys("plastic"):   # each rank's synapses in canonical order; a (pre, post, delay) lies on one rank
        out.plastic = {k: cat("plastic", k) for k in keys("plastic")}
        order = _canonical_order(out.plastic["pre"], out.plastic["post"], out.plastic["delay"])
        out.plastic = {k: v[order] for k, v in out.plastic.items()}
    out.recorded = {k: cat("recorded", k) for k in ("gid", "step")}
    out.sampled = _merge_sampled([p.sampled for p in parts if p.sampled])
    return out


def _merge_sampled(parts: list[dict]) -> dict[str, np.ndarray]:
    """The ranks' multimeter columns side by side, on the union of their sampled steps (NaN where a rank
    sampled no row: its columns' intervals never read those steps)."""
    if not parts:
        return {}
    times = np.unique(np.concatenate([q["times"] for q in parts]))
    values = []
    for q in parts:
        v = np.full((times.size, q["values"].shape[1]), np.nan)
        v[np.searchsorted(times, q["times"])] = q["values"]
        values.append(v)
    out = {k: np.concatenate([q[k] for q in parts]) for k in ("mm", "var", "gid")}
    out["times"], out["values"] = times, np.concatenate(values, axis=1)
    return out


def _merge_spikes(parts: list[RunState], names: list[str]) -> dict[str, np.ndarray]:
    """The union of the ranks' in-flight spikes: a (gid, step) that several ranks keep appears in each with
    the same copies and traces, so it is taken from the first rank that has it."""
    seen: set = set()
    pieces = []
    for p in parts:
        g, s = p.spikes["gid"], p.spikes["step"]
        if not g.size:
            continue
        key = s * (1 << 40) + g
        first = np.ones(g.size, bool)
        if seen:
            first = ~np.isin(key, np.fromiter(seen, np.int64, len(seen)))
        seen.update(np.unique(key[first]).tolist())
        pieces.append({k: p.spikes[k][first] for k in names})
    if not pieces:
        return {k: parts[0].spikes[k] for k in names}
    out = {k: np.concatenate([q[k] for q in pieces]) for k in names}
    order = np.lexsort((out["gid"], out["step"]))
    return {k: v[order] for k, v in out.items()}


def apply(sim, st: RunState) -> None:
    """Load ``st`` (every rank's parts merged, or this rank's own) into a freshly built simulation.

    Called by :meth:`cortex_gpu.engine.Simulation.build` before a backend
    copies the host state to its device.
    """
    _check_declared(sim)
    H = _holders(sim)
    N = sim._N
    local = N.gid.astype(np.int64)
    pos = np.searchsorted(st.neurons["gid"], local)
    pos = np.minimum(pos, max(st.neurons["gid"].size - 1, 0))
    if local.size and not np.array_equal(st.neurons["gid"][pos], local):
        missing = local[st.neurons["gid"][pos] != local]
        raise ValueError(f"the run state lacks neuron(s) {missing[:5].tolist()} of this rank")
    n = local.size
    for key, (holder, attr) in NEURON_STATE.items():
        arr = getattr(H[holder], attr)
        if not (arr.shape[:1] == (n,) and (n or arr.ndim)):
            continue
        if key not in st.neurons:
            raise ValueError(f"the run state has no neuron array {key!r}, which this simulation keeps")
        src = st.neurons[key][pos]
        if src.shape != arr.shape:
            raise ValueError(f"neuron array {key!r}: shape {src.shape[1:]} per neuron in the run state, "
                             f"{arr.shape[1:]} here (another post_history?)")
        arr[...] = src
    L = sim.graph.layout
    pre_gids = L.pre_gids.astype(np.int64)
    for key, (holder, attr) in PRE_STATE.items():
        arr = getattr(H[holder], attr)
        if not (arr.shape[:1] == pre_gids.shape and arr.size):
            continue
        g = st.pres["gid"]
        p = np.minimum(np.searchsorted(g, pre_gids), max(g.size - 1, 0))
        found = g[p] == pre_gids if g.size else np.zeros(pre_gids.size, bool)
        arr[...] = 0
        arr[found] = st.pres[key][p[found]]
    _apply_ring(sim, st, H, pre_gids)
    _apply_plastic(sim, st)
    _apply_recordings(sim, st)
    for key, (holder, attr) in GENERATOR_STATE.items():
        if key in st.generator_arrays:
            getattr(H[holder], attr)[...] = st.generator_arrays[key]
    sim.step = int(st.step)


def _apply_ring(sim, st: RunState, H: dict, pre_gids: np.ndarray) -> None:
    R = sim._R
    n_slots, cap = R.pre.shape
    T = int(st.step)
    g, s = st.spikes["gid"], st.spikes["step"]
    p = np.searchsorted(pre_gids, g)
    p = np.minimum(p, max(pre_gids.size - 1, 0))
    keep = (s >= T - n_slots) & (s < T)
    if pre_gids.size:
        keep &= pre_gids[p] == g
    else:
        keep[:] = False
    slot = s[keep] % n_slots
    order = np.argsort(slot, kind="stable")
    slot = slot[order]
    count = np.bincount(slot, minlength=n_slots)
    if count.size and count.max(initial=0) > cap:
        raise ValueError(f"the run state has {count.max()} in-flight spikes in one step, more than this "
                         f"rank's ring holds ({cap})")
    start = np.cumsum(count) - count
    entry = np.arange(slot.size) - start[slot]
    R.count[:] = count
    R.pre[...] = 0
    R.pre[slot, entry] = p[keep][order]
    for key, (holder, attr) in ENTRY_STATE.items():
        arr = getattr(H[holder], attr)
        if arr.shape != R.pre.shape:
            continue
        if key not in st.spikes:
            raise ValueError(f"the run state has no in-flight spike array {key!r}, which this simulation keeps")
        arr[...] = 0
        arr[slot, entry] = st.spikes[key][keep][order]
    sim._q0[:] = R.count


def _apply_plastic(sim, st: RunState) -> None:
    """The stored weights onto the rebuilt plastic synapses: both in canonical order, the stored ones
    restricted to this rank's posts, the keys checked equal."""
    lay = sim.graph.plastic_layout
    if lay is None:
        if st.plastic.get("pre", np.zeros(0)).size:
            raise ValueError("the run state has plastic synapses; this network has none")
        return
    gids = sim.graph.neurons.gids
    syn = lay.synapses(gids)
    pre, post, d = syn["source"], syn["target"], syn["delay_steps"]
    order = _canonical_order(pre, post, d)
    sp = st.plastic
    at = np.minimum(np.searchsorted(gids, sp["post"]), max(gids.size - 1, 0))
    mine = gids[at] == sp["post"] if gids.size else np.zeros(sp["post"].size, bool)
    n = int(np.count_nonzero(mine))
    for key, new in (("pre", pre), ("post", post), ("delay", d)):
        saved = sp[key][mine]
        if n != new.size or not np.array_equal(saved.astype(np.int64), new[order].astype(np.int64)):
            raise ValueError(f"the run state's plastic synapses onto this rank's neurons ({n}) are not the "
                             f"{new.size} this network has (another connectivity?)")
    w = np.empty(n)
    w[order] = sp["weight"][mine]
    lay.syn_weight[:] = w.astype(lay.syn_weight.dtype)
    if lay.device is not None:       # a layout drawn on the GPU: its weights live there
        import cupy
        lay.device["syn_weight"].set(np.ascontiguousarray(lay.syn_weight))
        cupy.cuda.Stream.null.synchronize()     # before the runner's own (non-blocking) stream reads them


def _apply_recordings(sim, st: RunState) -> None:
    buf = sim._spikes
    g, s = st.recorded["gid"], st.recorded["step"]
    mine = buf.is_recorded(g, sim.graph.neurons.gids)
    if sim.rank != 0:          # spike sources are recorded by rank 0 only
        mine &= ~sim.net.is_source_gid(g)
    g, s = g[mine], s[mine]
    src = sim.net.is_source_gid(g)
    order = np.lexsort((g, src, s))
    buf.n[0] = 0
    buf.reserve(g.size)
    buf.gid[:g.size], buf.step[:g.size] = g[order], s[order]
    buf.n[0] = g.size
    sp = sim._sampler
    if not sp.local.size or not st.sampled:
        return
    cols = {(int(m), str(v), int(x)): c for c, (m, v, x) in enumerate(zip(st.sampled["mm"], st.sampled["var"],
                                                                            st.sampled["gid"]))}
    times = np.asarray(st.sampled["times"], np.int64)
    keep = (times + 1) % np.gcd.reduce(sp.interval) == 0
    values = np.full((int(keep.sum()), sp.local.size), np.nan)
    for c, owner in enumerate(sp.owner):
        j = cols.get((int(owner[0]), str(owner[1]), int(owner[2])))
        if j is None:
            raise ValueError(f"the run state has no multimeter column {owner}")
        values[:, c] = st.sampled["values"][keep, j]
    sp.times, sp.values = [times[keep]], [values]
