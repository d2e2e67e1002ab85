"""NEST 3.10's generators: their activity windows and their output per emission step, on the host.

A generator's output at emission step ``s`` reaches a target connected with
delay ``d`` in step ``s + d`` (a current from the next step on, as NEST's
``CurrentEvent``). The backends' drive (``cpu.drive``, ``kernels/neuron.cuh``)
reads the output of the deterministic part from a table that this module
fills for the steps of each run, and draws the random part per target with
the keyed Philox streams, so that CPU and CUDA and any rank count agree:

========================  =====  ==============================================
model                     kind   table row ``(a, b, c)`` at emission step ``s``
========================  =====  ==============================================
poisson_generator         0      (none: constant rate, Poisson CDF table)
dc_generator              1      (none: constant amplitude)
step_current_generator    2      ``(I, 0, 0)``: amplitude (pA)
ac_generator              2      ``(I, 0, 0)``: ``offset + y_1``
noise_generator           3      ``(mean, sigma, k)``: the current is
                                 ``mean + sigma * z``, ``z`` the normal draw
                                 ``k`` of (connection, target)
sinusoidal_poisson (ind.) 4      ``(lam, exp(-lam), 0)``: Poisson count per
                                 (connection, target, step)
sinusoidal_poisson        5      as 4, one count per (generator, step) that
  (shared train)                 every target receives
pulsepacket_generator     6      ``(n, 0, 0)``: spikes in the step, the same
                                 for every target
========================  =====  ==============================================

Each emitter follows NEST's ``update``: the oscillators of ac_generator,
noise_generator and sinusoidal_poisson_generator are reset at the start of
every run (NEST's ``pre_run_hook``: ``y = A (cos, sin)(omega t + phi)``) and
then rotated step by step with NEST's rotation matrix in NEST's order of
operations, in float64 without fused multiply-adds, so the tables hold NEST's
values bit for bit (``math.sin``/``math.cos`` are the same libm calls NEST
makes).

Activity (NEST's ``StimulationDevice::is_active``): with ``t_min``, ``t_max``
the steps of ``origin + start`` and ``origin + stop``, a current generator
emits in step ``s`` when ``t_min < s + 2 <= t_max``, a spike generator when
``t_min < s <= t_max`` (its spikes carry the stamp ``s + 1``).
"""
from __future__ import annotations

import math

import numpy as np

from .models import ModelError   # before .network: models/ imports network
from .network import Generator

__all__ = ["KIND", "CURRENT_KINDS", "TABLE_KINDS", "ROW", "kind_of", "active_steps", "make_emitter", "Emitter"]

#: Kind codes of the drive (see the module docstring).
KIND = {"poisson_generator": 0, "dc_generator": 1, "step_current_generator": 2, "ac_generator": 2,
        "noise_generator": 3, "sinusoidal_poisson_generator": 4, "pulsepacket_generator": 6}
#: Kinds that give a current (their sum, per target, is the next step's i_0).
CURRENT_KINDS = frozenset({1, 2, 3})
#: Kinds whose output comes from the per-step table.
TABLE_KINDS = frozenset({2, 3, 4, 5, 6})
#: Doubles per emission step in the table.
ROW = 3
#: NEST's time base: tics per ms.
TICS_PER_MS = 1000
#: Most expected spikes per step of a sinusoidal_poisson_generator (the Poisson draw inverts one uniform).
MAX_SPIKES_PER_STEP = 10.0
_NEVER = np.iinfo(np.int64).max // 2


def kind_of(g: Generator) -> int:
    k = KIND[g.model]
    if k == 4 and not g.params["individual_spike_trains"]:
        return 5
    return k


def _steps(t_ms: float, h: float) -> int:
    return int(np.floor(t_ms / h + 0.5))


def active_steps(g: Generator, h: float) -> tuple[int, int]:
    """Emission steps ``[first, stop)`` in which ``g`` is active (NEST's is_active; see the module docstring)."""
    p = g.params
    t_min = _steps(p["origin"] + p["start"], h)
    t_max = _NEVER if not np.isfinite(p["stop"]) else _steps(p["origin"] + p["stop"], h)
    if KIND[g.model] in CURRENT_KINDS:     # t_min - 2 < s <= t_max - 2
        first, stop = t_min - 1, t_max - 1
    else:                                  # t_min < s <= t_max
        first, stop = t_min + 1, t_max + 1
    return max(first, 0), max(stop, 0)


