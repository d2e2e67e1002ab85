"""Node and synapse models of the PyNEST layer: roles, defaults, ``Models``, ``GetDefaults``, ``SetDefaults``."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..models import NEURON_MODELS
from .kernel import KERNEL

__all__ = [
    "DEVICE_DEFAULTS", "ARRAY_PARAMS", "DBL_MAX", "role_of", "node_model_names", "defaults_of",
    "Models", "GetDefaults", "SetDefaults", "CopyModel",
]

#: NEST reports an open-ended ``stop`` as the largest double.
DBL_MAX = float(np.finfo(float).max)

_RECORDER = {"start": 0.0, "stop": np.inf, "origin": 0.0, "label": "", "record_to": "memory",
             "time_in_steps": False}
_METER = {**_RECORDER, "interval": 1.0, "offset": 0.0}

#: Parameters (and their defaults) of every device model, as NEST names them.
DEVICE_DEFAULTS: dict[str, dict[str, Any]] = {
    "spike_generator": {"spike_times": np.zeros(0), "start": 0.0, "stop": np.inf, "origin": 0.0,
                        "allow_offgrid_times": False, "precise_times": False, "shift_now_spikes": False,
                        "spike_weights": np.zeros(0), "spike_multiplicities": np.zeros(0)},
    "poisson_generator": {"rate": 0.0, "start": 0.0, "stop": np.inf, "origin": 0.0},
    "dc_generator": {"amplitude": 0.0, "start": 0.0, "stop": np.inf, "origin": 0.0},
    "spike_recorder": dict(_RECORDER),
    "multimeter": {**_METER, "record_from": []},
    "voltmeter": {**_METER, "record_from": ["V_m"]},
}

#: Device parameters whose value is a list: a list given for them is one value for every node.
ARRAY_PARAMS = frozenset({"spike_times", "spike_weights", "spike_multiplicities", "record_from"})

_ROLES = {"spike_generator": "spike_generator", "poisson_generator": "generator",
          "dc_generator": "generator", "spike_recorder": "spike_recorder",
          "multimeter": "multimeter", "voltmeter": "multimeter"}
_ELEMENT_TYPES = {"neuron": "neuron", "spike_generator": "stimulator", "generator": "stimulator",
                  "spike_recorder": "recorder", "multimeter": "recorder"}
_SYNAPSE_DEFAULTS = {"weight": 1.0, "delay": 1.0}


def node_model_names() -> list[str]:
    """Every node model ``Create`` accepts, sorted."""
    return sorted(list(NEURON_MODELS) + list(DEVICE_DEFAULTS))


def role_of(model: str) -> str:
    """``neuron``, ``spike_generator``, ``generator``, ``spike_recorder`` or ``multimeter``.

    Raises
    ------
    NotImplementedError
        For any model this layer does not provide, naming it.
    """
    if not isinstance(model, str):
        raise TypeError(f"model name must be a string, got {type(model).__name__}")
    if model in NEURON_MODELS:
        return "neuron"
    if model in _ROLES:
        return _ROLES[model]
    raise NotImplementedError(f"model '{model}' is not supported by cortex_gpu.pynest "
                              f"(supported: {', '.join(node_model_names())}, static_synapse)")


def element_type(role: str) -> str:
    return _ELEMENT_TYPES[role]


def defaults_of(model: str) -> dict[str, Any]:
    """Current defaults of a node or synapse model, including ``SetDefaults`` changes."""
    if model == "static_synapse":
        base = dict(_SYNAPSE_DEFAULTS)
    elif role_of(model) == "neuron":
        m = NEURON_MODELS[model]
        base = {**m.defaults, **{k: v[0] for k, v in m.state.items()}}
        base["V_m"] = base["E_L"]
    else:
        base = {k: (v.copy() if isinstance(v, np.ndarray) else list(v) if isinstance(v, list) else v)
                for k, v in DEVICE_DEFAULTS[model].items()}
    base.update(KERNEL.model_defaults.get(model, {}))
    return base


def _public(model: str, values: dict[str, Any]) -> dict[str, Any]:
    """Defaults as ``GetDefaults`` reports them (with NEST's bookkeeping keys)."""
    out = {k: (DBL_MAX if k == "stop" and v == np.inf else v) for k, v in values.items()}
    if model == "static_synapse":
        out.update(synapse_model=model, element_type="synapse", has_delay=True, receptor_type=0)
        return out
    role = role_of(model)
    out.update(model=model, element_type=element_type(role))
    if role == "neuron":
        out["recordables"] = sorted(NEURON_MODELS[model].state)
    return dict(sorted(out.items()))


def Models(mtype: str = "all", sel: str | None = None) -> tuple[str, ...]:
    """Names of the models: ``mtype`` 'all', 'nodes' or 'synapses'; ``sel`` keeps names containing it."""
    if mtype not in ("all", "nodes", "synapses"):
        raise ValueError(f"mtype must be 'all', 'nodes' or 'synapses', got {mtype!r}")
    names = []
    if mtype in ("all", "nodes"):
        names += node_model_names()
    if mtype in ("all", "synapses"):
        names.append("static_synapse")
    if sel is not None:
        names = [n for n in names if sel in n]
    return tuple(sorted(names))


def GetDefaults(model: str, keys: str | list[str] | None = None, output: str = "") -> Any:
    """Defaults of ``model``: a dict, one value (``keys`` a string) or a list of values."""
    if output:
        raise NotImplementedError(f"GetDefaults(output={output!r}) is not supported yet")
    d = _public(model, defaults_of(model))
    if keys is None:
        return d
    for k in [keys] if isinstance(keys, str) else keys:
        if k not in d:
            raise KeyError(k)
    return d[keys] if isinstance(keys, str) else [d[k] for k in keys]


def SetDefaults(model: str, params: dict[str, Any] | str, val: Any = None) -> None:
    """Change the defaults of ``model`` for nodes and connections created afterwards.

    Works for the neuron models, the devices and ``static_synapse``
    (``weight``, ``delay``); values must be scalars (or lists for list-valued
    device parameters such as ``record_from``).
    """
    if isinstance(params, str):
        params = {params: val}
    KERNEL.changing_network(f"SetDefaults({model!r})")
    known = defaults_of(model)
    new = dict(KERNEL.model_defaults.get(model, {}))
    for key, value in params.items():
        if key not in known:
            raise ValueError(f"SetDefaults: unknown parameter '{key}' for model {model} "
                             f"(known: {', '.join(sorted(known))})")
        if model == "static_synapse" or role_of(model) == "neuron":
            if np.ndim(value) != 0 or not isinstance(value, (int, float, np.number)):
                raise NotImplementedError(f"SetDefaults({model!r}): only numbers are supported for '{key}'")
            value = float(value)
            if not np.isfinite(value):
                raise ValueError(f"SetDefaults({model!r}): {key} must be finite, got {value}")
        new[key] = value
    if model in NEURON_MODELS:
        m = NEURON_MODELS[model]
        merged = {**m.defaults, **{k: v for k, v in new.items() if k in m.params}}
        m.validate(f"SetDefaults({model!r})", {k: np.asarray(v, float) for k, v in merged.items()})
    if model == "static_synapse" and "delay" in new:
        h = KERNEL.resolution
        if new["delay"] < 0.5 * h:
            raise ValueError(f"SetDefaults('static_synapse'): delay {new['delay']} ms is below the "
                             f"resolution {h} ms")
    KERNEL.model_defaults[model] = new


def CopyModel(existing: str, new: str, params: dict[str, Any] | None = None) -> None:
    """Not supported: raises :class:`NotImplementedError`."""
    raise NotImplementedError("CopyModel is not supported yet")
