"""Stimulation and recording devices of the PyNEST layer: their parameters, connections and events.

A ``poisson_generator`` or ``dc_generator`` node is one core
:class:`~cortex_gpu.network.Generator`; its parameters may change between
``Simulate`` calls. Recorders collect the core gids connected to them and
become core recorders when the first ``Simulate`` builds the network; their
events are reported in NEST node ids.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..models import ModelError
from ..network import Generator, Multimeter, SpikeRecorder, delay_to_steps
from ..record import RECORDABLE_CODES
from .kernel import KERNEL
from .models import DBL_MAX, defaults_of

__all__ = ["TICS_PER_MS", "nest_times", "GeneratorDevice", "SpikeRecorderDevice", "MultimeterDevice", "make_device",
           "materialise_recorders"]

#: Recorder settings that must keep their defaults (anything else raises).
_FIXED_RECORDER = {"record_to": "memory", "time_in_steps": False}
#: Multimeter settings this layer cannot honour yet unless left at the default.
_FIXED_METER = {"start": 0.0, "stop": np.inf, "origin": 0.0, "offset": 0.0}


def _nest_ids(gids: np.ndarray) -> np.ndarray:
    return KERNEL.nest_of_gid[np.asarray(gids, np.int64)]


#: NEST's clock: times are whole tics of 1 us (``tics_per_ms`` = 1000).
TICS_PER_MS = 1000


def nest_times(times_ms: np.ndarray) -> np.ndarray:
    """Times on the step grid as NEST computes them (tics times ms-per-tic), bit for bit.

    ``step * h`` can differ from NEST's value in the last bit; NEST reports
    ``tics * (1 / tics_per_ms)`` with ``tics = step * tics_per_step``.
    """
    h = KERNEL.resolution
    steps = np.rint(np.asarray(times_ms, float) / h).astype(np.int64)
    return steps * int(round(h * TICS_PER_MS)) * (1.0 / TICS_PER_MS)


def _public(value: Any, key: str) -> Any:
    """A value as NEST reports it: open-ended ``stop`` as the largest double."""
    return DBL_MAX if key == "stop" and value == np.inf else value


def _min_delay_steps() -> int:
    """NEST's ``min_delay`` in steps: the smallest delay of any connection, devices' included."""
    h = KERNEL.resolution
    delays = [int(delay_to_steps(d.delay_ms, h)) for d in KERNEL.net.drives]
    delays += [int(delay_to_steps(c[3], h).min()) for c in KERNEL.device_conns if c[3].size]
    report = KERNEL.sim.report if KERNEL.sim is not None else None
    if report is not None and report.n_synapses:
        delays.append(int(report.min_delay_steps))
    return max(min(delays), 1) if delays else 1


def _check_keys(model: str, params: dict[str, Any]) -> None:
    known = defaults_of(model)
    for key in params:
        if key not in known:
            raise ValueError(f"{model}: unknown parameter '{key}' (known: {', '.join(sorted(known))})")


def _stop(value: Any) -> float:
    """NEST's largest double means 'never stop'."""
    v = float(value)
    return np.inf if v >= DBL_MAX else v


@dataclass
class GeneratorDevice:
    """A ``poisson_generator`` (rate in Hz) or ``dc_generator`` (amplitude in pA), with start/stop/origin (ms).

    ``params`` are the values as set (what ``get`` reports); the core
    generator follows them, after the connection delay for changes made
    between ``Simulate`` calls (see :meth:`set`).
    """

    model: str
    gen: Generator
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.params = dict(self.gen.params)

    def get(self, key: str) -> Any:
        return _public(self.params[key], key)

    def status(self) -> dict[str, Any]:
        return {k: _public(v, k) for k, v in self.params.items()}

    def set(self, params: dict[str, Any]) -> None:
        """Change parameters; after Simulate the targets see the change one connection delay later.

        In NEST a generator's output at step ``T`` reaches its targets at
        ``T + delay``, so what is already on its way keeps the old values.

        Raises
        ------
        NotImplementedError
            After Simulate, for a generator whose connections have several delays.
        """
        _check_keys(self.model, params)
        values = {k: (_stop(v) if k == "stop" else v) for k, v in params.items()}
        trial = Generator(self.gen.id, self.model, dict(self.params))
        KERNEL.net.set_generator(trial, values)          # checks the values, raises ValueError
        sim = KERNEL.sim
        if sim is None:
            KERNEL.net.set_generator(self.gen, values)
        else:
            delays = {int(delay_to_steps(d.delay_ms, KERNEL.resolution))
                      for d in KERNEL.net.drives if d.generator is self.gen}
            if len(delays) > 1:
                raise NotImplementedError(
                    f"{self.model}: changing parameters after Simulate is supported only when all of the "
                    "generator's connections have the same delay")
            KERNEL.pending.append((sim.step + (delays.pop() if delays else 0), self.gen.id, values))
        self.params = dict(trial.params)


class _RecorderStatus:
    """``get``/``status`` shared by the recording devices: their parameters plus ``events``, ``n_events``."""

    params: dict[str, Any]

    def events(self) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def get(self, key: str) -> Any:
        if key == "events":
            return self.events()
        if key == "n_events":
            return int(self.events()["times"].size)
        return _public(self.params[key], key)

    def status(self) -> dict[str, Any]:
        out = {k: _public(v, k) for k, v in self.params.items()}
        out["n_events"] = self.get("n_events")
        out["events"] = self.events()
        return out


