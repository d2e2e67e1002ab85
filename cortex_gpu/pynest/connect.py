"""Connections of the PyNEST layer: ``Connect``, ``GetConnections`` and ``SynapseCollection``.

``Connect`` follows NEST's direction conventions: neurons and spike
generators to neurons become core projections, ``Connect(generator,
neurons)`` core drives, ``Connect(neurons, spike_recorder)`` and
``Connect(voltmeter, neurons)`` recorder subscriptions. A projection may use
any synapse model of :func:`~.models.synapse_model_names`: plastic ones
(``stdp_pl_synapse_hom`` and its copies) between neurons, static ones
everywhere; ``receptor_type`` 1 puts plastic synapses onto a
``parrot_neuron`` without making it repeat their spikes.

The engine reports each core synapse's model as the plastic model's name or
``static_synapse``; the name of a static copy (``syn_ex`` of NEST's
hpc_benchmark) is recovered from the projection that made the synapse,
which is unique unless two projections with different static models join
the same source and target.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..models.synapses import SYNAPSE_LIBRARY
from ..network import RULES
from . import errors as E
from .devices import GeneratorDevice
from .kernel import KERNEL, timed_as
from .models import (SYNAPSE_CONNECTION_KEYS, _NEST_ONLY_SYNAPSES, base_model, defaults_of, is_synapse_model,
                     synapse_model_names)
from . import errors as NESTErrors
from ..distributions import Uniform
from ..models import ModelError
from .nodes import NodeCollection, draw_parameter
from .random import Parameter

__all__ = ["Connect", "GetConnections", "SynapseCollection", "apply_pending_weights"]

_CONN_KEYS = {"rule", "indegree", "N", "p", "allow_autapses", "allow_multapses"}
_NEST_RULES = {"fixed_outdegree", "symmetric_pairwise_bernoulli", "pairwise_poisson",
               "tripartite_bernoulli_with_pool", "conngen"}
_SYN_KEYS = {"synapse_model", "weight", "delay", "receptor_type"}


def _conn_spec(conn_spec: Any) -> dict[str, Any]:
    spec = {"rule": "all_to_all"} if conn_spec is None else (
        {"rule": conn_spec} if isinstance(conn_spec, str) else dict(conn_spec))
    rule = spec.get("rule")
    if rule in _NEST_RULES:
        raise NotImplementedError(f"connection rule '{rule}' is not supported by cortex_gpu.pynest "
                                  f"(supported: {', '.join(RULES)})")
    if rule not in RULES:
        raise ValueError(f"unknown connection rule '{rule}' (supported: {', '.join(RULES)})")
    for key in spec:
        if key not in _CONN_KEYS:
            raise NotImplementedError(f"conn_spec key '{key}' is not supported by cortex_gpu.pynest "
                                      f"(supported: {', '.join(sorted(_CONN_KEYS))})")
    return spec


def _syn_spec(syn_spec: Any) -> dict[str, Any]:
    """``synapse_model``, ``weight``, ``delay`` and ``receptor_type`` of one Connect call.

    Weight and delay start from the model's defaults (``SetDefaults``,
    ``CopyModel``); common parameters of a plastic model cannot be given
    per connection, as in NEST. A model with per-connection plasticity
    parameters (``stdp_synapse``: ``tau_plus``, ``lambda``, ``alpha``,
    ``mu_plus``, ``mu_minus``, ``Wmax``) takes them here, in ``syn_params``.
    """
    spec = {} if syn_spec is None else (
        {"synapse_model": syn_spec} if isinstance(syn_spec, str) else dict(syn_spec))
    model = spec.get("synapse_model", "static_synapse")
    if not is_synapse_model(model):
        if model in _NEST_ONLY_SYNAPSES:
            raise NotImplementedError(f"synapse model '{model}' is not supported by cortex_gpu.pynest "
                                      f"(supported: {', '.join(synapse_model_names())})")
        raise ValueError(f"unknown synapse model '{model}' (known: {', '.join(synapse_model_names())})")
    defaults = defaults_of(model)
    per_connection = SYNAPSE_LIBRARY[KERNEL.net.base_synapse_model(model)].per_connection
    syn_params = {}
    for key in spec:
        if key in defaults and key not in SYNAPSE_CONNECTION_KEYS and key not in _SYN_KEYS:
            if not per_connection:
                raise ValueError(f"syn_spec: '{key}' is a common property of {model}, shared by all its "
                                 "connections; it can only be set via SetDefaults() or CopyModel()")
            if np.ndim(spec[key]) != 0 or isinstance(spec[key], Parameter):
                raise NotImplementedError(f"syn_spec: {model} parameter '{key}' per connection (arrays, "
                                          "nest.random) is not supported by cortex_gpu.pynest; give one number")
            syn_params[key] = spec[key]
            continue
        if key not in _SYN_KEYS:
            raise NotImplementedError(f"syn_spec key '{key}' is not supported by cortex_gpu.pynest "
                                      f"(supported: {', '.join(sorted(_SYN_KEYS))})")
    receptor = spec.get("receptor_type", 0)
    if isinstance(receptor, Parameter):
        pass    # a random port (receptor-port models): drawn per connection
    elif np.ndim(receptor) != 0:
        receptor = np.asarray(receptor)
        if receptor.dtype.kind not in "iu":
            raise TypeError(f"receptor_type must be integers, got {receptor.dtype}")
    elif int(receptor) != receptor:
        raise TypeError(f"receptor_type must be an integer, got {receptor!r}")
    else:
        receptor = int(receptor)
    out = {"synapse_model": model, "receptor_type": receptor,
           "weight": defaults["weight"], "delay": defaults["delay"], "syn_params": syn_params}
    for key in ("weight", "delay"):
        if key in spec:
            v = spec[key]
            out[key] = v.dist if isinstance(v, Parameter) else (
                float(v) if np.ndim(v) == 0 else np.asarray(v, dtype=float))
    return out


def _static_only(syn: dict, what: str, ports: bool = False) -> None:
    """Devices connect through static synapses on receptor 0 only (generators onto receptor-port
    models, ``ports``: on the ports the core checks)."""
    if KERNEL.net.is_plastic(syn["synapse_model"]) or syn["syn_params"]:
        raise NotImplementedError(f"{what} through the plastic synapse model '{syn['synapse_model']}' "
                                  "is not supported; use a static model")
    if ports:
        return
    if isinstance(syn["receptor_type"], (Parameter, np.ndarray)) or syn["receptor_type"] != 0:
        raise NotImplementedError(f"{what} with receptor_type {syn['receptor_type']} is not supported")


def _ids(x: Any, what: str, rule: str) -> np.ndarray:
    if isinstance(x, NodeCollection):
        return x.ids
    if rule != "one_to_one":
        raise TypeError(f"Connect: {what} must be a NodeCollection (arrays of node ids need "
                        "conn_spec 'one_to_one', as in NEST)")
    a = np.asarray(x)
    if a.ndim != 1 or a.dtype.kind not in "iu":
        raise TypeError(f"Connect: {what} must be a NodeCollection or a 1-D array of node ids")
    a = a.astype(np.int64)
    KERNEL.check_ids(a)
    return a


def _roles(ids: np.ndarray) -> set[str]:
    return {KERNEL.blocks[b].role for b in np.unique(KERNEL.block_index(ids))}


def _device(node_id: int):
    b = KERNEL.blocks[KERNEL.block_index(np.array([node_id]))[0]]
    return b.items[node_id - b.first]


def _pairs(pre: np.ndarray, post: np.ndarray, rule: str) -> tuple[np.ndarray, np.ndarray]:
    """(source, target) of every connection of a device rule, in the (post, pre) order of arrays."""
    if rule == "one_to_one":
        if pre.size != post.size:
            raise ValueError(f"one_to_one needs equal sizes, got {pre.size} and {post.size}")
        return pre, post
    if rule != "all_to_all":
        raise NotImplementedError(f"connecting devices with rule '{rule}' is not supported yet "
                                  "(only all_to_all and one_to_one)")
    return np.tile(pre, post.size), np.repeat(post, pre.size)


def _per_pair(value: Any, what: str, n: int, rule: str) -> np.ndarray:
    """One value per device connection (flattened in the order of :func:`_pairs`)."""
    if not isinstance(value, (float, np.ndarray)):
        raise NotImplementedError(f"random {what}s on device connections are not supported yet")
    a = np.asarray(value, dtype=float)
    if a.ndim == 0:
        return np.full(n, float(a))
    if a.size != n:
        raise ValueError(f"{what} array must have one value per connection ({n}), got shape {a.shape}")
    return a.ravel()


@timed_as("time_construction_connect")
def Connect(pre: Any, post: Any, conn_spec: Any = None, syn_spec: Any = None,
            return_synapsecollection: bool = False) -> "SynapseCollection | None":
    """Connect ``pre`` to ``post`` with ``conn_spec`` (rule) and ``syn_spec`` (model, weight, delay, receptor).

    Raises
    ------
    NotImplementedError
        For rules, synapse models or options this layer does not provide.
    ValueError
        For bad values (NaN weights, delays below the resolution, impossible indegrees).
    """
    spec = _conn_spec(conn_spec)
    rule = spec["rule"]
    syn = _syn_spec(syn_spec)
    pre_ids, post_ids = _ids(pre, "pre", rule), _ids(post, "post", rule)
    if pre_ids.size == 0 or post_ids.size == 0:
        raise ValueError("Connect: pre and post must not be empty")
    KERNEL.changing_network("Connect")
    pre_kind, post_kind = _kinds(pre_ids, "pre"), _kinds(post_ids, "post")
    if np.unique(pre_kind).size > 1 or np.unique(post_kind).size > 1:
        _connect_mixed(pre_ids, post_ids, pre_kind, post_kind, spec, syn, conn_spec, syn_spec)
    else:
        _connect_one_kind(pre_ids, post_ids, spec, syn)
    if return_synapsecollection:
        return GetConnections(NodeCollection(np.unique(pre_ids)), NodeCollection(np.unique(post_ids)))
    return None


def _kinds(ids: np.ndarray, side: str) -> np.ndarray:
    """Per node, the kind a single connection call handles: on the pre side generators apart from neurons and
    spike generators; on the post side parrot_neurons apart from other neurons; devices by their role."""
    blocks = [KERNEL.blocks[b] for b in KERNEL.block_index(ids)]
    if side == "pre":
        return np.array(["core" if b.role in ("neuron", "spike_generator") else b.role for b in blocks])
    return np.array(["parrot" if b.role == "neuron" and base_model(b.model) == "parrot_neuron" else b.role
                     for b in blocks])


#: rules that connect every pre (post) independently of the others, so a call may be split by pre (post) kind
_SPLITS_BY_PRE = {"all_to_all", "one_to_one", "pairwise_bernoulli", "fixed_outdegree"}
_SPLITS_BY_POST = {"all_to_all", "one_to_one", "pairwise_bernoulli", "fixed_indegree"}


def _connect_mixed(pre_ids: np.ndarray, post_ids: np.ndarray, pre_kind: np.ndarray, post_kind: np.ndarray,
                   spec: dict, syn: dict, conn_spec: Any, syn_spec: Any) -> None:
    """One Connect call over nodes of several kinds, as one call per kind pair.

    Exact where the rule treats each pre (or post) on its own: the connections a
    rule makes for one node do not depend on the other nodes of its side.
    """
    rule = spec["rule"]
    mixed_pre, mixed_post = np.unique(pre_kind).size > 1, np.unique(post_kind).size > 1
    if (mixed_pre and rule not in _SPLITS_BY_PRE) or (mixed_post and rule not in _SPLITS_BY_POST):
        side = "pre" if mixed_pre and rule not in _SPLITS_BY_PRE else "post"
        raise NotImplementedError(f"Connect with rule '{rule}' from {side} nodes of several kinds "
                                  f"({', '.join(sorted(set((pre_kind if side == 'pre' else post_kind).tolist())))})"
                                  " in one call is not supported: the rule draws over all of them at once; "
                                  "connect each kind separately")
    if any(isinstance(syn[k], np.ndarray) for k in ("weight", "delay")):
        raise NotImplementedError("Connect with per-connection weight or delay arrays between nodes of several "
                                  "kinds in one call is not supported; connect each kind separately")
    if rule == "one_to_one":
        pairs = np.char.add(np.char.add(pre_kind, "|"), post_kind)
        for pair in np.unique(pairs):
            keep = pairs == pair
            _connect_one_kind(pre_ids[keep], post_ids[keep], spec, _syn_spec(syn_spec))
        return
    for pk in np.unique(pre_kind):
        for qk in np.unique(post_kind):
            # a fresh syn dict per call: each part draws its own Parameter values
            _connect_one_kind(pre_ids[pre_kind == pk], post_ids[post_kind == qk], spec, _syn_spec(syn_spec))


def _connect_one_kind(pre_ids: np.ndarray, post_ids: np.ndarray, spec: dict, syn: dict) -> None:
    """Connect nodes of one pre kind to nodes of one post kind."""
    rule = spec["rule"]
    pre_roles, post_roles = _roles(pre_ids), _roles(post_ids)
    core = {"neuron", "spike_generator"}
    if pre_roles <= core and post_roles == {"neuron"}:
        _connect_core(pre_ids, post_ids, spec, syn)
    elif pre_roles == {"generator"} and post_roles == {"neuron"}:
        _static_only(syn, "Connect(generator, neurons)", KERNEL.net.port_targets(KERNEL.gid_of_nest[post_ids]))
        _connect_generators(pre_ids, post_ids, rule, syn)
    elif pre_roles <= core and post_roles == {"spike_recorder"}:
        _static_only(syn, "Connect(neurons, spike_recorder)")
        src, tgt = _pairs(pre_ids, post_ids, rule)
        for r in np.unique(tgt):
            _device(r).sources.append(KERNEL.gid_of_nest[src[tgt == r]])
        _remember(src, tgt, syn)
    elif pre_roles == {"multimeter"} and post_roles == {"neuron"}:
        _static_only(syn, "Connect(multimeter, neurons)")
        src, tgt = _pairs(pre_ids, post_ids, rule)
        for m in np.unique(src):
            _device(m).targets.append(KERNEL.gid_of_nest[tgt[src == m]])
        _remember(src, tgt, syn)
    elif pre_roles == {"generator"} and post_roles == {"spike_recorder"}:
        # NEST's poisson_generator draws an own train for every target, the recorder included: the
        # recorder records that train (devices.record_generator_trains draws it)
        _static_only(syn, "Connect(generator, spike_recorder)")
        src, tgt = _pairs(pre_ids, post_ids, rule)
        for g, r in zip(src.tolist(), tgt.tolist()):
            model = _device(g).gen.model
            if model in ("dc_generator", "step_current_generator", "ac_generator", "noise_generator"):
                raise E.IllegalConnection(f"Connect({model}, spike_recorder): the target node or synapse model "
                                          "does not support current input")
            if model != "poisson_generator":
                raise NotImplementedError(f"Connect({model}, spike_recorder) is not supported by cortex_gpu.pynest "
                                          "(only a poisson_generator's train is recorded); connect the generator "
                                          "to a parrot_neuron and record the parrot")
            KERNEL.recorded_trains.append((g, r))
        _remember(src, tgt, syn)
    elif "spike_recorder" in pre_roles or "multimeter" in post_roles or "generator" in post_roles \
            or "spike_generator" in post_roles:
        raise ValueError("Connect: wrong direction or node type; NEST connects Connect(generator, neurons), "
                         "Connect(neurons, spike_recorder) and Connect(voltmeter, neurons)")
    else:
        raise NotImplementedError(f"Connect from {sorted(pre_roles)} to {sorted(post_roles)} nodes "
                                  "is not supported")


def _connect_core(pre_ids: np.ndarray, post_ids: np.ndarray, spec: dict, syn: dict) -> None:
    rule = spec["rule"]
    for key in ("weight", "delay"):
        if isinstance(syn[key], np.ndarray) and rule not in ("one_to_one", "all_to_all"):
            raise NotImplementedError(f"array-valued {key} with rule '{rule}' is not supported yet "
                                      "(only one_to_one and all_to_all)")
    kw = {"indegree": spec.get("indegree"), "N": spec.get("N"), "p": spec.get("p"),
          "allow_autapses": spec.get("allow_autapses", True),
          "allow_multapses": spec.get("allow_multapses", True)}
    receptor = syn["receptor_type"]
    if isinstance(receptor, Parameter):
        receptor = _receptor_distribution(receptor)
    try:
        KERNEL.net.connect(KERNEL.gid_of_nest[pre_ids], KERNEL.gid_of_nest[post_ids], rule,
                           weight=syn["weight"], delay=syn["delay"], synapse_model=syn["synapse_model"],
                           receptor_type=receptor, syn_params=syn["syn_params"], **kw)
    except ModelError as e:
        if "Receptor type" in str(e):   # NEST's IncompatibleReceptorType, a KernelException
            raise NESTErrors.IncompatibleReceptorType(str(e)) from None
        raise


def _receptor_distribution(p: Parameter):
    """A random receptor port ``uniform_int(max) + c`` as the core's uniform law on [c, c + max), floored
    per synapse by the build; other expressions are refused by name."""
    shift, q = 0.0, p
    if q.op == "+" and q.args[1].op == "const":
        shift, q = q.args[1].args[0], q.args[0]
    elif q.op == "+" and q.args[0].op == "const":
        shift, q = q.args[0].args[0], q.args[1]
    if q.op != "uniform_int" or shift != int(shift):
        raise NotImplementedError(f"receptor_type {p!r} is not supported: random ports must be "
                                  "nest.random.uniform_int(max) plus an integer")
    return Uniform(shift, shift + q.args[0])


def _connect_generators(pre_ids: np.ndarray, post_ids: np.ndarray, rule: str, syn: dict) -> None:
    src, tgt = _pairs(pre_ids, post_ids, rule)
    w = _per_pair(syn["weight"], "weight", src.size, rule)
    d = _per_pair(syn["delay"], "delay", src.size, rule)
    if not np.all(np.isfinite(w)):
        raise ValueError("Connect: weight must be finite")
    gids = KERNEL.gid_of_nest[tgt]
    r = syn["receptor_type"]
    if isinstance(r, Parameter):   # one port per (generator, target) pair, drawn on the host
        dist = _receptor_distribution(r)
        r = np.minimum(np.floor(draw_parameter(Parameter(dist), src * (KERNEL.n_nodes + 1) + tgt, 0x5EC,
                                               "receptor_type")), dist.high - 1).astype(np.int64)
    ports = np.broadcast_to(np.asarray(r, np.int64), src.shape)
    for g in np.unique(src):
        dev: GeneratorDevice = _device(g)
        mine = src == g
        # A core drive has one delay and one receptor port: split this generator's targets by both.
        for delay in np.unique(d[mine]):
            for port in np.unique(ports[mine & (d == delay)]):
                sel = mine & (d == delay) & (ports == port)
                try:
                    KERNEL.net.drive(dev.gen, gids[sel], w[sel], float(delay), receptor_type=int(port))
                except ModelError as e:
                    if "Receptor type" in str(e):
                        raise (NESTErrors.UnknownReceptorType if "not available" in str(e)
                               else NESTErrors.IncompatibleReceptorType)(str(e)) from None
                    raise
    _remember(src, tgt, syn, w, d)


def _remember(src: np.ndarray, tgt: np.ndarray, syn: dict, w: np.ndarray | None = None,
              d: np.ndarray | None = None) -> None:
    """Keep a device connection for GetConnections (the core keeps no record of them)."""
    n = src.size
    w = np.full(n, float(syn["weight"]) if np.ndim(syn["weight"]) == 0 else 1.0) if w is None else w
    d = np.full(n, float(syn["delay"]) if np.ndim(syn["delay"]) == 0 else 1.0) if d is None else d
    KERNEL.device_conns.append((src.copy(), tgt.copy(), w.copy(), d.copy(), syn["synapse_model"]))


class SynapseCollection:
    """Connections as NEST's ``SynapseCollection``: ``get('weight')``, ``.source``, ``set(weight=...)``, in NEST ids.

    ``synapse_model`` holds each connection's model name (``None`` where two
    projections with different static models join the same pair, which the
    engine's report cannot tell apart); ``receptor`` its receptor port.
    Values are those of the ``GetConnections`` call that made the collection
    (and of its own ``set`` calls since).

    ``set`` changes weights of existing connections, before ``Simulate``
    (the build takes them) or between ``Simulate`` calls (the next one
    delivers with them), on the cpu backend; delays and the connections of
    generators are refused with :class:`NotImplementedError`.
    """

    _FIELDS = ("source", "target", "weight", "delay", "synapse_model", "receptor")

    def __init__(self, source: np.ndarray, target: np.ndarray, weight: np.ndarray, delay: np.ndarray,
                 synapse_model: np.ndarray | None = None, receptor: np.ndarray | None = None,
                 where: np.ndarray | None = None, stamp: tuple | None = None,
                 _store: tuple[np.ndarray, np.ndarray] | None = None):
        n = np.asarray(source).size
        # weights live in one array shared by the collection and its slices, so that
        # conns[1:3].weight = 9.0 shows in conns.weight, as in NEST
        store = (np.array(weight, float), np.arange(n)) if _store is None else _store
        data = {"source": np.asarray(source, np.int64), "target": np.asarray(target, np.int64),
                "delay": np.asarray(delay, float),
                "synapse_model": np.full(n, "static_synapse", object) if synapse_model is None
                else np.asarray(synapse_model, object),
                "receptor": np.zeros(n, np.int64) if receptor is None else np.asarray(receptor, np.int64),
                # >= 0: position in the core's connections(); < 0: -1 - position among device connections
                "_where": np.full(n, _NOWHERE, np.int64) if where is None else np.asarray(where, np.int64)}
        object.__setattr__(self, "_data", data)
        object.__setattr__(self, "_store", store)
        object.__setattr__(self, "_stamp", stamp)

    @property
    def _weight(self) -> np.ndarray:
        return self._store[0][self._store[1]]

    def __len__(self) -> int:
        return int(self._data["source"].size)

    def __getitem__(self, key: int | slice) -> "SynapseCollection":
        if isinstance(key, (int, np.integer)):
            if not -len(self) <= key < len(self):
                raise IndexError(f"index {key} out of range for {len(self)} connections")
            key = [key]
        cols = {k: self._data[k][key] for k in (*self._FIELDS, "_where") if k != "weight"}
        return SynapseCollection(cols["source"], cols["target"], None, cols["delay"], cols["synapse_model"],
                                 cols["receptor"], cols["_where"], self._stamp,
                                 _store=(self._store[0], self._store[1][key]))

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SynapseCollection) and np.array_equal(self._weight, other._weight) and all(
            np.array_equal(self._data[k], other._data[k]) for k in self._FIELDS if k != "weight")

    def __repr__(self) -> str:
        return f"SynapseCollection({len(self)} connections)"

    def _column(self, key: str) -> list[Any]:
        if key == "synapse_model":
            models = self._data[key]
            if any(m is None for m in models):
                raise NotImplementedError(
                    "the synapse model of some connections is ambiguous: two Connect calls with different "
                    "static synapse models join the same source and target")
            return models.tolist()
        if key == "weight":
            return self._weight.tolist()
        if key in self._FIELDS:
            return self._data[key].tolist()
        n = len(self)
        if key in ("port", "target_thread", "synapse_id"):
            return [0] * n
        plastic = KERNEL.net.plastic_model()
        if plastic is not None and key in plastic[1] and n and np.all(self._data["synapse_model"] == plastic[0]):
            return [plastic[1][key]] * n      # one parameter set for the network's plastic synapses
        raise ValueError(f"connections have no parameter '{key}' (known: source, target, weight, delay, "
                         "synapse_model, receptor, port, target_thread, synapse_id)")

    def get(self, keys: str | list[str] | None = None, output: str = "") -> Any:
        """Values per connection: a list (or a scalar for one connection), or a dict of them."""
        if output:
            raise NotImplementedError(f"SynapseCollection.get(output={output!r}) is not supported by "
                                      "cortex_gpu.pynest (pandas or json output); use the dict it returns")
        single = len(self) == 1
        pick = (lambda col: col[0] if single else col)
        if isinstance(keys, str):
            return pick(self._column(keys))
        names = list(keys) if keys is not None else [*self._FIELDS, "port", "target_thread", "synapse_id"]
        return {k: pick(self._column(k)) for k in names}

    def set(self, params: dict[str, Any] | list[dict[str, Any]] | None = None, **kwargs: Any) -> None:
        """Set connection parameters: ``set(weight=2.0)``, ``set({"weight": [...]})`` or one dict per connection.

        Raises
        ------
        NotImplementedError
            For delays, other parameters, connections of generators and the
            cuda backend (see the class docstring).
        ValueError
            For lists of the wrong length or unknown parameters.
        """
        n = len(self)
        if isinstance(params, (list, tuple)):
            if kwargs:
                raise TypeError("SynapseCollection.set: a list of dicts cannot be combined with keywords")
            if len(params) != n:
                raise ValueError(f"SynapseCollection.set: need one dict per connection ({n}), got {len(params)}")
            keys = set().union(*(d.keys() for d in params)) if params else set()
            for k in keys:
                if any(k not in d for d in params):
                    raise ValueError(f"SynapseCollection.set: '{k}' must be given for every connection")
            values = {k: [d[k] for d in params] for k in keys}
        else:
            values = {**(params or {}), **kwargs}
        for key, v in values.items():
            if key not in ("weight", "delay"):
                if key in self._FIELDS or key in ("port", "target_thread", "synapse_id"):
                    raise ValueError(f"SynapseCollection.set: '{key}' of a connection cannot be changed")
                raise NotImplementedError(f"SynapseCollection.set: setting '{key}' of connections is not "
                                          "supported by cortex_gpu.pynest (weight only)")
            if isinstance(v, Parameter):
                raise NotImplementedError(f"SynapseCollection.set: random {key}s (nest.random parameters) are "
                                          "not supported; pass a list of values")
            a = np.asarray(v, dtype=float)
            if a.ndim == 0:
                a = np.full(n, float(a))
            if a.shape != (n,):
                raise ValueError(f"SynapseCollection.set: {key} needs a single value or {n} values, "
                                 f"got shape {a.shape}")
            values[key] = a
        if "delay" in values:
            if not np.array_equal(values["delay"], self._data["delay"]):
                raise NotImplementedError("SynapseCollection.set: changing the delays of existing connections "
                                          "is not supported by cortex_gpu.pynest")
        if "weight" in values:
            _set_weights(self, values["weight"])
            self._store[0][self._store[1]] = values["weight"]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return self.get(name)

    def __setattr__(self, name: str, value: Any) -> None:
        self.set({name: value})


#: ``_where`` of connections made by hand (``SynapseCollection(...)``): nothing to change
_NOWHERE = np.iinfo(np.int64).min

#: Weight changes made before Simulate: (stamp, positions in connections(), weights), applied to each build
_PENDING_WEIGHTS: list[tuple[tuple, np.ndarray, np.ndarray]] = []


def _stamp() -> tuple:
    """What the positions of connections depend on: the kernel's network and its Connect calls."""
    return (KERNEL.generation, id(KERNEL.net), len(KERNEL.net.projections), len(KERNEL.device_conns))


