"""Node and synapse models of the PyNEST layer: roles, defaults, Models, GetDefaults, SetDefaults, CopyModel.

Synapse models are the core network's (``static_synapse``,
``stdp_pl_synapse_hom``), NEST's ``_hpc`` twins of them, and copies made
with ``CopyModel``. Their defaults are of two kinds, as in NEST: ``weight``
and ``delay`` are per-connection values that ``Connect`` starts from (kept
here, in ``KERNEL.model_defaults``), while the plasticity parameters of a
``_hom`` model (``tau_plus``, ``lambda``, ``alpha``, ``mu``) are common to
all its connections and live in the core network's synapse-model table
(:meth:`cortex_gpu.network.Network.set_synapse_defaults`). A copy of a
neuron model is a name for the base model with its own defaults: its nodes
are neurons of the base model, reported under the copy's name.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..models import NEURON_MODELS, ModelError
from ..network import GENERATOR_KINDS, SYNAPSE_MODELS
from .kernel import KERNEL
from .errors import UnaccessedDictionaryEntry

__all__ = [
    "DEVICE_DEFAULTS", "ARRAY_PARAMS", "DBL_MAX", "role_of", "node_model_names", "defaults_of",
    "synapse_model_names", "is_synapse_model", "base_model", "Models", "GetDefaults", "SetDefaults", "CopyModel",
    "SYNAPSE_CONNECTION_KEYS", "recordables_of",
]

#: NEST reports an open-ended ``stop`` as the largest double.
DBL_MAX = float(np.finfo(float).max)

_RECORDER = {"start": 0.0, "stop": np.inf, "origin": 0.0, "label": "", "record_to": "memory", "precision": 3,
             "time_in_steps": False}
_METER = {**_RECORDER, "interval": 1.0, "offset": 0.0}

#: Parameters (and their defaults) of every device model, as NEST names them.
DEVICE_DEFAULTS: dict[str, dict[str, Any]] = {
    "spike_generator": {"spike_times": np.zeros(0), "start": 0.0, "stop": np.inf, "origin": 0.0,
                        "allow_offgrid_times": False, "precise_times": False, "shift_now_spikes": False,
                        "spike_weights": np.zeros(0), "spike_multiplicities": np.zeros(0)},
    "poisson_generator": {"rate": 0.0, "start": 0.0, "stop": np.inf, "origin": 0.0},
    "dc_generator": {"amplitude": 0.0, "start": 0.0, "stop": np.inf, "origin": 0.0},
    **{m: dict(GENERATOR_KINDS[m]) for m in ("step_current_generator", "ac_generator", "noise_generator",
                                             "sinusoidal_poisson_generator", "pulsepacket_generator")},
    "spike_recorder": dict(_RECORDER),
    "multimeter": {**_METER, "record_from": []},
    "voltmeter": {**_METER, "record_from": ["V_m"]},
}

#: Device parameters whose value is a list: a list given for them is one value for every node.
ARRAY_PARAMS = frozenset({"spike_times", "spike_weights", "spike_multiplicities", "record_from", "amplitude_times",
                          "amplitude_values", "pulse_times"})

_ROLES = {"spike_generator": "spike_generator", "poisson_generator": "generator",
          "dc_generator": "generator", "step_current_generator": "generator", "ac_generator": "generator",
          "noise_generator": "generator", "sinusoidal_poisson_generator": "generator",
          "pulsepacket_generator": "generator",
          "spike_recorder": "spike_recorder",
          "multimeter": "multimeter", "voltmeter": "multimeter"}
_ELEMENT_TYPES = {"neuron": "neuron", "spike_generator": "stimulator", "generator": "stimulator",
                  "spike_recorder": "recorder", "multimeter": "recorder"}
#: Per-connection defaults of every synapse model (pA, ms), as NEST's.
_SYNAPSE_DEFAULTS = {"weight": 1.0, "delay": 1.0}
#: Synapse-model defaults that are per connection (the rest are common to the model).
SYNAPSE_CONNECTION_KEYS = frozenset(_SYNAPSE_DEFAULTS)
#: NEST synapse models this layer does not provide (errors name them as unsupported, not unknown).
_NEST_ONLY_SYNAPSES = frozenset("""
bernoulli_synapse clopath_synapse cont_delay_synapse diffusion_connection gap_junction ht_synapse
jonke_synapse quantal_stp_synapse rate_connection_delayed rate_connection_instantaneous
static_synapse_hom_w stdp_dopamine_synapse stdp_facetshw_synapse_hom stdp_nn_pre_centered_synapse stdp_synapse_lbl
stdp_nn_restr_synapse stdp_nn_symm_synapse stdp_pl_synapse_hom_lbl stdp_synapse_hom_lbl
stdp_triplet_synapse tsodyks2_synapse tsodyks_synapse tsodyks_synapse_hom urbanczik_synapse
vogels_sprekeler_synapse""".split())


def node_model_names() -> list[str]:
    """Every node model ``Create`` accepts (copies included), sorted."""
    return sorted(list(NEURON_MODELS) + list(DEVICE_DEFAULTS) + list(KERNEL.node_copies))


def synapse_model_names() -> list[str]:
    """Every synapse model ``Connect`` accepts (built-in, ``_hpc`` twins, copies), sorted."""
    return sorted(KERNEL.synapse_registry)


def is_synapse_model(model: str) -> bool:
    return isinstance(model, str) and model in KERNEL.synapse_registry


def base_model(model: str) -> str:
    """The built-in node model a (possibly copied) node model stands for."""
    return KERNEL.node_copies.get(model, model)


def role_of(model: str) -> str:
    """``neuron``, ``spike_generator``, ``generator``, ``spike_recorder`` or ``multimeter``.

    Raises
    ------
    NotImplementedError
        For any model this layer does not provide, naming it.
    """
    if not isinstance(model, str):
        raise TypeError(f"model name must be a string, got {type(model).__name__}")
    model = base_model(model)
    if model in NEURON_MODELS:
        return "neuron"
    if model in _ROLES:
        return _ROLES[model]
    if is_synapse_model(model):
        raise ValueError(f"'{model}' is a synapse model, not a node model")
    raise NotImplementedError(f"model '{model}' is not supported by cortex_gpu.pynest "
                              f"(supported: {', '.join(node_model_names())}, {', '.join(synapse_model_names())})")


def element_type(role: str) -> str:
    return _ELEMENT_TYPES[role]


def defaults_of(model: str) -> dict[str, Any]:
    """Current defaults of a node or synapse model, including ``SetDefaults`` and ``CopyModel`` changes."""
    if is_synapse_model(model):
        return {**_SYNAPSE_DEFAULTS, **KERNEL.synapse_registry[model][1], **KERNEL.model_defaults.get(model, {})}
    if role_of(model) == "neuron":
        m = NEURON_MODELS[base_model(model)]
        base = {**{k: (bool(p.default) if p.boolean else p.default) for k, p in m.params.items()},
                **{k: v[0] for k, v in m.state.items()}}
        if m.port_param:    # receptor-port models: NEST reports tau_syn as an array and n_synapses
            base[m.port_param] = np.array(m.port_default)
        if "V_m" in m.state:
            base["V_m"] = base["E_L"]
    else:
        base = {k: (v.copy() if isinstance(v, np.ndarray) else list(v) if isinstance(v, list) else v)
                for k, v in DEVICE_DEFAULTS[base_model(model)].items()}
    base.update(KERNEL.model_defaults.get(model, {}))
    return base


def _public(model: str, values: dict[str, Any]) -> dict[str, Any]:
    """Defaults as ``GetDefaults`` reports them (with NEST's bookkeeping keys)."""
    out = {k: (DBL_MAX if k == "stop" and v == np.inf else v) for k, v in values.items()}
    if is_synapse_model(model):
        # NEST keeps a delay as whole steps and reports steps * resolution (1.7 -> 1.7000000000000002)
        out["delay"] = int(round(out["delay"] / KERNEL.resolution)) * KERNEL.resolution
        out.update(synapse_model=model, element_type="synapse", has_delay=True, receptor_type=0)
        from .connect import GetConnections   # here: connect imports this module
        out["num_connections"] = len(GetConnections(synapse_model=model))
        return dict(sorted(out.items()))
    role = role_of(model)
    out.update(model=model, element_type=element_type(role))
    if role == "neuron" and NEURON_MODELS[base_model(model)].state:     # NEST lists none for parrots
        m = NEURON_MODELS[base_model(model)]
        out["recordables"] = recordables_of(m, len(values[m.port_param]) if m.port_param else 0)
        if m.port_param:
            out["n_synapses"] = len(values[m.port_param])
    return dict(sorted(out.items()))


def Models(mtype: str = "all", sel: str | None = None) -> tuple[str, ...]:
    """Names of the models: ``mtype`` 'all', 'nodes' or 'synapses'; ``sel`` keeps names containing it."""
    if mtype not in ("all", "nodes", "synapses"):
        raise ValueError(f"mtype must be 'all', 'nodes' or 'synapses', got {mtype!r}")
    names = []
    if mtype in ("all", "nodes"):
        names += node_model_names()
    if mtype in ("all", "synapses"):
        names += synapse_model_names()
    if sel is not None:
        names = [n for n in names if sel in n]
    return tuple(sorted(names))


def GetDefaults(model: str, keys: str | list[str] | None = None, output: str = "") -> Any:
    """Defaults of ``model``: a dict, one value (``keys`` a string) or a list of values."""
    if output:
        raise NotImplementedError(f"GetDefaults(output={output!r}) is not supported yet")
    d = _public(model, defaults_of(model))
    if is_synapse_model(model):
        from .connect import GetConnections      # connect imports this module
        d["num_connections"] = len(GetConnections(synapse_model=model))
    if keys is None:
        return d
    for k in [keys] if isinstance(keys, str) else keys:
        if k not in d:
            raise KeyError(k)
    return d[keys] if isinstance(keys, str) else [d[k] for k in keys]


def SetDefaults(model: str, params: dict[str, Any] | str, val: Any = None) -> None:
    """Change the defaults of ``model`` for nodes and connections created afterwards.

    Works for the neuron models (and their copies), the devices and the
    synapse models: ``weight`` and ``delay`` of any synapse model, and the
    common parameters of a plastic one (``tau_plus``, ``lambda``, ``alpha``,
    ``mu`` of ``stdp_pl_synapse_hom``), which apply to all its connections
    and are fixed once a connection uses them. Values must be scalars (or
    lists for list-valued device parameters such as ``record_from``).
    """
    if isinstance(params, str):
        params = {params: val}
    KERNEL.changing_network(f"SetDefaults({model!r})")
    if is_synapse_model(model):
        _set_synapse_defaults(model, params)
        return
    known = defaults_of(model)
    new = dict(KERNEL.model_defaults.get(model, {}))
    for key, value in params.items():
        if key not in known:
            raise UnaccessedDictionaryEntry(f"SetDefaults: unknown parameter '{key}' for model {model} "
                                            f"(known: {', '.join(sorted(known))})")
        if role_of(model) == "neuron":
            m = NEURON_MODELS[base_model(model)]
            if key == m.port_param and key:   # receptor-port models: a list of time constants
                try:
                    m.validate(f"SetDefaults({model!r})", {key: [float(x) for x in np.ravel(value)]}, full=False)
                except ModelError as e:
                    raise ValueError(str(e)) from None
                value = np.asarray(value, float).ravel().copy()
            else:
                value = _number(model, key, value)
        new[key] = value
    base = base_model(model)
    if base in NEURON_MODELS:
        m = NEURON_MODELS[base]
        merged = {**m.defaults, **{k: v for k, v in new.items() if k in m.params}}
        m.validate(f"SetDefaults({model!r})", {k: np.asarray(v, float) for k, v in merged.items()})
    KERNEL.model_defaults[model] = new


def recordables_of(m, n_ports: int) -> list[str]:
    """NEST's recordables of a neuron of model ``m`` with ``n_ports`` receptor ports, sorted as NEST lists them."""
    return sorted(list(m.recordables) + [f"I_syn_{k}" for k in range(1, n_ports + 1)])


def _number(model: str, key: str, value: Any) -> float:
    """A finite float for a numeric default, or a clear error."""
    if np.ndim(value) != 0 or not isinstance(value, (int, float, np.number)):
        raise NotImplementedError(f"SetDefaults({model!r}): only numbers are supported for '{key}'")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"SetDefaults({model!r}): {key} must be finite, got {value}")
    return value


