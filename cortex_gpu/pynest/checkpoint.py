"""Checkpoints in the PyNEST layer: an extension, as NEST 3.10 has no equivalent.

``nest.SaveCheckpoint(path)`` after a ``Simulate`` (or between ``Run`` calls)
writes the core checkpoint (:mod:`cortex_gpu.checkpoint`: neuron state,
spikes in flight, plastic weights and traces, recorders, generator
parameters) plus the generator changes still on their way to their targets.
A later script builds the same network with the same calls and calls
``nest.RestoreCheckpoint(path)`` instead of simulating from the start; the
next ``Simulate(t)`` continues from the checkpoint's time, and recorders
return every event since time 0, as if one run had done it all::

    build()                        # Create, Connect, SetStatus ... as the first script did
    nest.RestoreCheckpoint("ckpt")
    nest.Simulate(500.0)           # biological_time goes on from the checkpoint's

The checkpoint is refused (``CheckpointError``, naming the file and why)
for another network, another ``rng_seed`` or a damaged file. NEST's own
answer, the ``store_restore_network.py`` example, pickles weights and loses
the spikes in flight.
"""
from __future__ import annotations

from ..engine import Simulation
from . import errors as E
from .devices import materialise_recorders
from .kernel import KERNEL

__all__ = ["SaveCheckpoint", "RestoreCheckpoint"]


def SaveCheckpoint(path) -> None:
    """Write a checkpoint of the simulation so far into directory ``path`` (cortex_gpu extension)."""
    if KERNEL.sim is None:
        raise E.KernelException("SaveCheckpoint needs a simulated network: call Simulate (or Prepare and Run) first")
    pending = [[int(step), int(gen), {k: float(v) for k, v in params.items()}]
               for step, gen, params in KERNEL.pending]
    KERNEL.sim.save_checkpoint(path, extra={"pynest_pending": pending})


def RestoreCheckpoint(path) -> None:
    """Load checkpoint ``path`` into the network built so far (the same calls as the run that wrote it);
    the next Simulate continues from it (cortex_gpu extension)."""
    from ..checkpoint import read_manifest
    if KERNEL.sim is not None or KERNEL.idle_steps:
        raise E.KernelException("RestoreCheckpoint needs a network that has not been simulated: call ResetKernel "
                                "and build the network again")
    if not KERNEL.net.populations:
        raise ValueError("there are no neurons to restore; build the network (Create, Connect) first")
    materialise_recorders()
    sim = Simulation.restore(path, KERNEL.net, seed=KERNEL.rng_seed, threads=KERNEL.local_num_threads,
                             backend=KERNEL.backend, weight_dtype=KERNEL.weight_dtype, comm=KERNEL.comm)
    KERNEL.sim = sim
    KERNEL.probe = None
    KERNEL.pending = [(int(s), int(g), dict(p)) for s, g, p in read_manifest(path)["extra"].get("pynest_pending", [])]
