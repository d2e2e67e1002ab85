"""Stimulation and recording devices of the PyNEST layer: their parameters, connections and events.

A ``poisson_generator`` or ``dc_generator`` node is one core
:class:`~cortex_gpu.network.Generator`; its parameters may change between
``Simulate`` calls. Recorders collect the core gids connected to them and
become core recorders when the first ``Simulate`` builds the network; their
events are reported in NEST node ids.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..models import ModelError
from ..network import Generator, Multimeter, SpikeRecorder, delay_to_steps
from ..record import RECORDABLE_CODES, recordable_code
from .kernel import KERNEL
from .models import DBL_MAX, base_model, defaults_of
from .errors import UnaccessedDictionaryEntry

__all__ = ["TICS_PER_MS", "nest_times", "GeneratorDevice", "SpikeRecorderDevice", "MultimeterDevice", "make_device",
           "materialise_recorders", "spike_generator_state", "emitted_spike_times",
           "open_ascii_files", "write_ascii_files", "ascii_file_name", "record_generator_trains"]



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
            raise UnaccessedDictionaryEntry(f"{model}: unknown parameter '{key}' "
                                            f"(known: {', '.join(sorted(known))})")


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
        v = self.params[key]
        return v.copy() if isinstance(v, np.ndarray) else _public(v, key)

    def status(self) -> dict[str, Any]:
        return {k: self.get(k) for k in self.params}

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
        if "individual_spike_trains" in params:
            raise ValueError("BadProperty: the individual_spike_trains property can only be set as a model "
                             "default using SetDefaults or upon CopyModel")
        values = {k: (_stop(v) if k == "stop" else v) for k, v in params.items()}
        trial = Generator(self.gen.id, self.gen.model, dict(self.params))
        KERNEL.net.set_generator(trial, values)          # checks the values, raises ValueError
        sim = KERNEL.sim
        if sim is None:
            KERNEL.net.set_generator(self.gen, values)
        elif self.model not in ("poisson_generator", "dc_generator"):
            # the table generators keep what they emitted (generators.py): the change applies from now
            KERNEL.pending.append((sim.step, self.gen.id, values))
        else:
            delays = {int(delay_to_steps(d.delay_ms, KERNEL.resolution))
                      for d in KERNEL.net.drives if d.generator is self.gen}
            if len(delays) > 1:
                raise NotImplementedError(
                    f"{self.model}: changing parameters after Simulate is supported only when all of the "
                    "generator's connections have the same delay")
            KERNEL.pending.append((sim.step + (delays.pop() if delays else 0), self.gen.id, values))
        self.params = dict(trial.params)


#: Recorder settings that may change after Simulate: they only select and place the events.
_LIVE_RECORDER = frozenset({"start", "stop", "origin", "label", "record_to", "time_in_steps", "n_events",
                            "precision"})


def _nest_order(ev: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Events in the order NEST hands them to a recorder: by min-delay slice, then sender, then time.

    NEST updates one node after the other through a whole slice, so within a
    slice a recorder sees all events of the lowest node id first.
    """
    steps = np.rint(ev["times"] / KERNEL.resolution).astype(np.int64)
    slice_ = (steps - 1) // _min_delay_steps()
    order = np.lexsort((steps, ev["senders"], slice_))
    return {k: np.asarray(v)[order] for k, v in ev.items()}