def _set_synapse_defaults(model: str, params: dict[str, Any]) -> None:
    """``weight``/``delay`` into the layer's defaults; common parameters into the core network."""
    known = defaults_of(model)
    per_conn, common = {}, {}
    for key, value in params.items():
        if key not in known:
            raise UnaccessedDictionaryEntry(f"SetDefaults: unknown parameter '{key}' for synapse model "
                                            f"{model} (known: {', '.join(sorted(known))})")
        (per_conn if key in SYNAPSE_CONNECTION_KEYS else common)[key] = _number(model, key, value)
    if "delay" in per_conn and per_conn["delay"] < 0.5 * KERNEL.resolution:
        raise ValueError(f"SetDefaults({model!r}): delay {per_conn['delay']} ms is below the "
                         f"resolution {KERNEL.resolution} ms")
    if common:
        try:
            KERNEL.net.set_synapse_defaults(model, common)
        except ModelError as e:
            raise ValueError(str(e)) from None
    if per_conn:
        KERNEL.model_defaults[model] = {**KERNEL.model_defaults.get(model, {}), **per_conn}


def CopyModel(existing: str, new: str, params: dict[str, Any] | None = None) -> None:
    """Make ``new`` a copy of ``existing`` with the defaults of ``existing`` changed by ``params``.

    For a neuron or device model, ``Create(new)`` then makes nodes of the base
    model with these defaults, reported (and, for recorders, writing files) under the copy's name; for a synapse model, ``Connect`` with
    ``synapse_model=new`` uses the copy's weight, delay and (for a plastic
    model) its own common parameters. Later changes to ``existing`` do not
    reach the copy, as in NEST.

    Raises
    ------
    ValueError
        If ``new`` names a model that exists, or for a bad parameter.
    NotImplementedError
        For copies of models this layer does not provide.
    """
    params = dict(params or {})
    if not isinstance(new, str) or not new:
        raise ValueError(f"CopyModel: the new model name must be a non-empty string, got {new!r}")
    if new in node_model_names() or is_synapse_model(new) or new in _NEST_ONLY_SYNAPSES:
        raise ValueError(f"CopyModel: a model named '{new}' exists already")
    KERNEL.changing_network(f"CopyModel({existing!r}, {new!r})")
    if is_synapse_model(existing):
        known = defaults_of(existing)
        for key in params:
            if key not in known:
                raise UnaccessedDictionaryEntry(f"CopyModel: unknown parameter '{key}' for synapse model "
                                                f"{existing} (known: {', '.join(sorted(known))})")
        KERNEL.net.copy_synapse_model(existing, new)
        KERNEL.model_defaults[new] = dict(KERNEL.model_defaults.get(existing, {}))
        try:
            _set_synapse_defaults(new, params)
        except Exception:
            del KERNEL.synapse_registry[new]
            KERNEL.model_defaults.pop(new, None)
            raise
        return
    if existing in _NEST_ONLY_SYNAPSES:
        raise NotImplementedError(f"CopyModel: synapse model '{existing}' is not supported by cortex_gpu.pynest "
                                  f"(supported: {', '.join(synapse_model_names())})")
    role_of(existing)       # raises for a model this layer does not provide
    KERNEL.node_copies[new] = base_model(existing)
    KERNEL.model_defaults[new] = dict(KERNEL.model_defaults.get(existing, {}))
    try:
        if params:
            SetDefaults(new, params)
    except Exception:
        del KERNEL.node_copies[new]
        KERNEL.model_defaults.pop(new, None)
        raise
