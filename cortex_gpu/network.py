"""Declarative network description: populations, projections, generators, recorders.

No per-synapse data lives here. A :class:`Network` records *what* to build;
:mod:`cortex_gpu.build` draws each rank's own synapses from it. Global ids
(gids) number every population member, neurons and spike sources alike,
from 0 in creation order. Units are NEST's: ms, mV, pF, pA, Hz.

Errors that a NEST user would meet at ``Create``/``Connect`` time are raised
here, naming the population or projection and the offending value (I8).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

import numpy as np

from .distributions import Distribution, as_row
from .models import NEURON_MODELS, SOURCE_MODELS, ModelError, get_model
from .models._base import port_lists
from .models.synapses import RULE_STATIC, SYNAPSE_LIBRARY

__all__ = [
    "Network", "Population", "Projection", "Generator", "DriveConnection",
    "SpikeRecorder", "Multimeter", "ParamValue", "RULES", "GENERATOR_KINDS", "GENERATOR_ARRAYS", "GENERATOR_FLAGS",
    "delay_to_steps", "locate", "SYNAPSE_MODELS", "PARROT_MODELS",
]

ParamValue = Union[float, np.ndarray, Distribution]

RULES = ("one_to_one", "all_to_all", "fixed_indegree", "fixed_total_number", "pairwise_bernoulli")
#: Built-in synapse models and the NEST defaults of their plasticity parameters
#: (models/synapses.py: rules, units, which are per connection); ``tau_minus``
#: belongs to the post neuron.
SYNAPSE_MODELS: dict[str, dict[str, float]] = {k: dict(m.defaults) for k, m in SYNAPSE_LIBRARY.items()}
#: Neuron models that repeat their input spikes instead of integrating it.
PARROT_MODELS = ("parrot_neuron",)
#: Stimulation devices that act on their targets without being spike sources.
_WINDOW = {"start": 0.0, "stop": np.inf, "origin": 0.0}
#: NEST 3.10's generators and their parameters with NEST's defaults (rates in Hz, currents in pA,
#: times in ms, frequencies in Hz, phases in degrees); cortex_gpu/generators.py gives their output.
GENERATOR_KINDS = {
    "poisson_generator": {"rate": 0.0, **_WINDOW},
    "dc_generator": {"amplitude": 0.0, **_WINDOW},
    "step_current_generator": {"amplitude_times": np.zeros(0), "amplitude_values": np.zeros(0),
                               "allow_offgrid_times": False, **_WINDOW},
    "ac_generator": {"amplitude": 0.0, "offset": 0.0, "phase": 0.0, "frequency": 0.0, **_WINDOW},
    "noise_generator": {"mean": 0.0, "std": 0.0, "dt": 1.0, "std_mod": 0.0, "frequency": 0.0, "phase": 0.0,
                        **_WINDOW},
    "sinusoidal_poisson_generator": {"rate": 0.0, "amplitude": 0.0, "frequency": 0.0, "phase": 0.0,
                                     "individual_spike_trains": True, **_WINDOW},
    "pulsepacket_generator": {"pulse_times": np.zeros(0), "activity": 0, "sdev": 0.0, **_WINDOW},
}
#: Generator parameters whose value is an array (ms or pA) or a flag.
GENERATOR_ARRAYS = frozenset({"amplitude_times", "amplitude_values", "pulse_times"})
GENERATOR_FLAGS = frozenset({"allow_offgrid_times", "individual_spike_trains"})


def delay_to_steps(delay_ms: np.ndarray | float, resolution_ms: float) -> np.ndarray:
    """Delay in whole steps, rounded to nearest with ties up, as NEST rounds delays."""
    steps_per_ms = 1.0 / resolution_ms
    return np.floor(np.asarray(delay_ms, dtype=float) * steps_per_ms + 0.5).astype(np.int64)


@dataclass
class Population:
    """``n`` consecutive gids of one model, starting at ``first``.

    ``params`` holds per-population values: scalars, arrays of length ``n``
    or distributions drawn per neuron at build time. ``positions`` (n, 2 or 3)
    and ``area`` feed the ``area_processes`` partition.
    """

    name: str
    model: str
    n: int
    first: int
    params: dict[str, ParamValue] = field(default_factory=dict)
    area: str | None = None
    positions: np.ndarray | None = None
    spike_times_ms: list[np.ndarray] | None = None

    @property
    def stop(self) -> int:
        return self.first + self.n

    @property
    def gids(self) -> np.ndarray:
        return np.arange(self.first, self.stop, dtype=np.int64)

    @property
    def is_source(self) -> bool:
        """True for spike sources without state (spike_generator)."""
        return self.model in SOURCE_MODELS


@dataclass
class Projection:
    """Synapses from ``pre`` to ``post`` gids drawn by ``rule``.

    For ``one_to_one``, ``pre[i]`` connects to ``post[i]`` (arrays of equal
    length, any order). For the other rules ``pre`` and ``post`` are sorted
    unique gid arrays. ``weight`` is in pA (nS onto iaf_cond_exp), ``delay`` in ms: scalars,
    distributions, or arrays (one per connection for one_to_one; shape
    (len(post), len(pre)) for all_to_all).
    """

    id: int
    pre: np.ndarray
    post: np.ndarray
    rule: str
    weight: ParamValue
    delay: ParamValue
    indegree: int = 0
    total: int = 0
    p: float = 0.0
    allow_autapses: bool = True
    allow_multapses: bool = True
    synapse_model: str = "static_synapse"
    label: str = ""
    receptor_type: int | np.ndarray = 0   # per connection (array) for one_to_one/all_to_all
    #: plasticity parameters given to this Connect (stdp_synapse's per-connection ones)
    syn_params: dict[str, float] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.label or f"projection {self.id} ({self.rule})"


@dataclass
class Generator:
    """One of GENERATOR_KINDS with its parameters, which may change between runs."""

    id: int
    model: str
    params: dict[str, float]


@dataclass
class DriveConnection:
    """One ``Connect(generator, targets)``: each target gets its own input.

    For a poisson_generator every (connection, target) pair receives an
    independent Poisson train, as NEST delivers it; weight in pA (nS onto iaf_cond_exp), delay in ms.
    """

    id: int
    generator: Generator
    targets: np.ndarray
    weight: np.ndarray
    delay_ms: float
    receptor_type: int = 0    # port of a receptor-port target (poisson_generator), else 0


@dataclass
class SpikeRecorder:
    """Records the spikes of ``gids``: senders and times (ms)."""

    id: int
    gids: np.ndarray
    start_ms: float = 0.0
    stop_ms: float = np.inf


@dataclass
class Multimeter:
    """Samples ``record_from`` of ``gids`` every ``interval_ms`` (after the step's update)."""

    id: int
    gids: np.ndarray
    record_from: tuple[str, ...] = ("V_m",)
    interval_ms: float = 1.0


def _sorted_unique(gids: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray]:
    """``gids`` sorted, and the order that sorts them; raises on a repeated id.

    Node collections are nearly always increasing already: that case costs
    one comparison per id instead of a sort (55 connects of full-scale PD14
    spent 0.3 s sorting).
    """
    if gids.size < 2 or np.all(gids[1:] > gids[:-1]):
        return gids, np.arange(gids.size)
    order = np.argsort(gids, kind="stable")
    s = gids[order]
    if np.any(s[1:] == s[:-1]):
        raise ModelError(f"{what} needs node collections without repeated ids")
    return s, order


def locate(sorted_ids: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each of ``ids`` sits in ``sorted_ids`` (sorted, repeat-free), and whether it is there.

    Returns ``(pos, found)``: ``sorted_ids[pos[found]] == ids[found]``.
    An empty ``sorted_ids`` (a rank owning no neuron) finds nothing.
    """
    ids = np.asarray(ids)
    pos = np.searchsorted(sorted_ids, ids)
    if sorted_ids.size == 0:
        return pos, np.zeros(ids.shape, bool)
    found = (pos < sorted_ids.size) & (sorted_ids[np.minimum(pos, sorted_ids.size - 1)] == ids)
    return pos, found


def _overlap(a: np.ndarray, b: np.ndarray) -> int:
    """Ids in both sorted, repeat-free ``a`` and ``b``."""
    if a[-1] - a[0] + 1 == a.size and b[-1] - b[0] + 1 == b.size:   # two ranges
        return int(max(0, min(a[-1], b[-1]) - max(a[0], b[0]) + 1))
    return int(np.intersect1d(a, b, assume_unique=True).size)


def _as_gids(x, what: str) -> np.ndarray:
    if isinstance(x, Population):
        return x.gids
    a = np.asarray(x)
    if a.ndim == 0:
        a = a.reshape(1)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{what}: expected a population or an array of integer ids, got {a.dtype}")
    return a.astype(np.int64)


class Network:
    """A network description: add populations, projections, drives and recorders.

    Parameters
    ----------
    resolution_ms : float
        Simulation step h in ms; delays are rounded to it.
    """

    def __init__(self, resolution_ms: float = 0.1):
        if not resolution_ms > 0:
            raise ValueError(f"resolution must be > 0 ms, got {resolution_ms}")
        self.resolution_ms = float(resolution_ms)
        self.populations: list[Population] = []
        self.projections: list[Projection] = []
        #: synapse model name -> (built-in model it copies, its common parameters)
        self.synapse_models: dict[str, tuple[str, dict[str, float]]] = {
            k: (k, dict(v)) for k, v in SYNAPSE_MODELS.items()}
        self.generators: list[Generator] = []
        self.drives: list[DriveConnection] = []
        self.spike_recorders: list[SpikeRecorder] = []
        self.multimeters: list[Multimeter] = []
        #: synapse models whose weight updates a weight_recorder records (NEST's CopyModel/SetDefaults
        #: with ``weight_recorder``)
        self.weight_recorders: list[str] = []
        self._starts = np.zeros(0, dtype=np.int64)

    # ------------------------------------------------------------------ nodes
    @property
    def n_nodes(self) -> int:
        """Number of gids (neurons and spike sources)."""
        return self.populations[-1].stop if self.populations else 0

    @property
    def n_neurons(self) -> int:
        return sum(p.n for p in self.populations if not p.is_source)

    def add_population(self, model: str, n: int, params: dict[str, ParamValue] | None = None,
                       name: str | None = None, area: str | None = None,
                       positions: np.ndarray | None = None,
                       spike_times_ms: list[np.ndarray] | None = None) -> Population:
        """Add ``n`` neurons (or spike sources) of ``model``; returns the population.

        ``area`` labels the brain area the population belongs to and
        ``positions`` (shape (n, 2) or (n, 3), mm) places its neurons; both
        are used only by the ``area_processes`` partition.
        """
        name = name or f"{model}_{len(self.populations)}"
        if int(n) != n or n < 1:
            raise ModelError(f"population '{name}': size must be a positive integer, got {n}")
        n = int(n)
        params = dict(params or {})
        if model in SOURCE_MODELS:
            if params:
                raise ModelError(f"population '{name}': {model} takes spike_times only, got {sorted(params)}")
            spike_times_ms = spike_times_ms if spike_times_ms is not None else [np.zeros(0)] * n
            if len(spike_times_ms) != n:
                raise ModelError(f"population '{name}': need {n} spike-time arrays, got {len(spike_times_ms)}")
            spike_times_ms = [self.check_spike_times(name, t) for t in spike_times_ms]
        else:
            m = get_model(model, where=f"population '{name}'")
            for key, value in params.items():
                if key == m.port_param and key:
                    params[key] = _port_value(f"population '{name}'", m, value, n)
                else:
                    self._check_param(name, m, key, value, n)
            fixed = {k: v for k, v in params.items() if not isinstance(v, Distribution)
                     and (k in m.params or (k == m.port_param and k))}
            m.validate(f"population '{name}'", {**m.defaults, **fixed})
        if positions is not None:
            positions = np.array(positions, dtype=float)     # a copy: the caller's array may change
            if positions.ndim != 2 or positions.shape[0] != n or positions.shape[1] not in (2, 3):
                raise ModelError(f"population '{name}': positions must have shape ({n}, 2) or ({n}, 3), "
                                 f"got {positions.shape}")
            if not np.all(np.isfinite(positions)):
                raise ModelError(f"population '{name}': positions must be finite")
        if area is not None and not isinstance(area, str):
            raise ModelError(f"population '{name}': area must be a string or None, got {area!r}")
        pop = Population(name, model, n, self.n_nodes, params, area, positions, spike_times_ms)
        self.populations.append(pop)
        self._starts = np.array([p.first for p in self.populations], dtype=np.int64)
        return pop

    def check_spike_times(self, name: str, times) -> np.ndarray:
        t = np.sort(np.asarray(times, dtype=float).ravel())
        if not np.all(np.isfinite(t)):
            raise ModelError(f"spike_generator '{name}': spike times must be finite")
        steps = t / self.resolution_ms
        off = np.abs(steps - np.round(steps)) > 1e-9 * np.maximum(1.0, np.abs(steps))
        if np.any(off):
            raise ModelError(f"spike_generator '{name}': spike time {t[off][0]} ms is not a multiple "
                             f"of the resolution {self.resolution_ms} ms")
        return t

    @staticmethod
    def _check_param(name: str, m, key: str, value: ParamValue, n: int) -> None:
        if key not in m.params and key not in m.state:
            m.validate(f"population '{name}'", {key: 0.0}, full=False)
        if isinstance(value, Distribution):
            row = value.row()
            if not np.all(np.isfinite(row[1:3])):
                raise ModelError(f"population '{name}': parameter {key} has a non-finite distribution {value}")
            return
        a = np.asarray(value, dtype=float)
        if a.ndim > 0 and a.shape != (n,):
            raise ModelError(f"population '{name}': parameter {key} needs a scalar or {n} values, got shape {a.shape}")
        m.validate(f"population '{name}'", {key: a}, full=False)

    def population_of(self, gids: np.ndarray) -> np.ndarray:
        """Index of the population of each gid."""
        return np.searchsorted(self._starts, np.asarray(gids), side="right") - 1

    def is_source_gid(self, gids: np.ndarray) -> np.ndarray:
        """Whether each gid belongs to a spike source population (spike_generator)."""
        source = np.array([p.is_source for p in self.populations], np.bool_)
        return source[self.population_of(gids)] if source.size else np.zeros(np.shape(gids), np.bool_)

    def check_gids(self, gids: np.ndarray, what: str, neurons_only: bool = False) -> None:
        if gids.size == 0:
            raise ModelError(f"{what}: no nodes given")
        if gids.min() < 0 or gids.max() >= self.n_nodes:
            bad = gids[(gids < 0) | (gids >= self.n_nodes)][0]
            raise ModelError(f"{what}: unknown node id {bad}")
        if neurons_only:
            pops = self.population_of(gids)
            for i in np.unique(pops):
                if self.populations[i].is_source:
                    raise ModelError(f"{what}: {self.populations[i].model} '{self.populations[i].name}' "
                                     "cannot be the target of a projection")

    # ------------------------------------------------------------ projections
    def connect(self, pre, post, rule: str = "all_to_all", *, indegree: int | None = None,
                N: int | None = None, p: float | None = None, allow_autapses: bool = True,
                allow_multapses: bool = True, weight: ParamValue = 1.0, delay: ParamValue | None = None,
                synapse_model: str = "static_synapse", label: str = "", receptor_type: int = 0,
                syn_params: dict[str, float] | None = None) -> Projection:
        """Add a projection and check it can be built; returns it.

        ``delay`` defaults to one resolution step. See :class:`Projection`
        for the shapes of array-valued weights and delays. ``synapse_model``
        is a built-in model or a copy made with :meth:`copy_synapse_model`.
        ``receptor_type`` 1 is for plastic synapses onto ``parrot_neuron``s,
        which then learn without making the parrot repeat their spikes
        (NEST's STDP test set-up); every other projection uses 0.
        ``syn_params`` are the per-connection plasticity parameters of a model
        that has them (``stdp_synapse``: ``tau_plus``, ``lambda``, ``alpha``,
        ``mu_plus``, ``mu_minus``, ``Wmax``), scalars.
        """
        pid = len(self.projections)
        where = label or f"Connect #{pid} ({rule})"
        if rule not in RULES:
            raise ModelError(f"{where}: unknown connection rule '{rule}' (supported: {', '.join(RULES)})")
        if synapse_model not in self.synapse_models:
            raise ModelError(f"{where}: unknown synapse model '{synapse_model}' "
                             f"(known: {', '.join(self.synapse_models)})")
        pre_g = _as_gids(pre, where)
        post_g = _as_gids(post, where)
        self.check_gids(pre_g, f"{where} pre")
        self.check_gids(post_g, f"{where} post", neurons_only=True)
        plastic = self.is_plastic(synapse_model)
        syn_params = self._check_syn_params(where, synapse_model, syn_params or {})
        if isinstance(receptor_type, Distribution):
            row = as_row(receptor_type)
            if row[0] != 2 or row[1] != int(row[1]) or row[2] != int(row[2]) or row[2] <= row[1]:
                raise NotImplementedError(f"{where}: random receptor_type {receptor_type} is not supported "
                                          "(only a uniform law on whole ports, floored: uniform_int)")
            if not self.port_targets(post_g) or plastic:
                raise ModelError(f"{where}: random receptor_type is for static synapses onto receptor-port models")
            self.check_ports(where, post_g, int(row[1]))
            self.check_ports(where, post_g, int(row[2]) - 1)
        elif np.ndim(receptor_type) == 0:
            if int(receptor_type) != receptor_type:
                raise ModelError(f"{where}: receptor_type must be an integer, got {receptor_type}")
            receptor_type = int(receptor_type)
            self._check_receptor(where, post_g, plastic, receptor_type)
        if rule == "one_to_one":
            if pre_g.size != post_g.size:
                raise ModelError(f"{where}: one_to_one needs equal sizes, got {pre_g.size} and {post_g.size}")
            n_conn = pre_g.size
        else:
            # Rules other than one_to_one work on sorted ids; keep the orders so that
            # an all_to_all (post, pre) weight/delay array follows its pairs.
            pre_g, pre_order = _sorted_unique(pre_g, f"{where}: rule {rule}")
            post_g, post_order = _sorted_unique(post_g, f"{where}: rule {rule}")
            n_conn = None
        kw = dict(allow_autapses=bool(allow_autapses), allow_multapses=bool(allow_multapses))
        overlap = _overlap(pre_g, post_g) if rule != "one_to_one" else 0
        if rule == "fixed_indegree":
            if indegree is None or int(indegree) != indegree or indegree < 0:
                raise ModelError(f"{where}: fixed_indegree needs a non-negative integer indegree, got {indegree}")
            kw["indegree"] = int(indegree)
            avail = pre_g.size - (0 if allow_autapses or overlap == 0 else 1)
            if not allow_multapses and indegree > avail:
                raise ModelError(f"{where}: indegree {indegree} is larger than the {avail} available "
                                 "source neurons and multapses are not allowed")
        elif rule == "fixed_total_number":
            if N is None or int(N) != N or N < 0:
                raise ModelError(f"{where}: fixed_total_number needs a non-negative integer N, got {N}")
            kw["total"] = int(N)
            if not allow_multapses and N > pre_g.size * post_g.size - (0 if allow_autapses else overlap):
                raise ModelError(f"{where}: N={N} exceeds the number of possible pairs without multapses")
            if not allow_multapses:
                raise ModelError(f"{where}: fixed_total_number with allow_multapses=False is not supported yet")
        elif rule == "pairwise_bernoulli":
            if p is None or not 0.0 <= p <= 1.0:
                raise ModelError(f"{where}: pairwise_bernoulli needs 0 <= p <= 1, got {p}")
            kw["p"] = float(p)
        elif rule == "all_to_all":
            n_conn = (post_g.size, pre_g.size)
        weight = self._check_syn_value(where, "weight", weight, rule, n_conn)
        if delay is None:
            delay = self.resolution_ms
        delay = self._check_syn_value(where, "delay", delay, rule, n_conn)
        if np.ndim(receptor_type) and not isinstance(receptor_type, Distribution):
            if not self.port_targets(post_g):
                raise ModelError(f"{where}: per-connection receptor_type is for receptor-port models only")
            receptor_type = self._check_syn_value(where, "receptor_type", np.asarray(receptor_type, float), rule,
                                                  n_conn)
            if np.any(receptor_type != np.round(receptor_type)):
                raise ModelError(f"{where}: receptor_type must be integers")
            receptor_type = receptor_type.astype(np.int64)
        if rule == "all_to_all":
            weight, delay, receptor_type = (v[np.ix_(post_order, pre_order)] if isinstance(v, np.ndarray) else v
                                            for v in (weight, delay, receptor_type))
        if isinstance(receptor_type, np.ndarray):
            if plastic:
                raise NotImplementedError(f"{where}: plastic synapses onto receptor-port models (*_multisynapse) "
                                          "are not supported yet")
            targets = post_g if rule == "one_to_one" else np.repeat(post_g, pre_g.size)
            self.check_ports(where, targets, receptor_type.ravel())
        self._check_delay(where, delay)
        if plastic:
            self._check_plastic(where, synapse_model, weight, syn_params)
        proj = Projection(pid, pre_g, post_g, rule, weight, delay, synapse_model=synapse_model,
                          label=label, receptor_type=receptor_type, syn_params=syn_params, **kw)
        self.projections.append(proj)
        return proj

    # ------------------------------------------------------------ synapse models
    def copy_synapse_model(self, existing: str, new: str, params: dict[str, float] | None = None) -> None:
        """Register ``new`` as a copy of synapse model ``existing`` with changed defaults (NEST's CopyModel)."""
        if existing not in self.synapse_models:
            raise ModelError(f"CopyModel: unknown synapse model '{existing}' (known: {', '.join(self.synapse_models)})")
        if new in self.synapse_models or new in NEURON_MODELS or new in SOURCE_MODELS:
            raise ModelError(f"CopyModel: a model named '{new}' exists already")
        base, values = self.synapse_models[existing]
        self.synapse_models[new] = (base, dict(values))
        self.set_synapse_defaults(new, params or {})

    def set_synapse_defaults(self, name: str, params: dict[str, float]) -> None:
        """Change the common parameters of synapse model ``name`` (before any of its projections)."""
        if name not in self.synapse_models:
            raise ModelError(f"SetDefaults: unknown synapse model '{name}' (known: {', '.join(self.synapse_models)})")
        base, values = self.synapse_models[name]
        SYNAPSE_LIBRARY[base].validate(f"SetDefaults({name})", params)
        new = {**values, **{k: float(v) for k, v in params.items()}}
        if any(p.synapse_model == name for p in self.projections) and new != values:
            raise ModelError(f"SetDefaults({name}): the model is in use by a projection; its common "
                             "parameters are fixed from then on")
        self.synapse_models[name] = (base, new)

    def is_plastic(self, synapse_model: str) -> bool:
        return SYNAPSE_LIBRARY[self.synapse_models[synapse_model][0]].rule != RULE_STATIC

    def base_synapse_model(self, synapse_model: str) -> str:
        """The built-in model (models/synapses.py) that ``synapse_model`` copies."""
        return self.synapse_models[synapse_model][0]

    def plastic_model(self) -> tuple[str, dict[str, float]] | None:
        """(name, parameters) of the one plastic synapse model the projections use, or None;
        the parameters include those its projections give per connection (all equal)."""
        used = [p for p in self.projections if self.is_plastic(p.synapse_model)]
        if not used:
            return None
        return used[0].synapse_model, {**self.synapse_models[used[0].synapse_model][1], **used[0].syn_params}

    def _check_syn_params(self, where: str, synapse_model: str, syn_params: dict) -> dict[str, float]:
        """Per-connection plasticity parameters: only for a model that has them, valid values."""
        base = SYNAPSE_LIBRARY[self.synapse_models[synapse_model][0]]
        if not syn_params:
            return {}
        for key in syn_params:
            if key not in base.defaults:
                raise ModelError(f"{where}: {synapse_model} has no parameter '{key}' "
                                 f"(known: {', '.join(['weight', 'delay', *base.defaults])})")
            if not base.per_connection:
                raise ModelError(f"{where}: synapse parameter '{key}' of {synapse_model} can only be set via "
                                 "SetDefaults() or CopyModel()")
            if np.ndim(syn_params[key]) != 0 or isinstance(syn_params[key], Distribution):
                raise NotImplementedError(f"{where}: {synapse_model} parameter {key}: values per connection "
                                          "(arrays, distributions) are not built; give one number")
        base.validate(where, syn_params)
        return {k: float(v) for k, v in syn_params.items()}

    def _check_plastic(self, where: str, synapse_model: str, weight: ParamValue,
                       syn_params: dict[str, float]) -> None:
        used = self.plastic_model()
        params = {**self.synapse_models[synapse_model][1], **syn_params}
        if used is not None and used[0] != synapse_model:
            raise NotImplementedError(
                f"{where}: a network may use one plastic synapse model for now; '{used[0]}' is in use "
                f"and '{synapse_model}' would be a second (parameter sets live per model)")
        if used is not None and used[1] != params:
            diff = sorted(k for k in params if params[k] != used[1][k])
            raise NotImplementedError(
                f"{where}: {synapse_model} parameters that differ between connections are not built "
                f"({', '.join(f'{k}={params[k]} here, {used[1][k]} before' for k in diff)})")
        if isinstance(weight, Distribution):
            row = as_row(weight)        # (kind, a, b, low, high): the support, cut by redraw bounds
            low, high = {0: (row[1], row[1]), 2: (row[1], row[2]), 3: (0.0, np.inf)}.get(int(row[0]),
                                                                                      (-np.inf, np.inf))
            low, high = max(low, row[3]), min(high, row[4])
        else:
            a = np.asarray(weight, dtype=float)
            low, high = float(np.min(a)), float(np.max(a))
        SYNAPSE_LIBRARY[self.synapse_models[synapse_model][0]].check_weight(where, low, high, params)

    def n_ports(self, gids: np.ndarray) -> np.ndarray:
        """Receptor ports of each gid: ``len(tau_syn)`` for the receptor-port models, 0 otherwise."""
        gids = np.asarray(gids, np.int64)
        out = np.zeros(gids.shape, np.int64)
        pops = self.population_of(gids)
        for pi in np.unique(pops):
            pop = self.populations[pi]
            m = NEURON_MODELS.get(pop.model)
            if m is None or not m.port_param:
                continue
            sel = pops == pi
            value = pop.params.get(m.port_param, m.port_default)
            lists = port_lists(value, pop.n)
            out[sel] = np.array([len(x) for x in lists], np.int64)[gids[sel] - pop.first]
        return out

    def port_targets(self, post: np.ndarray) -> bool:
        """Whether any of ``post`` belongs to a receptor-port model (iaf_psc_*_multisynapse)."""
        models = {self.populations[i].model for i in np.unique(self.population_of(post))} if post.size else set()
        return any(NEURON_MODELS[m].port_param for m in models if m in NEURON_MODELS)

    def check_ports(self, where: str, post: np.ndarray, receptor_type, event: str = "SpikeEvent") -> None:
        """Refuse spikes onto receptor-port models outside their ports 1..n, as NEST's IncompatibleReceptorType
        (naming model, port and the allowed range); a network mixing port and plain targets in one
        projection is refused too (its receptor_type cannot suit both)."""
        pops = np.unique(self.population_of(post))
        kinds = {bool(NEURON_MODELS[self.populations[i].model].port_param) for i in pops
                 if self.populations[i].model in NEURON_MODELS}
        if kinds == {True, False}:
            raise NotImplementedError(f"{where}: a projection onto receptor-port models (*_multisynapse) and "
                                      "other neurons at once is not supported; connect them separately")
        r = np.asarray(receptor_type, np.int64)
        n = self.n_ports(post)
        rr = np.broadcast_to(r, post.shape) if r.ndim else r
        lo_bad = rr < 1
        hi_bad = rr > (n if r.ndim == 0 or r.shape == post.shape else n.min())
        bad = np.flatnonzero(np.broadcast_to(lo_bad | hi_bad, post.shape))
        if bad.size:
            j = int(bad[0])
            model = self.populations[int(self.population_of(post[j:j + 1])[0])].model
            port = int(np.broadcast_to(rr, post.shape)[j])
            raise ModelError(f"{where}: Receptor type {port} in {model} does not accept {event} "
                             f"(node {int(post[j])} has receptor ports 1..{int(n[j])})")

    def _check_receptor(self, where: str, post: np.ndarray, plastic: bool, receptor_type: int) -> None:
        """Parrots repeat spikes that arrive on receptor 0; receptor 1 carries plastic synapses only;
        the receptor-port models take spikes on their ports 1..n only."""
        if self.port_targets(post):
            if plastic:
                raise NotImplementedError(f"{where}: plastic synapses onto receptor-port models (*_multisynapse) "
                                          "are not supported yet")
            self.check_ports(where, post, receptor_type)
            return
        if receptor_type not in (0, 1):   # NEST's IncompatibleReceptorType
            model = self.populations[int(self.population_of(post[:1])[0])].model
            raise ModelError(f"{where}: Receptor type {receptor_type} in {model} does not accept SpikeEvent "
                             "(receptor_type must be 0, or 1 for plastic synapses onto parrot_neurons)")
        models = {self.populations[i].model for i in np.unique(self.population_of(post))} if post.size else set()
        parrots = models & set(PARROT_MODELS)
        if parrots and parrots != models:
            raise NotImplementedError(f"{where}: a projection onto parrot_neurons and other neurons at once is "
                                      "not supported; connect them separately")
        if receptor_type == 1 and not (parrots and plastic):
            raise ModelError(f"{where}: receptor_type 1 is supported only for plastic synapses onto "
                             "parrot_neurons")
        if parrots and plastic and receptor_type != 1:
            raise NotImplementedError(f"{where}: plastic synapses onto parrot_neurons must use receptor_type 1 "
                                      "(a parrot repeating a plastic synapse's spikes is not supported)")

    @staticmethod
    def _check_syn_value(where: str, what: str, value: ParamValue, rule: str, n_conn) -> ParamValue:
        if isinstance(value, Distribution):
            row = as_row(value)
            if not np.all(np.isfinite(row[1:3])):
                raise ModelError(f"{where}: {what} distribution has a non-finite parameter: {value}")
            return value
        a = np.asarray(value, dtype=float)
        if not np.all(np.isfinite(a)):
            raise ModelError(f"{where}: {what} must be finite, got {a[~np.isfinite(a)].flat[0]}")
        if a.ndim == 0:
            return float(a)
        if n_conn is None:
            raise ModelError(f"{where}: array-valued {what} is supported for one_to_one and all_to_all only")
        shape = (n_conn,) if isinstance(n_conn, int) else n_conn
        if a.shape != shape:
            raise ModelError(f"{where}: {what} array must have shape {shape}, got {a.shape}")
        return a

    def _check_delay(self, where: str, delay: ParamValue) -> None:
        h = self.resolution_ms
        if isinstance(delay, Distribution):
            row = as_row(delay)
            low = row[3] if row[0] != 0 else row[1]
            if row[0] == 2:
                low = max(low, row[1])
            if row[0] == 3:
                low = max(low, 0.0)
            if low < 0.5 * h:
                raise ModelError(f"{where}: delay distribution {delay} can give delays below the resolution "
                                 f"{h} ms; bound it with redraw(..., min={h / 2})")
            return
        d = np.asarray(delay)
        steps = delay_to_steps(d, h)
        if np.any(steps < 1):
            bad = d[steps < 1].flat[0] if d.ndim else float(d)
            raise ModelError(f"{where}: delay {bad} ms is below the resolution {h} ms")

    # ------------------------------------------------------- generators & recorders
    def add_generator(self, model: str, params: dict[str, float] | None = None) -> Generator:
        """A generator of GENERATOR_KINDS with NEST's parameters (rate in Hz, amplitude in pA, times in ms)."""
        if model not in GENERATOR_KINDS:
            raise ModelError(f"unknown generator model '{model}' (supported: {', '.join(GENERATOR_KINDS)})")
        g = Generator(len(self.generators), model, dict(GENERATOR_KINDS[model]))
        self.set_generator(g, params or {})
        self.generators.append(g)
        return g

    @staticmethod
    def set_generator(g: Generator, params: dict[str, float]) -> None:
        """Check and set parameters, with NEST's rules (its BadProperty cases raise ModelError)."""
        for key, value in params.items():
            if key not in GENERATOR_KINDS[g.model]:
                raise ModelError(f"{g.model}: unknown parameter '{key}' "
                                 f"(known: {', '.join(GENERATOR_KINDS[g.model])})")
            if key in GENERATOR_FLAGS:
                g.params[key] = bool(value)
                continue
            if key in GENERATOR_ARRAYS:
                a = np.array(value, dtype=float).ravel()
                if not np.all(np.isfinite(a)):
                    raise ModelError(f"{g.model}: {key} must be finite")
                g.params[key] = a
                continue
            v = float(value)
            if np.isnan(v) or (key != "stop" and not np.isfinite(v)):
                raise ModelError(f"{g.model}: parameter {key} must be finite, got {value}")
            if key == "rate" and v < 0 and g.model == "poisson_generator":
                raise ModelError(f"{g.model}: rate must be >= 0 Hz, got {v}")
            g.params[key] = v
        p = g.params
        if p["stop"] < p["start"]:
            raise ModelError(f"{g.model}: stop ({p['stop']}) must not be before start ({p['start']})")
        if g.model == "step_current_generator":
            if p["amplitude_times"].size != p["amplitude_values"].size:
                raise ModelError(f"{g.model}: amplitude_times and amplitude_values have to be the same size "
                                 f"({p['amplitude_times'].size} and {p['amplitude_values'].size})")
            if np.any(p["amplitude_times"] <= 0.0):
                raise ModelError(f"{g.model}: amplitude can only be changed at strictly positive times (t > 0)")
        if g.model == "pulsepacket_generator":
            if p["activity"] < 0 or p["activity"] != int(p["activity"]):
                raise ModelError(f"{g.model}: the activity must be a whole number >= 0, got {p['activity']}")
            if p["sdev"] < 0:
                raise ModelError(f"{g.model}: the standard deviation cannot be negative")
        if g.model == "noise_generator":
            if p["std"] < 0 or p["std_mod"] < 0:
                raise ModelError(f"{g.model}: the standard deviation cannot be negative")
            if p["std_mod"] > p["std"]:
                raise ModelError(f"{g.model}: the modulation amplitude std_mod ({p['std_mod']}) must be smaller "
                                 f"or equal to the baseline amplitude std ({p['std']})")

    def drive(self, generator: Generator, targets, weight: float | np.ndarray = 1.0,
              delay_ms: float | None = None, receptor_type: int = 0) -> DriveConnection:
        """Connect a generator to every target (NEST's all_to_all from one generator); a poisson_generator
        onto a receptor-port model names its port 1..n in ``receptor_type``, a dc_generator uses port 0."""
        where = f"Connect({generator.model} #{generator.id})"
        t = _as_gids(targets, where)
        self.check_gids(t, where, neurons_only=True)
        receptor_type = int(receptor_type)
        if generator.model == "poisson_generator" and self.port_targets(t):
            self.check_ports(where, t, receptor_type)
        elif receptor_type != 0:
            model = self.populations[int(self.population_of(t[:1])[0])].model
            raise ModelError(f"{where}: Receptor type {receptor_type} is not available in {model}"
                             + (" (currents go to port 0)" if self.port_targets(t) else ""))
        w = np.broadcast_to(np.asarray(weight, dtype=float), t.shape).copy()
        if not np.all(np.isfinite(w)):
            raise ModelError(f"{where}: weight must be finite")
        delay_ms = self.resolution_ms if delay_ms is None else float(delay_ms)
        self._check_delay(where, delay_ms)
        d = DriveConnection(len(self.drives), generator, t, w, delay_ms, receptor_type)
        self.drives.append(d)
        return d

    def record_spikes(self, gids, start_ms: float = 0.0, stop_ms: float = np.inf) -> SpikeRecorder:
        g = np.unique(_as_gids(gids, "spike_recorder"))
        self.check_gids(g, "spike_recorder")
        r = SpikeRecorder(len(self.spike_recorders), g, start_ms, stop_ms)
        self.spike_recorders.append(r)
        return r

    def record_weights(self, synapse_model: str) -> None:
        """Record every weight update of the synapses of ``synapse_model`` (a plastic one), as NEST's
        weight_recorder set on the model: events via ``Simulation.weight_events()``."""
        if synapse_model not in self.synapse_models:
            raise ModelError(f"weight_recorder: unknown synapse model '{synapse_model}' "
                             f"(known: {', '.join(self.synapse_models)})")
        if not self.is_plastic(synapse_model):
            raise NotImplementedError(f"weight_recorder on the static synapse model '{synapse_model}' is not "
                                      "built; it records plastic synapses (stdp_*) only")
        if synapse_model not in self.weight_recorders:
            self.weight_recorders.append(synapse_model)

    def weights_recorded(self, synapse_model: str) -> bool:
        return synapse_model in self.weight_recorders

    def record_state(self, gids, record_from=("V_m",), interval_ms: float = 1.0) -> Multimeter:
        g = np.unique(_as_gids(gids, "multimeter"))
        self.check_gids(g, "multimeter", neurons_only=True)
        record_from = tuple(record_from)
        for key in record_from:
            for i in np.unique(self.population_of(g)):
                m = NEURON_MODELS[self.populations[i].model]
                if m.port_param and key.startswith("I_syn_") and key[6:].isdigit():
                    ports = self.n_ports(g[self.population_of(g) == i])
                    if 1 <= int(key[6:]) <= ports.min():
                        continue
                    raise ModelError(f"multimeter: cannot record '{key}' from {m.name}: node "
                                     f"{int(g[self.population_of(g) == i][np.argmin(ports)])} has "
                                     f"receptor ports 1..{int(ports.min())}")
                if key not in m.recordables:
                    raise ModelError(f"multimeter: cannot record '{key}' from {m.name} "
                                     f"(recordables: {', '.join(m.recordables)})")
        steps = interval_ms / self.resolution_ms
        if interval_ms <= 0 or abs(steps - round(steps)) > 1e-9 * steps:
            raise ModelError(f"multimeter: interval {interval_ms} ms must be a positive multiple of "
                             f"the resolution {self.resolution_ms} ms")
        mm = Multimeter(len(self.multimeters), g, record_from, float(interval_ms))
        self.multimeters.append(mm)
        return mm


def _port_value(where: str, m, value, n: int):
    """A receptor-port parameter (``tau_syn``) as a tuple (every neuron) or a list of ``n`` tuples."""
    if isinstance(value, Distribution):
        raise NotImplementedError(f"{where}: a random {m.port_param} is not supported")
    lists = port_lists(value, n)
    m.validate(where, {m.port_param: lists}, full=False)
    return lists[0] if all(x == lists[0] for x in lists) else lists