class Emitter:
    """The deterministic output of one generator, emission step by emission step, with NEST's state."""

    def __init__(self, g: Generator, h: float):
        self.g = g
        self.h = h
        self.tics_per_step = int(round(h * TICS_PER_MS))
        self.set_params()

    def set_params(self) -> None:
        """Take the generator's (new) parameters; called at build and after SetStatus."""

    def pre_run(self, t0: int) -> None:
        """NEST's pre_run_hook at the start of a run from step ``t0``."""

    def emit(self, t0: int, t1: int, out: np.ndarray) -> None:
        """Rows of emission steps ``[t0, t1)`` into ``out`` (shape ``(t1 - t0, ROW)``)."""
        raise NotImplementedError

    def _ms(self, step: int) -> float:
        """NEST's ``Time::get_ms`` of a step: tics times ms per tic."""
        return step * self.tics_per_step * (1.0 / TICS_PER_MS)

    def _window(self) -> tuple[int, int]:
        return active_steps(self.g, self.h)


class StepCurrent(Emitter):
    """step_current_generator: the amplitude changes at the end of the step before each amplitude time."""

    def set_params(self) -> None:
        p = self.g.params
        stamps = []
        tps = self.tics_per_step
        for t in p["amplitude_times"]:
            tics = int(np.floor(t * TICS_PER_MS + 0.5))
            if tics % tps:                  # NEST: Time::ms(t) in tics is not on the step grid
                if not p["allow_offgrid_times"]:
                    raise ModelError(f"step_current_generator: time point {t} is not representable in the "
                                     f"current resolution ({self.h} ms)")
                tics = int(math.ceil(t * TICS_PER_MS - 1e-9))   # NEST's ms_stamp: the end of the step holding t
                tics = -(-tics // tps) * tps
            step = tics // tps
            if stamps and step <= stamps[-1]:
                raise ModelError("step_current_generator: amplitude times must be at strictly increasing time "
                                 "steps")
            stamps.append(step)
        self.stamps = np.array(stamps, np.int64)
        self.values = np.asarray(p["amplitude_values"], float)
        self.idx = 0                     # NEST's B_.idx_: new data restart the search
        if not hasattr(self, "amp"):
            self.amp = 0.0               # NEST's B_.amp_, kept across SetStatus

    def emit(self, t0, t1, out):
        # NEST skips stamps at or before the first step of an update (a change set in the past never
        # applies), then sets the amplitude in step s where s + 1 is the next stamp
        n = self.stamps.size
        while self.idx < n and self.stamps[self.idx] <= t0:
            self.idx += 1
        s = np.arange(t0, t1, dtype=np.int64)
        j = np.searchsorted(self.stamps, s + 1, side="right") - 1    # last stamp <= s + 1
        amp = np.where(j >= self.idx, self.values[np.maximum(j, 0)] if n else 0.0, self.amp)
        out[:, 0] = amp
        out[:, 1:] = 0.0
        if t1 > t0:
            self.amp = float(amp[-1])
            self.idx = max(self.idx, int(j[-1]) + 1)


class Ac(Emitter):
    """ac_generator: ``offset + y_1``, the oscillator rotated in every step, active or not."""

    def pre_run(self, t0):
        p = self.g.params
        t = self._ms(t0)
        h = self._ms(1)
        omega = 2.0 * math.pi * p["frequency"] / 1000.0
        phi = p["phase"] * 2.0 * math.pi / 360.0
        self.y0 = p["amplitude"] * math.cos(omega * t + phi)
        self.y1 = p["amplitude"] * math.sin(omega * t + phi)
        self.A = (math.cos(omega * h), -math.sin(omega * h), math.sin(omega * h), math.cos(omega * h))

    def emit(self, t0, t1, out):
        a00, a01, a10, a11 = self.A
        y0, y1 = self.y0, self.y1
        off = self.g.params["offset"]
        col = out[:, 0]
        for k in range(t1 - t0):
            y0, y1 = a00 * y0 + a01 * y1, a10 * y0 + a11 * y1
            col[k] = y1 + off
        out[:, 1:] = 0.0
        self.y0, self.y1 = y0, y1


class Noise(Emitter):
    """noise_generator: a new draw every ``dt`` from the first active step, per target; ``sigma`` from the
    oscillator (rotated in active steps only) at the draw."""

    def set_params(self) -> None:
        p = self.g.params
        dt = p["dt"] / self.h
        if p["dt"] <= 0 or abs(dt - round(dt)) > 1e-9 * max(dt, 1.0):
            raise ModelError(f"noise_generator: dt ({p['dt']} ms) must be a multiple of the resolution "
                             f"({self.h} ms)")
        self.dt_steps = int(round(dt))
        if not hasattr(self, "next_step"):
            self.next_step = 0           # NEST's B_.next_step_
            self.k = -1                  # draws so far - 1
            self.sigma = 0.0
            self.mean = 0.0

    def pre_run(self, t0):
        p = self.g.params
        t = self._ms(t0)
        h = self._ms(1)
        omega = 2.0 * math.pi * p["frequency"] / 1000.0
        phi = p["phase"] * 2.0 * math.pi / 360.0
        self.y0 = math.cos(omega * t + phi)
        self.y1 = math.sin(omega * t + phi)
        self.A = (math.cos(omega * h), -math.sin(omega * h), math.sin(omega * h), math.cos(omega * h))

    def emit(self, t0, t1, out):
        p = self.g.params
        first, stop = self._window()
        a00, a01, a10, a11 = self.A
        y0, y1 = self.y0, self.y1
        std, std_mod, mean = p["std"], p["std_mod"], p["mean"]
        lo, hi = max(first, t0), min(stop, t1)
        out[:] = 0.0
        s = lo
        while s < hi:
            if std_mod != 0.0:
                y0, y1 = a00 * y0 + a01 * y1, a10 * y0 + a11 * y1
            if s >= self.next_step:
                self.sigma = math.sqrt(std * std + y1 * std_mod * std_mod)
                self.mean = mean
                self.k += 1
                self.next_step = s + self.dt_steps
            if std_mod == 0.0:        # nothing changes until the next draw: fill the rows at once
                e = min(hi, self.next_step)
                out[s - t0:e - t0] = (self.mean, self.sigma, float(self.k))
                s = e
                continue
            out[s - t0] = (self.mean, self.sigma, float(self.k))
            s += 1
        self.y0, self.y1 = y0, y1


class SinusoidalPoisson(Emitter):
    """sinusoidal_poisson_generator: rate ``rate + y_1`` (clipped at 0), the oscillator rotated in every step."""

    def pre_run(self, t0):
        p = self.g.params
        t = self._ms(t0)
        self.hh = self._ms(1)
        om = p["frequency"] * (2.0 * math.pi / 1000.0)
        phi = p["phase"] * (math.pi / 180.0)
        amp = p["amplitude"] / 1000.0
        self.y0 = amp * math.cos(om * t + phi)
        self.y1 = amp * math.sin(om * t + phi)
        self.sin, self.cos = math.sin(self.hh * om), math.cos(self.hh * om)

    def emit(self, t0, t1, out):
        p = self.g.params
        first, stop = self._window()
        rate0 = p["rate"] / 1000.0
        sn, cs, hh = self.sin, self.cos, self.hh
        y0, y1 = self.y0, self.y1
        out[:] = 0.0
        out[:, 1] = 1.0
        for k in range(t1 - t0):
            new_y0 = cs * y0 - sn * y1
            y1 = sn * y0 + cs * y1
            y0 = new_y0
            rate = rate0 + y1
            if rate > 0.0 and first <= t0 + k < stop:
                lam = rate * hh
                if lam >= MAX_SPIKES_PER_STEP:
                    raise NotImplementedError(
                        f"sinusoidal_poisson_generator: {lam:g} expected spikes in one step (rate "
                        f"{rate * 1000.0:g} Hz); more than {MAX_SPIKES_PER_STEP:g} per step is not supported")
                out[k, 0] = lam
                out[k, 1] = math.exp(-lam)
        self.y0, self.y1 = y0, y1


class PulsePacket(Emitter):
    """pulsepacket_generator: ``activity`` spikes per pulse time, each at ``pulse + sdev * z`` rounded to the
    step, ``z`` normal draw ``i`` of pulse ``j`` of this generator (keys.PULSE_PACKET), every target the same.

    NEST draws a pulse in the first min-delay slice that starts within ``10 sdev`` of it and drops spikes
    before that slice or before step 0; here a pulse's spikes before step 0 are dropped (the others lie
    more than 10 sdev early, probability below 1e-23); its activity window is applied per step.
    """

    def set_params(self) -> None:
        from . import keys, philox
        p = self.g.params
        n = int(p["activity"])
        steps = []
        stream = keys.stream(keys.PULSE_PACKET, self.g.id)
        for j, t in enumerate(np.sort(p["pulse_times"])):
            for i in range(n):
                z = philox.normal(np.uint32(self.seed), stream, j, i, 0)[0] if p["sdev"] > 0 else 0.0
                steps.append(int(np.floor((p["sdev"] * z + t) / self.h + 0.5)))
        steps = np.array(steps, np.int64)
        self.steps = np.sort(steps[steps >= 0])

    def emit(self, t0, t1, out):
        first, stop = self._window()
        out[:] = 0.0
        s = self.steps[(self.steps >= max(t0, first)) & (self.steps < min(t1, stop))]
        np.add.at(out[:, 0], s - t0, 1.0)


_EMITTERS = {"step_current_generator": StepCurrent, "ac_generator": Ac, "noise_generator": Noise,
             "sinusoidal_poisson_generator": SinusoidalPoisson, "pulsepacket_generator": PulsePacket}


def make_emitter(g: Generator, h: float, seed: int = 0) -> Emitter | None:
    """The emitter of a table generator (``seed``: the simulation's, for pulsepacket's spike times), None
    for poisson_generator and dc_generator."""
    cls = _EMITTERS.get(g.model)
    if cls is None:
        return None
    cls.seed = int(seed)
    return cls(g, h)
