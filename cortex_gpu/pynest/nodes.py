"""Nodes of the PyNEST layer: ``Create``, ``NodeCollection`` and ``GetStatus``/``SetStatus``.

Neurons and spike generators are core populations; their parameters live in
the population's ``params`` (scalars or one value per node), so what
``get`` reports is what the build uses. Random parameters
(``nest.random.*``) are drawn once, at ``Create``/``set``, keyed by
``rng_seed`` and the node id, as NEST draws them when it sets them.
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator

import numpy as np

from .. import keys
from ..models import NEURON_MODELS, ModelError
from ..network import locate
from .devices import emitted_spike_times, make_device, spike_generator_state
from .kernel import KERNEL, Block, timed_as
from ..models._base import _is_one_list, port_lists
from . import errors as NESTErrors
from .models import (ARRAY_PARAMS, DBL_MAX, DEVICE_DEFAULTS, base_model, defaults_of, element_type, recordables_of,
                     role_of)
from .random import Parameter
from .errors import UnaccessedDictionaryEntry

__all__ = ["NodeCollection", "Create", "GetStatus", "SetStatus", "draw_parameter"]

#: Keys every node reports besides its model's parameters.
_BOOKKEEPING = ("global_id", "model", "element_type", "local", "thread", "vp")


def draw_parameter(value: Parameter, ids: np.ndarray, purpose: int, what: str) -> np.ndarray:
    """One value of ``value`` per NEST id, keyed by ``rng_seed``, ``purpose`` and the id.

    Raises
    ------
    ValueError
        When a bounded (``redraw``) distribution gives no value inside its bounds.
    """
    stream = keys.stream(keys.PARAM, (1 << 23) | purpose)
    out = value.draw(ids, KERNEL.rng_seed, stream)
    if np.any(np.isnan(out)):
        raise ValueError(f"{what}: {value} gave no value inside its bounds")
    return out


def _purpose(key: str) -> int:
    """A stable small number per parameter name, so that each parameter gets its own stream."""
    return sum((i + 1) * ord(c) for i, c in enumerate(key)) % (1 << 20)


class NodeCollection:
    """An ordered set of NEST node ids (1-based, sorted, unique), as NEST's ``NodeCollection``.

    Parameters
    ----------
    ids : iterable of int, optional
        Existing node ids; ``NodeCollection([1, 3])`` as in NEST.
    """

    def __init__(self, ids: Iterable[int] | np.ndarray | None = None):
        a = np.asarray([] if ids is None else list(ids) if not isinstance(ids, np.ndarray) else ids)
        a = a.astype(np.int64).ravel()
        if a.size and np.any(np.diff(a) <= 0):
            raise ValueError("node ids of a NodeCollection must be sorted and unique")
        KERNEL.check_ids(a)
        object.__setattr__(self, "_ids", a)
        object.__setattr__(self, "_generation", KERNEL.generation)

    # ---------------------------------------------------------- sequence protocol
    @property
    def ids(self) -> np.ndarray:
        """The NEST node ids (int64 array); raises if the kernel was reset since."""
        if self._generation != KERNEL.generation:
            raise ValueError("this NodeCollection is from before ResetKernel and no longer exists")
        return self._ids

    def __len__(self) -> int:
        return int(self._ids.size)

    def __iter__(self) -> Iterator["NodeCollection"]:
        for i in self.ids:
            yield NodeCollection(np.array([i]))

    def __getitem__(self, key: int | slice | list | np.ndarray) -> "NodeCollection":
        ids = self.ids
        if isinstance(key, (int, np.integer)):
            if not -ids.size <= key < ids.size:
                raise IndexError(f"index {key} out of range for a NodeCollection of {ids.size} nodes")
            return NodeCollection(ids[[key]])
        if isinstance(key, slice):
            if key.step is not None and key.step < 1:
                raise IndexError("NodeCollection slicing needs a positive step")
            return NodeCollection(ids[key])
        sel = np.asarray(key)
        if sel.dtype == bool:
            return NodeCollection(ids[sel])
        return NodeCollection(np.unique(ids[sel.astype(np.int64)]))

    def __add__(self, other: "NodeCollection") -> "NodeCollection":
        if not isinstance(other, NodeCollection):
            return NotImplemented
        both = np.concatenate([self.ids, other.ids])
        if np.unique(both).size != both.size:
            raise ValueError("can only join NodeCollections that share no node")
        return NodeCollection(np.sort(both))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NodeCollection) and np.array_equal(self.ids, other.ids)

    def __hash__(self) -> int:
        return hash(tuple(self._ids.tolist()))

    def __contains__(self, node_id: int) -> bool:
        return bool(np.isin(node_id, self.ids))

    def __bool__(self) -> bool:
        return self._ids.size > 0

    def __repr__(self) -> str:
        ids = self._ids
        if ids.size == 0:
            return "NodeCollection(<empty>)"
        if ids.size == ids[-1] - ids[0] + 1:
            return f"NodeCollection(first={ids[0]}, last={ids[-1]})"
        return f"NodeCollection(ids={ids.tolist()})"

    def tolist(self) -> list[int]:
        return self.ids.tolist()

    def index(self, node_id: int) -> int:
        pos = np.flatnonzero(self.ids == node_id)
        if pos.size == 0:
            raise ValueError(f"node {node_id} is not in the NodeCollection")
        return int(pos[0])

    @property
    def global_id(self) -> int | tuple[int, ...]:
        return self.get("global_id")

    @property
    def first(self) -> int:
        return int(self.ids[0])

    @property
    def last(self) -> int:
        return int(self.ids[-1])

    # ------------------------------------------------------------- get / set
    def _groups(self) -> Iterator[tuple[Block, np.ndarray, np.ndarray]]:
        """(block, positions in this collection, offsets inside the block) for every block touched."""
        ids = self.ids
        b = KERNEL.block_index(ids)
        for bi in np.unique(b):
            pos = np.flatnonzero(b == bi)
            block = KERNEL.blocks[bi]
            yield block, pos, ids[pos] - block.first

    def _values(self, key: str) -> list[Any]:
        out: list[Any] = [None] * len(self)
        for block, pos, off in self._groups():
            vals = _block_values(block, key, off)
            for p, v in zip(pos, vals):
                out[p] = v
        return out

    def get(self, *params: str | list[str], output: str = "") -> Any:
        """Parameter values: ``get()`` every one, ``get('V_m')``, ``get('V_m', 'C_m')`` or ``get([...])``.

        One node gives plain values, several give tuples, as in NEST.
        """
        if output:
            raise NotImplementedError(f"NodeCollection.get(output={output!r}) is not supported yet")
        single = len(self) == 1
        if not params:
            keys_ = sorted(set().union(*[_status_keys(b) for b, _, _ in self._groups()]))
        elif len(params) == 1 and isinstance(params[0], str):
            v = self._values(params[0])
            return v[0] if single else tuple(v)
        elif len(params) == 2 and isinstance(params[0], str) and isinstance(params[1], (str, list, tuple)):
            # NEST's nested get: get("events", "V_m") is events["V_m"], get("events", [...]) a dict of them
            inner = [params[1]] if isinstance(params[1], str) else list(params[1])
            outer = self._values(params[0])
            for d in outer:
                if not isinstance(d, dict) or any(k not in d for k in inner):
                    missing = [k for k in inner if not isinstance(d, dict) or k not in d]
                    raise KeyError(f"{params[0]} has no key {missing[0]!r}")
            picked = [d[params[1]] if isinstance(params[1], str) else {k: d[k] for k in inner} for d in outer]
            return picked[0] if single else tuple(picked)
        elif len(params) == 1:
            keys_ = list(params[0])
        else:
            keys_ = list(params)
        vals = {k: self._values(k) for k in keys_}
        return {k: (v[0] if single else tuple(v)) for k, v in vals.items()}

    def set(self, params: dict[str, Any] | list[dict[str, Any]] | None = None, **kwargs: Any) -> None:
        """Set parameters: one value for every node, a list/array with one value per node, or a Parameter."""
        if isinstance(params, (list, tuple)):
            if len(params) != len(self):
                raise ValueError(f"need one dict per node ({len(self)}), got {len(params)}")
            for node, d in zip(self, params):
                node.set(d)
            return
        params = {**(params or {}), **kwargs}
        for block, pos, off in self._groups():
            _set_block(block, {k: _per_node(k, v, pos, len(self), self.ids[pos]) for k, v in params.items()}, off)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name == "spatial":
            raise NotImplementedError("spatial NodeCollections are not supported by cortex_gpu.pynest")
        return self.get(name)

    def __setattr__(self, name: str, value: Any) -> None:
        self.set({name: value})


class ValueCountError(ValueError, IndexError):
    """A per-node list of the wrong length (NEST's Create raises IndexError; a ValueError here as well)."""


def _per_node(key: str, value: Any, pos: np.ndarray, n: int, ids: np.ndarray) -> Any:
    """The value for the nodes at ``pos`` of a collection of ``n``: scalar, list entries or draws."""
    if isinstance(value, Parameter):
        return draw_parameter(value, ids, _purpose(key), f"parameter {key}")
    if key == "tau_syn" and not isinstance(value, Parameter):   # receptor-port models: one list, or one per node
        if _is_one_list(value):
            return value
        if len(value) != n:
            raise ValueError(f"parameter {key}: need one list or {n} lists, got {len(value)}")
        return [list(value[p]) for p in pos]
    if key in ARRAY_PARAMS and (np.ndim(value) == 1 or isinstance(value, str)):
        if np.ndim(value) == 1 and len(value) == n and n > 1 and np.ndim(value[0]) == 1:
            return [list(value[p]) for p in pos]       # one list per node
        return value
    if np.ndim(value) == 0:
        return value
    a = list(value)
    if len(a) != n:
        raise ValueCountError(f"parameter {key}: need a single value or {n} values, got {len(a)}")
    return np.asarray([a[p] for p in pos])


def _status_keys(block: Block) -> list[str]:
    return list(defaults_of(block.model)) + list(_BOOKKEEPING) + (
        ["recordables"] if block.role == "neuron" else []) + (
        ["n_events", "filenames"] if block.role in ("spike_recorder", "multimeter") else []) + (
        # NEST holds events only for record_to 'memory'
        ["events"] if block.role in ("spike_recorder", "multimeter")
        and all(d.params["record_to"] == "memory" for d in block.items) else [])


def _block_values(block: Block, key: str, off: np.ndarray) -> list[Any]:
    """Values of ``key`` for the nodes at offsets ``off`` of ``block``."""
    n = off.size
    if key == "global_id":
        return (block.first + off).tolist()
    if key == "model":
        return [block.model] * n
    if key == "element_type":
        return [element_type(block.role)] * n
    if key == "local":
        return [True] * n
    if key in ("thread", "vp"):
        return [0] * n
    if block.role == "neuron":
        return _neuron_values(block, key, off)
    if block.role == "spike_generator":
        if key in block.items[0]:
            return [(v.copy() if isinstance(v, np.ndarray) else DBL_MAX if key == "stop" and v == np.inf else v)
                    for v in (block.items[i][key] for i in off)]
        raise KeyError(f"{block.model}: unknown parameter '{key}'")     # NEST's get raises KeyError
    out = []
    for i in off:
        dev = block.items[i]
        try:
            out.append(dev.get(key))
        except KeyError:
            raise KeyError(f"{block.model}: unknown parameter '{key}'") from None
    return out


def _built_default(block: Block, key: str) -> float:
    """The value the build gives a parameter the population does not set: the base model's own default.

    Not the layer's current default: ``Create`` copied the ``SetDefaults`` changes of its
    time into the population, and later ones must not change existing nodes.
    """
    m = NEURON_MODELS[block.pop.model]
    return m.defaults[key] if key in m.params else m.state[key][0]


def _neuron_values(block: Block, key: str, off: np.ndarray) -> list[Any]:
    m = NEURON_MODELS[block.pop.model]
    if m.port_param:     # receptor-port models: each node's own tau_syn list
        lists = port_lists(block.pop.params.get(m.port_param, m.port_default), block.pop.n)
        if key == m.port_param:
            return [np.array(lists[o]) for o in off]
        if key == "n_synapses":
            return [len(lists[o]) for o in off]
        if key == "recordables":
            return [recordables_of(m, len(lists[o])) for o in off]
    if key == "recordables":
        return [sorted(m.recordables) for _ in off]
    if key not in m.params and key not in m.state:
        raise KeyError(f"{block.model}: unknown parameter '{key}' "
                       f"(known: {', '.join(sorted(list(m.params) + list(m.state))) })")
    sim = KERNEL.sim
    if key in m.state and sim is not None:
        gids = block.pop.first + off
        local = sim.graph.neurons.gids
        pos, here = locate(local, gids)
        if not here.all():
            far = int(np.flatnonzero(~here)[0])
            owner = int(sim.partition.owner(gids[far:far + 1])[0])
            raise ValueError(f"{key} of node {block.first + int(off[far])} lives on MPI rank {owner}, not on this "
                             f"rank {sim.rank}; under MPI read the state of local nodes only")
        return sim.state(key)[pos].tolist()
    v = block.pop.params.get(key, _built_default(block, key))
    a = np.asarray(v, dtype=float)
    out = (a[off] if a.ndim else np.full(off.size, float(a))).tolist()
    return [bool(x) for x in out] if key in m.params and m.params[key].boolean else out


def _set_block(block: Block, params: dict[str, Any], off: np.ndarray) -> None:
    """Apply per-node-resolved ``params`` to the nodes at offsets ``off`` of ``block``."""
    if block.role == "neuron":
        KERNEL.changing_network(f"setting {', '.join(params)} of {block.model}")
        pop, m = block.pop, NEURON_MODELS[block.pop.model]
        new = {}
        if m.port_param and m.port_param in params:
            params = dict(params)
            _set_ports(block, m, params.pop(m.port_param), off, params)
        for key, value in params.items():
            if key not in m.params and key not in m.state:
                raise UnaccessedDictionaryEntry(f"{block.model}: unknown parameter '{key}' "
                                                f"(known: {', '.join(sorted(list(m.params) + list(m.state)))})")
            full = np.asarray(pop.params.get(key, _built_default(block, key)), dtype=float)
            full = np.broadcast_to(full, (pop.n,)).copy()
            full[off] = np.asarray(value, dtype=float)
            new[key] = full[0] if np.all(full == full[0]) else full
        merged = {**m.defaults, **{k: v for k, v in pop.params.items() if k in m.params},
                  **{k: v for k, v in new.items() if k in m.params}}
        try:
            m.validate(f"{block.model}", {k: np.asarray(v, float) for k, v in merged.items()})
            m.validate(f"{block.model}", {k: np.asarray(v, float) for k, v in new.items()}, full=False)
        except ModelError as e:
            raise ValueError(str(e)) from None
        pop.params.update({k: (float(v) if np.ndim(v) == 0 else v) for k, v in new.items()})
        return
    if block.role == "spike_generator":
        KERNEL.changing_network("setting spike_generator parameters")
        for j, i in enumerate(off):
            mine = {k: (v[j] if k in ARRAY_PARAMS and isinstance(v, list) and off.size > 1 and len(v) == off.size
                        and all(np.ndim(x) == 1 for x in v) else v) for k, v in params.items()}
            state = spike_generator_state(block.model, block.items[i], mine)
            try:
                block.pop.spike_times_ms[i] = KERNEL.net.check_spike_times(block.model, emitted_spike_times(state))
            except ModelError as e:
                raise ValueError(str(e)) from None
            block.items[i] = state
        return
    for j, i in enumerate(off):
        block.items[i].set({k: (v[j] if isinstance(v, np.ndarray) and v.ndim == 1 and v.size == off.size
                                and k not in ARRAY_PARAMS
                                else v[j] if k in ARRAY_PARAMS and isinstance(v, list) and off.size > 1
                                and len(v) == off.size and all(np.ndim(x) == 1 for x in v)
                                else v) for k, v in params.items()})


def _set_ports(block: Block, m, value: Any, off: np.ndarray, others: dict[str, Any]) -> None:
    """Set the receptor-port parameter (``tau_syn``) of the nodes at ``off``: one list for all, or one per node."""
    pop = block.pop
    lists = list(port_lists(pop.params.get(m.port_param, m.port_default), pop.n))
    one = _is_one_list(value)
    given = [tuple(float(x) for x in value)] * off.size if one else [tuple(float(x) for x in v) for v in value]
    if len(given) != off.size:
        raise ValueError(f"{block.model}: {m.port_param} needs one list or one list per node ({off.size})")
    changed = np.array([len(lists[o]) != len(lst) for o, lst in zip(off, given)], bool)
    if changed.any():
        gids = pop.first + off[changed]
        net = KERNEL.net
        targets = [pr.post for pr in net.projections] + [d.targets for d in net.drives]
        if any(np.isin(gids, t).any() for t in targets):
            raise NESTErrors.BadProperty(f"Setting status of a '{block.model}': The neuron has connections, "
                                         "therefore the number of ports cannot be reduced.")
    for o, lst in zip(off, given):
        lists[o] = lst
    try:
        m.validate(block.model, {m.port_param: [lists[o] for o in off]}, full=False)
        tau_m = np.broadcast_to(np.asarray(others.get("tau_m", pop.params.get("tau_m", m.defaults["tau_m"])),
                                           float), (pop.n,))
        vals = {**m.defaults, **{k: v for k, v in pop.params.items() if k in m.params}, "tau_m": tau_m[off]}
        vals = {k: (np.broadcast_to(np.asarray(v, float), (pop.n,))[off] if np.ndim(v) else v)
                for k, v in vals.items()}
        vals["tau_m"] = tau_m[off]
        m.check(block.model, {**vals, m.port_param: [lists[o] for o in off]})
    except ModelError as e:
        raise ValueError(str(e)) from None
    pop.params[m.port_param] = lists[0] if all(x == lists[0] for x in lists) else lists


@timed_as("time_construction_create")
def Create(model: str, n: int = 1, params: dict[str, Any] | list[dict[str, Any]] | None = None,
           positions: Any = None) -> NodeCollection:
    """Create ``n`` nodes of ``model``; ``params`` is a dict (scalars, per-node lists/arrays, Parameters) or a list of dicts.

    Raises
    ------
    NotImplementedError
        For an unsupported model or spatial ``positions``.
    ValueError
        For an unknown parameter or a bad value.
    """
    if isinstance(n, dict):
        # NEST keeps Create(model, params) working for backward compatibility
        if params is not None or positions is not None:
            raise ValueError("A parameter dictionary can be passed as second argument only if Create() "
                            "is called with two arguments.")
        n, params = 1, n
    if positions is not None:
        raise NotImplementedError("Create(positions=...): spatial networks are not supported by cortex_gpu.pynest")
    role = role_of(model)
    if int(n) != n or n < 1:
        raise ValueError(f"Create: n must be a positive integer, got {n}")
    n = int(n)
    KERNEL.changing_network(f"Create({model!r})")
    if isinstance(params, (list, tuple)) and (len(params) != n or not all(isinstance(d, dict) for d in params)):
        raise TypeError(f"list of params must have one dictionary per node (Create: {n} nodes, got {len(params)})")
    if params is not None and not isinstance(params, (dict, list, tuple)):
        raise TypeError(f"params must be a dict or a list of dicts, got {type(params).__name__}")
    block = Block(model, role, 0, n)
    if role == "neuron":
        # V_m is stored absolute and given explicitly: NEST keeps the absolute V_m when
        # E_L is set without V_m, while the core would start a population at E_L.
        defaults = defaults_of(model)
        try:
            # a copied model's nodes are neurons of its base model with the copy's defaults
            block.pop = KERNEL.net.add_population(base_model(model), n,
                                                  {"V_m": defaults["V_m"]} if "V_m" in defaults else {})
        except ModelError as e:
            raise ValueError(str(e)) from None
        block.pop.params.update({k: v for k, v in KERNEL.model_defaults.get(model, {}).items()})
    elif role == "spike_generator":
        block.pop = KERNEL.net.add_population(base_model(model), n, spike_times_ms=[np.zeros(0)] * n)
        # a copy's defaults are checked as if set: spike times on the grid, lengths matching
        block.items = [spike_generator_state(model, DEVICE_DEFAULTS[base_model(model)], defaults_of(model))
                       for _ in range(n)]
        block.pop.spike_times_ms = [emitted_spike_times(s) for s in block.items]
    else:
        block.items = [make_device(model, role, {}) for _ in range(n)]
    KERNEL.add_block(block)
    nodes = NodeCollection(np.arange(block.first, block.first + n))
    if params:
        nodes.set(params)
    return nodes


def GetStatus(nodes: Any, keys: str | list[str] | None = None, output: str = "") -> tuple:
    """Status of nodes or connections in NEST 3.9's format, built from ``get`` as NEST 3.10 does.

    A tuple with one dict per element (``keys`` None), or what ``get(keys)``
    gives for a string key (a 1-tuple for one element), or one tuple of values
    per element for a list of keys.
    """
    from .connect import SynapseCollection
    if not isinstance(nodes, (NodeCollection, SynapseCollection)):
        raise TypeError("GetStatus needs a NodeCollection or a SynapseCollection")
    if output:
        raise NotImplementedError(f"GetStatus(output={output!r}) is not supported yet")
    n = len(nodes)
    if n == 0:
        return ()
    if keys:
        result = nodes.get(keys)
        if isinstance(keys, str):
            return (result,) if n == 1 else result
        return (tuple(result.values()),) if n == 1 else tuple(zip(*result.values()))
    result = nodes.get()
    return (result,) if n == 1 else tuple({k: v[j] for k, v in result.items()} for j in range(n))


def SetStatus(nodes: NodeCollection, params: dict[str, Any] | list[dict[str, Any]] | str,
              val: Any = None) -> None:
    """Set parameters of nodes: a dict for all, a list of dicts (one per node) or ``key, value``."""
    if isinstance(params, str):
        params = {params: val}
    from .connect import SynapseCollection
    if not isinstance(nodes, (NodeCollection, SynapseCollection)):
        raise TypeError("SetStatus needs a NodeCollection or a SynapseCollection")
    nodes.set(params)