class _RecorderStatus:
    """What the recording devices share: their parameters, the window, ``events``, ``n_events``, files.

    Events are the core recorder's, kept when their time is in the window
    (origin+start, origin+stop] and after the last clearing (``n_events = 0``).
    """

    model: str
    params: dict[str, Any]
    #: events with times up to this (ms) were cleared by ``n_events = 0``
    cleared_ms: float = -np.inf
    #: digits of the node id in ascii file names (set when ``record_to`` is)
    id_digits: int = 1

    def recorded(self) -> dict[str, np.ndarray]:
        """Every event the core recorder has handed over so far (NEST ids, ms), unfiltered."""
        raise NotImplementedError

    def visible_until_ms(self) -> float:
        """The time up to which the events are handed over (the current time for spikes)."""
        return KERNEL.sim.t_ms if KERNEL.sim is not None else KERNEL.biological_time

    def events(self) -> dict[str, np.ndarray]:
        ev = self.recorded()
        t0 = max(self.params["origin"] + self.params["start"], self.cleared_ms)
        t1 = self.params["origin"] + self.params["stop"]
        keep = (ev["times"] > t0 + 1e-9 * KERNEL.resolution) & (ev["times"] <= t1 + 1e-9 * KERNEL.resolution)
        out = {k: np.asarray(v)[keep] for k, v in ev.items()}
        if self.params["time_in_steps"]:
            out["times"] = np.rint(out["times"] / KERNEL.resolution).astype(np.int64)
            out["offsets"] = np.zeros(out["times"].size)
        return dict(sorted(out.items()))      # NEST lists the keys in alphabetical order

    def get(self, key: str) -> Any:
        if key == "events":
            if self.params["record_to"] != "memory":
                raise KeyError("events")      # NEST keeps events in memory only for record_to 'memory'
            return self.events()
        if key == "n_events":
            return int(self.events()["senders"].size)
        if key == "filenames":
            return [ascii_file_name(self)] if self.params["record_to"] == "ascii" else []
        return _public(self.params[key], key)

    def status(self) -> dict[str, Any]:
        out = {k: _public(v, k) for k, v in self.params.items()}
        if self.params["record_to"] != "ascii":
            out.pop("precision", None)
        out["n_events"] = self.get("n_events")
        if self.params["record_to"] == "memory":
            out["events"] = self.events()
        out["filenames"] = self.get("filenames")
        return out

    def set(self, params: dict[str, Any]) -> None:
        """Change settings; after Simulate only those that select or place the events (``_LIVE_RECORDER``).

        Raises
        ------
        ValueError
            For an unknown key or a bad value, with NEST's message where it has one.
        NotImplementedError
            For other settings after Simulate, and for a ``record_to`` other than memory or ascii.
        """
        _check_keys(self.model, {k: v for k, v in params.items() if k != "n_events"})
        if KERNEL.sim is not None:
            for key in params:
                if key not in _LIVE_RECORDER:
                    raise NotImplementedError(f"changing {key} of a {self.model} after Simulate is not "
                                              "supported yet; call ResetKernel")
        for key, value in params.items():
            if key == "n_events":
                if value != 0:
                    raise ValueError(f"{self.model}: Property n_events can only be set to 0 (which clears all stored "
                                     "events).")
                self.cleared_ms = self.visible_until_ms()
                continue
            if key == "record_to" and value not in ("memory", "ascii"):
                raise NotImplementedError(f"{self.model}: record_to={value!r} is not supported "
                                          "(only 'memory' and 'ascii')")
            if key == "record_to":
                # NEST pads the node id in file names to the digits of the network size at enrolment
                self.id_digits = len(str(KERNEL.n_nodes))
            if key in ("start", "stop", "origin"):
                value = _stop(value) if key == "stop" else float(value)
                if np.isnan(value):
                    raise ValueError(f"{self.model}: {key} must be a number, got {value}")
            if key == "time_in_steps":
                if KERNEL.sim is not None and bool(value) != self.params[key]:
                    raise ValueError(f"{self.model}: Property time_in_steps cannot be set after Simulate "
                                     "has been called.")
                value = bool(value)
            if key == "precision":
                value = int(value)
            if key == "interval":
                value = float(value)
                h = KERNEL.resolution
                steps = value / h
                if not value > 0 or abs(steps - round(steps)) > 1e-9 * steps:
                    raise ValueError(f"{self.model}: interval {value} ms must be a positive multiple "
                                     f"of the resolution {h} ms")
            if key == "offset" and float(value) != 0.0:
                raise NotImplementedError(f"{self.model}: offset={value!r} is not supported yet (only 0)")
            if key == "record_from":
                value = [value] if isinstance(value, str) else list(value)
                for name in value:
                    try:
                        recordable_code(name)
                    except KeyError:
                        raise ValueError(f"{self.model}: cannot record '{name}' "
                                         f"(recordables: {', '.join(sorted(RECORDABLE_CODES))})")
            self.params[key] = value
        if self.params["stop"] < self.params["start"]:
            raise ValueError(f"{self.model}: stop >= start required.")