def _set_weights(conns: SynapseCollection, weight: np.ndarray) -> None:
    if not np.all(np.isfinite(weight)):
        raise ValueError("SynapseCollection.set: weights must be finite")
    where = conns._data["_where"]
    if np.any(where == _NOWHERE) or conns._stamp is None:
        raise NotImplementedError("SynapseCollection.set: these connections do not come from GetConnections")
    if conns._stamp != _stamp():
        raise NotImplementedError("SynapseCollection.set on connections obtained before a later Connect or "
                                  "ResetKernel is not supported; call GetConnections again")
    dev = where < 0
    if dev.any():
        _set_device_weights(-1 - where[dev], weight[dev])
    core = ~dev
    if core.any():
        sims = [s for s in (KERNEL.sim, KERNEL.probe) if s is not None]
        if KERNEL.sim is None:
            _PENDING_WEIGHTS.append((conns._stamp, where[core].copy(), weight[core].copy()))
        for sim in sims:
            sim.set_weights(where[core], weight[core])


def _set_device_weights(pos: np.ndarray, weight: np.ndarray) -> None:
    """Weights of connections of recorders and multimeters (they carry no current; kept for GetConnections)."""
    start = 0
    for s, t, w, d, m in KERNEL.device_conns:
        mine = (pos >= start) & (pos < start + s.size)
        if mine.any():
            if "generator" in _roles(s[pos[mine] - start]):
                raise NotImplementedError("SynapseCollection.set: changing the weights of connections from "
                                          "generators is not supported by cortex_gpu.pynest")
            w[pos[mine] - start] = weight[mine]
        start += s.size


