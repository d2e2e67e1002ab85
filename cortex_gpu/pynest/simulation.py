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
from .devices import materialise_recorders, open_ascii_files, write_ascii_files
from .kernel import KERNEL

__all__ = ["Simulate", "Prepare", "Run", "Cleanup", "new_simulation"]


def new_simulation() -> Simulation:
    """A core simulation of the kernel's network with the kernel's settings (not yet built)."""
    # NEST runs more threads than cores; Numba cannot start more than it was started with. Results do not
    # depend on the thread count (I3), so the engine runs with as many as it can.
    threads = min(KERNEL.local_num_threads, numba.config.NUMBA_NUM_THREADS)
    return Simulation(KERNEL.net, seed=KERNEL.rng_seed, threads=threads,
                      backend=KERNEL.backend, weight_dtype=KERNEL.weight_dtype, comm=KERNEL.comm)


def Prepare() -> None:
    """Build the network (once) and start the recorders' ascii files; ``Run`` may follow any number of times."""
    if KERNEL.sim is None:
        _build()
    open_ascii_files()


def _build() -> None:
    if not KERNEL.net.populations:
        raise ValueError("there are no neurons to simulate; Create some first")
    materialise_recorders()
    sim = new_simulation()
    sim.build()
    apply_pending_weights(sim)
    KERNEL.sim = sim
    KERNEL.probe = None


def Run(t: float) -> None:
    """Advance the prepared network by ``t`` ms (a multiple of the resolution)."""
    if KERNEL.sim is None:
        raise ValueError("Run needs Prepare first")
    t = float(t)
    if not np.isfinite(t) or t < 0:
        raise ValueError(f"simulation time must be a finite number of ms >= 0, got {t}")
    sim, h = KERNEL.sim, KERNEL.resolution
    n_steps = int(round(t / h))
    if abs(t / h - n_steps) > 1e-9 * max(1.0, t / h):
        raise ValueError(f"simulation time {t} ms must be a multiple of the resolution {h} ms")
    end = sim.step + n_steps
    # Generator changes reach the targets one delay after they were made: run up to
    # each one, apply it, go on (the core continues exactly across run calls).
    KERNEL.pending.sort(key=lambda p: p[0])
    while KERNEL.pending and KERNEL.pending[0][0] <= end:
        step, gen_id, values = KERNEL.pending.pop(0)
        if step > sim.step:
            sim.run((step - sim.step) * h)
        sim.set_generator(gen_id, values)
    if end > sim.step:
        sim.run((end - sim.step) * h)


def Cleanup() -> None:
    """End a Prepare/Run block: the recorders' ascii files are written; the state is kept for a later Simulate."""
    write_ascii_files()


def Simulate(t: float) -> None:
    """Simulate ``t`` ms, continuing from the current state.

    Raises
    ------
    ValueError
        If ``t`` is negative or not a multiple of the resolution.
    """
    Prepare()
    Run(t)
    Cleanup()