@dataclass
class SpikeRecorderDevice(_RecorderStatus):
    """A ``spike_recorder``: the core gids it records and, after the first Simulate, its core recorder."""

    model: str
    params: dict[str, Any]
    sources: list[np.ndarray] = field(default_factory=list)
    core: SpikeRecorder | None = None

    #: trains of poisson_generators connected to this recorder: (senders, times) per run
    trains: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)

    def recorded(self) -> dict[str, np.ndarray]:
        """``senders`` (NEST ids) and ``times`` (ms) of every spike recorded."""
        senders, times = [np.zeros(0, np.int64)], [np.zeros(0)]
        if self.core is not None and KERNEL.sim is not None:
            ev = KERNEL.sim.spike_events(self.core)
            senders.append(_nest_ids(ev["senders"]))
            times.append(nest_times(ev["times"]))
        for s, t in self.trains:
            senders.append(s)
            times.append(t)
        return _nest_order({"senders": np.concatenate(senders), "times": np.concatenate(times)})


def record_generator_trains(t0: int, t1: int) -> None:
    """The trains that poisson_generators send to spike_recorders, for emission steps ``[t0, t1)``.

    NEST draws a train for every target of a poisson_generator, a recorder
    too, which records it with the generator as sender and the spikes'
    stamps ``s + 1``. Drawn here per (connection, step) from the keyed stream
    ``RECORDED_TRAIN``, with the parameters in effect (as the generator emits them).
    """
    if not KERNEL.recorded_trains or t1 <= t0:
        return
    from .. import keys, philox
    from ..generators import active_steps
    h = KERNEL.resolution
    seed = KERNEL.sim.seed if KERNEL.sim is not None else int(KERNEL.rng_seed)
    for k, (g_id, r_id) in enumerate(KERNEL.recorded_trains):
        gen = KERNEL_device(g_id)
        trial = Generator(gen.gen.id, gen.gen.model, dict(gen.params))
        first, stop = active_steps(trial, h)
        s = np.arange(max(first, t0), min(stop, t1), dtype=np.int64)
        lam = trial.params["rate"] * h * 1e-3
        if s.size == 0 or lam == 0.0:
            continue
        if lam >= philox.POISSON_INVERSION_MAX:
            raise NotImplementedError(f"poisson_generator -> spike_recorder: {lam:g} expected spikes per step; "
                                      f"at most {philox.POISSON_INVERSION_MAX:g} are supported")
        counts = philox.poisson_array(lam, float(np.exp(-lam)), seed, keys.stream(keys.RECORDED_TRAIN, k),
                                      np.full(s.size, r_id, np.int64), s)
        steps = np.repeat(s + 1, counts)
        KERNEL_device(r_id).trains.append((np.full(steps.size, g_id, np.int64), nest_times(steps * h)))


def KERNEL_device(node_id: int):
    """The device object of node ``node_id``."""
    b = KERNEL.blocks[KERNEL.block_index(np.array([node_id]))[0]]
    return b.items[node_id - b.first]


