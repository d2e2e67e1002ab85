"""Running the PyNEST layer's network: ``Simulate``, ``Prepare``/``Run``/``Cleanup``.

The first ``Simulate`` (or ``Prepare``) turns recorders into core recorders
and builds a :class:`~cortex_gpu.engine.Simulation`; later calls continue
from its state, so two ``Simulate(500)`` equal one ``Simulate(1000)``.
"""
from __future__ import annotations

import numba
import numpy as np

from ..engine import Simulation
from .connect import apply_pending_weights
from .devices import materialise_recorders, open_ascii_files, record_generator_trains, write_ascii_files
from .errors import BadParameter, KernelException
from .kernel import KERNEL, message, timed_as

__all__ = ["Simulate", "Prepare", "Run", "Cleanup", "new_simulation"]


def new_simulation() -> Simulation:
    """A core simulation of the kernel's network with the kernel's settings (not yet built)."""
    threads = KERNEL.local_num_threads
    if threads > numba.config.NUMBA_NUM_THREADS:
        # results do not depend on the thread count, so more threads than Numba has only cost time
        message(f"local_num_threads = {threads}: running on the {numba.config.NUMBA_NUM_THREADS} threads Numba "
                "was started with (set NUMBA_NUM_THREADS for more); spikes are the same for any thread count")
        threads = numba.config.NUMBA_NUM_THREADS
    return Simulation(KERNEL.net, seed=KERNEL.rng_seed, threads=threads,
                      backend=KERNEL.backend, weight_dtype=KERNEL.weight_dtype, comm=KERNEL.comm)


def Prepare() -> None:
    """Build the network (once) and start the recorders' ascii files; ``Run`` may follow any number of times.

    Raises
    ------
    KernelException
        If called again before ``Cleanup`` (NEST's "Prepare called twice.").
    """
    if KERNEL.is_prepared:
        raise KernelException("Prepare called twice.")
    if KERNEL.sim is None and not (KERNEL.recorded_trains and not KERNEL.net.populations):
        _build()     # (a network of generators and recorders alone runs without a core simulation)
    open_ascii_files()
    KERNEL.is_prepared = True


@timed_as("time_construction_connect")      # the core draws the connections here
def _build() -> None:
    if not KERNEL.net.populations:
        raise ValueError("there are no neurons to simulate; Create some first")
    materialise_recorders()
    sim = new_simulation()
    sim.build()
    apply_pending_weights(sim)
    KERNEL.sim = sim
    KERNEL.probe = None


def _steps_of(t: float) -> int:
    """Steps in ``t`` ms, checked as NEST checks a simulation time (``BadParameter``, NEST's messages)."""
    t, h = float(t), KERNEL.resolution
    if not np.isfinite(t):
        raise BadParameter(f"The simulation time must be finite (got {t} ms).")
    if t < 0:
        raise BadParameter(f"The simulation time cannot be negative (got {t} ms).")
    n_steps = int(round(t / h))
    if abs(t / h - n_steps) > 1e-9 * max(1.0, t / h):
        raise BadParameter(f"The simulation time must be a multiple of the simulation resolution "
                           f"({t} ms, resolution {h} ms).")
    return n_steps


@timed_as("time_simulate")
def Run(t: float) -> None:
    """Advance the prepared network by ``t`` ms (a multiple of the resolution).

    Raises
    ------
    KernelException
        Without a ``Prepare`` before (NEST's "Run called without calling Prepare.").
    """
    if not KERNEL.is_prepared:
        raise KernelException("Run called without calling Prepare.")
    sim, h = KERNEL.sim, KERNEL.resolution
    n_steps = _steps_of(t)
    if sim is None:    # generators and recorders only: the recorded trains are all there is
        record_generator_trains(KERNEL.idle_steps, KERNEL.idle_steps + n_steps)
        KERNEL.idle_steps += n_steps
        return
    end = sim.step + n_steps
    # Generator changes reach the targets one delay after they were made: run up to
    # each one, apply it, go on (the core continues exactly across run calls).
    KERNEL.pending.sort(key=lambda p: p[0])
    record_generator_trains(sim.step, end)
    while KERNEL.pending and KERNEL.pending[0][0] <= end:
        step, gen_id, values = KERNEL.pending.pop(0)
        if step > sim.step:
            sim.run((step - sim.step) * h)
        sim.set_generator(gen_id, values)
    if end > sim.step:
        sim.run((end - sim.step) * h)


def Cleanup() -> None:
    """End a Prepare/Run block: the recorders' ascii files are written; the state is kept for a later Simulate.

    Raises
    ------
    KernelException
        Without a ``Prepare`` before (NEST's "Cleanup called without calling Prepare.").
    """
    if not KERNEL.is_prepared:
        raise KernelException("Cleanup called without calling Prepare.")
    write_ascii_files()
    KERNEL.is_prepared = False


def Simulate(t: float) -> None:
    """Simulate ``t`` ms, continuing from the current state.

    Raises
    ------
    BadParameter
        If ``t`` is negative, not finite or not a multiple of the resolution;
        checked before ``Prepare``, so a bad time leaves the kernel unprepared.
    """
    _steps_of(t)
    Prepare()
    Run(t)
    Cleanup()