def apply_pending_weights(sim) -> None:
    """Give a fresh build of the kernel's network the weight changes made before it (``Prepare``, probes)."""
    now = _stamp()
    live = [p for p in _PENDING_WEIGHTS if p[0][:2] == now[:2]]
    _PENDING_WEIGHTS[:] = live
    for stamp, index, weight in live:
        if stamp != now:
            raise NotImplementedError("Connect after SynapseCollection.set is not supported by cortex_gpu.pynest "
                                      "(the changed connections can no longer be found); make every Connect "
                                      "call first")
        sim.set_weights(index, weight)


def _projection_models(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Static synapse model name of each (source, target) core gid pair, from the projections.

    ``None`` where projections of different static models contain the pair.
    """
    net = KERNEL.net
    static = [p for p in net.projections if not net.is_plastic(p.synapse_model)]
    names = {p.synapse_model for p in static}
    if len(names) <= 1:
        return np.full(source.size, names.pop() if names else "static_synapse", object)
    out = np.full(source.size, None, object)
    clash = np.zeros(source.size, bool)
    for p in static:
        if p.rule == "one_to_one":
            pairs = np.unique(p.pre * net.n_nodes + p.post)
            hit = np.isin(source * net.n_nodes + target, pairs)
        else:
            hit = np.isin(source, p.pre) & np.isin(target, p.post)
        clash |= hit & (out != None) & (out != p.synapse_model)  # noqa: E711 (element-wise)
        out[hit] = p.synapse_model
    out[clash] = None
    return out


def _core_simulation() -> Any:
    """The simulation that holds the core synapses: the running one, or a build made for looking."""
    if KERNEL.sim is None and KERNEL.probe is None:
        from .simulation import new_simulation
        KERNEL.probe = new_simulation()
        apply_pending_weights(KERNEL.probe)
    return KERNEL.sim if KERNEL.sim is not None else KERNEL.probe


def core_connection_count() -> int:
    """Core synapses of the whole network (every rank's; collective under MPI), without listing them."""
    if not KERNEL.net.projections:
        return 0
    sim = _core_simulation()
    sim.build()
    return int(KERNEL.comm.allreduce_sum(np.array([sim.graph.n_synapses], np.int64))[0])


def _core_connections() -> dict[str, np.ndarray]:
    """Every core synapse in NEST ids, from the simulation or a build made for looking."""
    empty = {k: np.zeros(0, np.int64 if k in ("source", "target", "receptor") else float)
             for k in SynapseCollection._FIELDS}
    empty["synapse_model"] = np.zeros(0, object)
    empty["_where"] = np.zeros(0, np.int64)
    net = KERNEL.net
    if not net.projections:
        return empty
    c = _core_simulation().connections()
    plastic_projections = [p for p in net.projections if net.is_plastic(p.synapse_model)]
    if "synapse_model" in c:
        reported = np.asarray(c["synapse_model"], object)
    elif plastic_projections:
        raise NotImplementedError("this engine does not simulate plastic synapses yet: "
                                  "Simulation.connections reports no synapse model")
    else:
        reported = np.full(np.asarray(c["source"]).size, "static_synapse", object)
    plastic = reported != "static_synapse"
    models = reported.copy()
    static = ~plastic
    models[static] = _projection_models(np.asarray(c["source"])[static], np.asarray(c["target"])[static])
    # plastic synapses onto parrots sit on receptor 1 (Network.connect requires it)
    receptor = np.zeros(models.size, np.int64)
    if plastic.any():
        tgt = np.asarray(c["target"])[plastic]
        pops = net.population_of(tgt)
        parrot = np.array([net.populations[i].model == "parrot_neuron" for i in range(len(net.populations))])
        receptor[plastic] = parrot[pops].astype(np.int64)
    return {"source": KERNEL.nest_of_gid[c["source"]], "target": KERNEL.nest_of_gid[c["target"]],
            "weight": np.asarray(c["weight"], float), "delay": np.asarray(c["delay"], float),
            "synapse_model": models, "receptor": receptor, "_where": np.arange(models.size, dtype=np.int64)}


def GetConnections(source: NodeCollection | None = None, target: NodeCollection | None = None,
                   synapse_model: str | None = None, synapse_label: int | None = None) -> SynapseCollection:
    """Connections from ``source`` to ``target`` (all by default) of ``synapse_model`` (any by default),
    sorted by source then target id; plastic weights are their current values."""
    if synapse_label is not None:
        raise NotImplementedError("GetConnections(synapse_label=...) is not supported yet")
    if synapse_model is not None and not is_synapse_model(synapse_model):
        if synapse_model in _NEST_ONLY_SYNAPSES:
            raise NotImplementedError(f"synapse model '{synapse_model}' is not supported by cortex_gpu.pynest")
        raise ValueError(f"unknown synapse model '{synapse_model}' (known: {', '.join(synapse_model_names())})")
    parts = [_core_connections()]
    n_dev = 0
    for s, t, w, d, m in KERNEL.device_conns:
        parts.append({"source": s, "target": t, "weight": w, "delay": d,
                      "synapse_model": np.full(s.size, m, object), "receptor": np.zeros(s.size, np.int64),
                      "_where": -1 - (n_dev + np.arange(s.size, dtype=np.int64))})
        n_dev += s.size
    fields = (*SynapseCollection._FIELDS, "_where")
    cols = {k: np.concatenate([p[k] for p in parts]) for k in fields}
    keep = np.ones(cols["source"].size, bool)
    if source is not None:
        keep &= np.isin(cols["source"], _as_collection(source).ids)
    if target is not None:
        keep &= np.isin(cols["target"], _as_collection(target).ids)
    if synapse_model is not None:
        unknown = keep & np.equal(cols["synapse_model"], None)
        if unknown.any():
            raise NotImplementedError(
                f"GetConnections(synapse_model={synapse_model!r}): the model of some connections is ambiguous "
                "(two Connect calls with different static synapse models join the same source and target)")
        keep &= cols["synapse_model"] == synapse_model
    cols = {k: v[keep] for k, v in cols.items()}
    order = np.lexsort((cols["target"], cols["source"]))
    return SynapseCollection(*(cols[k][order] for k in fields), stamp=_stamp())


def _as_collection(x: Any) -> NodeCollection:
    return x if isinstance(x, NodeCollection) else NodeCollection(np.unique(np.asarray(x, np.int64)))
