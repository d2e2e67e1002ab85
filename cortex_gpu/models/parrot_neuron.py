"""parrot_neuron: repeats every spike it receives, in the step it arrives.

Description
-----------
A parrot emits a spike in every step in which spikes arrive on its
receptor 0, whatever their weights, as NEST's parrot_neuron does: a spike
delivered at step ``t`` (emitted at ``t - d``) is repeated with stamp
``(t + 1) h``, so the parrot's own out-going delay adds to the incoming one.
It integrates nothing and is never refractory. Its use is to pass given
spike trains (``spike_generator``) or Poisson trains through a neuron, so
that they can drive plastic synapses and keep a post-synaptic spike history
(for plastic synapses onto it, connected to receptor 1, which it does not
repeat).

``k`` spikes arriving in one step make one spike of multiplicity ``k``:
static synapses from the parrot transmit ``k`` times their weight; a plastic
synapse applies its update once per copy (NEST: once per event). The
spike recorder records the parrot once per step.

Parameters
----------
=========  =======  ====  ==================================================
name       default  unit  meaning
=========  =======  ====  ==================================================
tau_minus  20.0     ms    time constant of the post-synaptic STDP trace
=========  =======  ====  ==================================================

State
-----
None. Incoming spikes are counted in the inhibitory accumulator as -1.0
each (see backends/cpu.py ``update``), so a parrot needs no state slot.

See also: spike_generator, stdp_pl_synapse_hom.
"""
from __future__ import annotations

import numpy as np

from ._base import N_PROP, NeuronModel

__all__ = ["model"]

KIND = 3


def _check(where: str, p: dict[str, np.ndarray]) -> None:
    """Nothing beyond tau_minus > 0, which every model checks."""


def _prepare(p: dict[str, np.ndarray], h: float) -> tuple[np.ndarray, np.ndarray]:
    n = len(p["tau_minus"])
    t = np.zeros((n, N_PROP))
    return t, np.zeros(n, np.int32)


model = NeuronModel("parrot_neuron", KIND, {}, {}, prepare=_prepare, check=_check, slots=())