@dataclass
class MultimeterDevice(_RecorderStatus):
    """A ``multimeter`` or ``voltmeter``: ``record_from`` of its targets every ``interval`` ms."""

    model: str
    params: dict[str, Any]
    targets: list[np.ndarray] = field(default_factory=list)
    core: Multimeter | None = None

    def visible_until_ms(self) -> float:
        """NEST hands a node's samples to the meter one min-delay slice late: up to the last slice's start."""
        sim = KERNEL.sim
        if sim is None:
            return 0.0
        md = _min_delay_steps()
        return (((sim.step - 1) // md) * md if sim.step > 0 else 0) * KERNEL.resolution

    def recorded(self) -> dict[str, np.ndarray]:
        """``senders`` (NEST ids), ``times`` (ms) and one array per recorded variable."""
        empty = {"senders": np.zeros(0, np.int64), "times": np.zeros(0),
                 **{k: np.zeros(0) for k in self.params["record_from"]}}
        if self.core is None or KERNEL.sim is None:
            return empty
        ev = KERNEL.sim.multimeter_events(self.core)
        keep = ev["times"] <= self.visible_until_ms() + 1e-9 * KERNEL.resolution
        out = {k: np.asarray(v)[keep] for k, v in ev.items()}
        out["senders"] = _nest_ids(out["senders"])
        out["times"] = nest_times(out["times"])
        return _nest_order(out)


def make_device(model: str, role: str, params: dict[str, Any]):
    """A device object of ``role`` for one node of ``model`` with ``params`` already checked per node."""
    if role == "generator":
        base = {k: v for k, v in defaults_of(model).items()}
        base.update({k: (_stop(v) if k == "stop" else v) for k, v in params.items()})
        _check_keys(model, params)
        if "individual_spike_trains" in params:
            raise ValueError("BadProperty: the individual_spike_trains property can only be set as a model "
                             "default using SetDefaults or upon CopyModel")
        return GeneratorDevice(model, KERNEL.net.add_generator(base_model(model), base))
    base = defaults_of(model)
    if role == "spike_recorder":
        dev = SpikeRecorderDevice(model, base)
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


def spike_generator_state(model: str, old: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """A spike_generator's parameters after ``set(params)``, checked and on the grid as NEST stores them.

    Spike times must be sorted; a time off the step grid is an error unless
    ``allow_offgrid_times`` (set before or with it), which moves it to the
    end of its step, as NEST does. ``spike_weights`` and
    ``spike_multiplicities`` have one entry per spike time, or none.

    Raises
    ------
    ValueError
        With NEST's messages, for unsorted, negative, zero or off-grid times and mismatched lengths.
    NotImplementedError
        For ``precise_times=True`` and for spike weights other than 1.
    """
    _check_keys(model, params)
    new = dict(old)
    new["spike_times"] = np.asarray(new["spike_times"], float).ravel()
    for key in ("allow_offgrid_times", "precise_times", "shift_now_spikes"):
        if key in params:
            new[key] = bool(params[key])
    for key in ("start", "stop", "origin"):
        if key in params:
            new[key] = _stop(params[key]) if key == "stop" else float(params[key])
    if new["precise_times"]:
        raise NotImplementedError(f"{model}: precise_times=True needs precise (off-grid) spiking models, "
                                  "which cortex_gpu does not provide")
    h = KERNEL.resolution
    if "spike_times" in params:
        t = np.asarray(params["spike_times"], float).ravel()
        if np.any(np.diff(t) < 0):
            raise ValueError(f"{model}: Spike times must be sorted in non-descending order.")
        steps = t / h
        grid = np.abs(steps - np.rint(steps)) <= 1e-9 * np.maximum(1.0, np.abs(steps))
        for x, on in zip(t, grid):
            if x < 0 or not np.isfinite(x) or (not on and not new["allow_offgrid_times"]):
                raise ValueError(f"{model}: Time point {x:g} is not representable in current resolution.")
        # an off-grid time belongs to the step it falls in: NEST moves it to that step's end
        steps = np.where(grid, np.rint(steps), np.ceil(steps - 1e-9))
        if np.any(steps == 0) and not new["shift_now_spikes"]:
            raise ValueError(f"{model}: spike time cannot be set to 0.")
        new["spike_times"] = nest_times(np.maximum(steps, 1) * h)
    n = new["spike_times"].size
    for key, dtype in (("spike_weights", float), ("spike_multiplicities", np.int64)):
        if key in params:
            new[key] = np.asarray(params[key], dtype).ravel()
        new[key] = np.asarray(new[key], dtype).ravel()
        if new[key].size not in (0, n):
            comma = "," if key == "spike_weights" else ""      # NEST's two messages differ by this comma
            raise ValueError(f"{model}: {key} must have the same number of elements as spike_times{comma} "
                             "or 0 elements to clear the property.")
    if np.any(new["spike_multiplicities"] < 0):
        raise ValueError(f"{model}: spike_multiplicities must not be negative")
    if np.any(new["spike_weights"] != 1.0):
        raise NotImplementedError(f"{model}: spike_weights other than 1 are not supported by cortex_gpu "
                                  "(the engine has no per-spike weight factor)")
    if new["stop"] < new["start"]:
        raise ValueError(f"{model}: stop >= start required.")
    return new


def emitted_spike_times(state: dict[str, Any]) -> np.ndarray:
    """The spike times (ms) a spike_generator sends: those in (origin+start, origin+stop], repeated by multiplicity."""
    t = state["spike_times"]
    keep = (t > state["origin"] + state["start"]) & (t <= state["origin"] + state["stop"])
    mult = state["spike_multiplicities"]
    reps = mult[keep] if mult.size else np.ones(int(keep.sum()), np.int64)
    return np.repeat(t[keep], reps)


#: The first lines of every ascii file, as NEST 3.10's ascii recording backend writes them.
ASCII_HEADER = "# NEST version: 3.10.0\n# RecordingBackendASCII version: 2\n"


def _recorders() -> list[_RecorderStatus]:
    return [d for b in KERNEL.blocks for d in b.items if isinstance(d, _RecorderStatus)]


def _node_id(dev: _RecorderStatus) -> int:
    for b in KERNEL.blocks:
        if b.items and any(d is dev for d in b.items):
            return b.first + next(i for i, d in enumerate(b.items) if d is dev)
    raise KeyError("recorder not in the kernel")


def ascii_file_name(dev: _RecorderStatus) -> str:
    """``<data_path>/<data_prefix><label or model>-<node id>-<vp>.dat``, as NEST names the file.

    The id is padded with zeros to the digits the network size had when the
    recorder was set to ascii, the vp (always 0 here) to those of the number of vps.
    """
    name = (f"{KERNEL.data_prefix}{dev.params['label'] or dev.model}-"
            f"{_node_id(dev):0{dev.id_digits}d}-{0:0{len(str(KERNEL.total_num_virtual_procs))}d}.dat")
    return os.path.join(KERNEL.data_path, name) if KERNEL.data_path else name


def _columns(dev: _RecorderStatus) -> list[str]:
    time = ["time_step", "time_offset"] if dev.params["time_in_steps"] else ["time_ms"]
    return ["sender", *time, *dev.params.get("record_from", [])]


def open_ascii_files() -> None:
    """Start every ascii recorder's file for one Simulate (NEST's Prepare): header, nothing else yet.

    Raises
    ------
    OSError
        With NEST's message, when a file exists and ``overwrite_files`` is False.
    """
    for dev in _recorders():
        if dev.params["record_to"] != "ascii":
            dev.file = None
            continue
        path = ascii_file_name(dev)
        if os.path.exists(path) and not KERNEL.overwrite_files:
            raise OSError(f"The file '{path}' already exists and overwriting files is disabled. To overwrite "
                          "files, set the kernel property overwrite_files to true. To change the name or location "
                          "of the file, change the kernel properties data_path or data_prefix, or the device "
                          "property label.")
        with open(path, "w") as f:
            f.write(ASCII_HEADER + "\t".join(_columns(dev)) + "\n")
        dev.file = (path, dev.visible_until_ms())


def write_ascii_files() -> None:
    """Append to each open file the events handed over since it was opened or last written, and flush."""
    h = KERNEL.resolution
    for dev in _recorders():
        if getattr(dev, "file", None) is None:
            continue
        path, since_ms = dev.file
        ev = dev.events()
        times_ms = ev["times"] * h if dev.params["time_in_steps"] else ev["times"]
        new = times_ms > since_ms + 1e-9 * h
        p = int(dev.params.get("precision", 3))
        cols = [np.asarray(ev["senders"])[new].astype(np.int64).astype(str)]
        if dev.params["time_in_steps"]:
            cols += [ev["times"][new].astype(str), np.char.mod(f"%.{p}f", ev["offsets"][new])]
        else:
            cols.append(np.char.mod(f"%.{p}f", ev["times"][new]))
        cols += [np.char.mod(f"%.{p}f", np.asarray(ev[k], float)[new]) for k in dev.params.get("record_from", [])]
        with open(path, "a") as f:
            for row in zip(*cols):
                f.write("\t".join(row) + "\n")
        dev.file = (path, dev.visible_until_ms())