@dataclass
class SpikeRecorderDevice(_RecorderStatus):
    """A ``spike_recorder``: the core gids it records and, after the first Simulate, its core recorder."""

    params: dict[str, Any]
    sources: list[np.ndarray] = field(default_factory=list)
    core: SpikeRecorder | None = None

    model = "spike_recorder"

    def set(self, params: dict[str, Any]) -> None:
        _check_keys(self.model, params)
        if KERNEL.sim is not None:
            raise NotImplementedError("changing a spike_recorder's parameters after Simulate is not "
                                      "supported yet; call ResetKernel")
        for key, value in params.items():
            if key in _FIXED_RECORDER and value != _FIXED_RECORDER[key]:
                raise NotImplementedError(f"spike_recorder: {key}={value!r} is not supported "
                                          f"(only {_FIXED_RECORDER[key]!r})")
            if key in ("start", "stop", "origin"):
                value = _stop(value) if key == "stop" else float(value)
                if np.isnan(value):
                    raise ValueError(f"spike_recorder: {key} must be a number, got {value}")
            self.params[key] = value
        if self.params["stop"] < self.params["start"]:
            raise ValueError("spike_recorder: stop must not be before start")

    def events(self) -> dict[str, np.ndarray]:
        """``senders`` (NEST ids) and ``times`` (ms) of the spikes in (origin+start, origin+stop]."""
        if self.core is None or KERNEL.sim is None:
            return {"senders": np.zeros(0, np.int64), "times": np.zeros(0)}
        ev = KERNEL.sim.spike_events(self.core)
        t0 = self.params["origin"] + self.params["start"]
        t1 = self.params["origin"] + self.params["stop"]
        keep = (ev["times"] > t0) & (ev["times"] <= t1)
        return {"senders": _nest_ids(ev["senders"][keep]), "times": nest_times(ev["times"][keep])}


@dataclass
class MultimeterDevice(_RecorderStatus):
    """A ``multimeter`` or ``voltmeter``: ``record_from`` of its targets every ``interval`` ms."""

    model: str
    params: dict[str, Any]
    targets: list[np.ndarray] = field(default_factory=list)
    core: Multimeter | None = None

    def set(self, params: dict[str, Any]) -> None:
        _check_keys(self.model, params)
        if KERNEL.sim is not None:
            raise NotImplementedError(f"changing a {self.model}'s parameters after Simulate is not "
                                      "supported yet; call ResetKernel")
        for key, value in params.items():
            fixed = {**_FIXED_RECORDER, **_FIXED_METER}
            if key in fixed and value != fixed[key] and not (key == "stop" and _stop(value) == np.inf):
                raise NotImplementedError(f"{self.model}: {key}={value!r} is not supported yet "
                                          f"(only {fixed[key]!r})")
            if key == "interval":
                value = float(value)
                h = KERNEL.resolution
                steps = value / h
                if not value > 0 or abs(steps - round(steps)) > 1e-9 * steps:
                    raise ValueError(f"{self.model}: interval {value} ms must be a positive multiple "
                                     f"of the resolution {h} ms")
            if key == "record_from":
                value = [value] if isinstance(value, str) else list(value)
                for name in value:
                    if name not in RECORDABLE_CODES:
                        raise ValueError(f"{self.model}: cannot record '{name}' "
                                         f"(recordables: {', '.join(sorted(RECORDABLE_CODES))})")
            self.params[key] = value

    def events(self) -> dict[str, np.ndarray]:
        """``senders`` (NEST ids), ``times`` (ms) and one array per recorded variable."""
        empty = {"senders": np.zeros(0, np.int64), "times": np.zeros(0),
                 **{k: np.zeros(0) for k in self.params["record_from"]}}
        if self.core is None or KERNEL.sim is None:
            return empty
        sim = KERNEL.sim
        ev = sim.multimeter_events(self.core)
        # NEST hands a node's samples to the meter one min-delay slice late: after
        # Simulate, samples after the start of the last slice appear only with the next one.
        md = _min_delay_steps()
        last_slice_start = ((sim.step - 1) // md) * md if sim.step > 0 else 0
        keep = np.rint(ev["times"] / KERNEL.resolution) <= last_slice_start
        out = {k: np.asarray(v)[keep] for k, v in ev.items()}
        out["senders"] = _nest_ids(out["senders"])
        out["times"] = nest_times(out["times"])
        return out


def make_device(model: str, role: str, params: dict[str, Any]):
    """A device object of ``role`` for one node of ``model`` with ``params`` already checked per node."""
    if role == "generator":
        base = {k: v for k, v in defaults_of(model).items()}
        base.update({k: (_stop(v) if k == "stop" else v) for k, v in params.items()})
        _check_keys(model, params)
        return GeneratorDevice(model, KERNEL.net.add_generator(model, base))
    base = defaults_of(model)
    if role == "spike_recorder":
        dev = SpikeRecorderDevice(base)
    else:
        dev = MultimeterDevice(model, base)
        dev.params["record_from"] = list(dev.params["record_from"])
    dev.set(params)
    return dev


def materialise_recorders() -> None:
    """Turn every connected recorder into a core recorder (the first Simulate calls this)."""
    net = KERNEL.net
    for block in KERNEL.blocks:
        for dev in block.items:
            if isinstance(dev, SpikeRecorderDevice) and dev.sources and dev.core is None:
                dev.core = net.record_spikes(np.unique(np.concatenate(dev.sources)))
            elif (isinstance(dev, MultimeterDevice) and dev.targets and dev.core is None
                  and dev.params["record_from"]):
                try:
                    dev.core = net.record_state(np.unique(np.concatenate(dev.targets)),
                                                dev.params["record_from"], dev.params["interval"])
                except ModelError as e:
                    raise ValueError(f"{dev.model}: {e}") from None
