"""iaf_psc_exp: leaky integrate-and-fire neuron with exponential post-synaptic currents.

Description
-----------
The membrane potential integrates a leak, a constant current ``I_e``, a
piecewise-constant current input ``i_0`` (``dc_generator``) and two
exponentially decaying synaptic currents, excitatory (positive weights) and
inhibitory (negative weights). A spike is emitted when ``V_m >= V_th``; the
potential is then clamped to ``V_reset`` for ``t_ref``.

.. math::

   \\frac{dV_m}{dt} = -\\frac{V_m - E_L}{\\tau_m} + \\frac{I_{syn,ex} + I_{syn,in} + I_e + i_0}{C_m}

   \\frac{dI_{syn,X}}{dt} = -\\frac{I_{syn,X}}{\\tau_{syn,X}}, \\qquad
   I_{syn,X} \\mathrel{+}= w \\text{ for each spike of weight } w

Parameters
----------
============  =======  =====  ==========================================
name          default  unit   meaning
============  =======  =====  ==========================================
E_L           -70.0    mV     resting membrane potential
C_m           250.0    pF     membrane capacitance
tau_m         10.0     ms     membrane time constant
t_ref         2.0      ms     absolute refractory period
V_th          -55.0    mV     spike threshold
V_reset       -70.0    mV     reset potential
tau_syn_ex    2.0      ms     excitatory synaptic time constant
tau_syn_in    2.0      ms     inhibitory synaptic time constant
I_e           0.0      pA     constant input current
tau_minus     20.0     ms     time constant of the post-synaptic STDP trace
============  =======  =====  ==========================================

State
-----
=========  =======  ====  ==================================
name       initial  unit  meaning
=========  =======  ====  ==================================
V_m        E_L      mV    membrane potential
I_syn_ex   0.0      pA    excitatory synaptic current
I_syn_in   0.0      pA    inhibitory synaptic current
=========  =======  ====  ==================================

Integration
-----------
Exact integration (Rotter & Diesmann 1999) with propagators computed once in
float64 on the host; the step order is NEST's (see ``backends/cpu.py``,
``update_neurons``): membrane update or refractory countdown, current decay,
this step's synaptic input, threshold and reset, then the new ``i_0``.

References
----------
1. Rotter S, Diesmann M (1999). Exact digital simulation of time-invariant
   linear systems with applications to neuronal modeling. Biol Cybern
   81:381-402. https://doi.org/10.1007/s004220050570
2. Tsodyks M, Uziel A, Markram H (2000). Synchrony generation in recurrent
   networks with frequency-dependent synapses. J Neurosci 20:RC50.
   https://doi.org/10.1523/JNEUROSCI.20-01-j0003.2000

Sends: spikes. Receives: spikes, currents (dc_generator), Poisson drive.
See also: iaf_psc_alpha.
"""
from __future__ import annotations

import numpy as np

from ._base import N_PROP, ModelError, NeuronModel, Param, col, expm1_ratio_propagator, positive, refractory_steps

__all__ = ["model"]

KIND = 0

PARAMS = {
    "E_L": Param(-70.0, "mV", "resting membrane potential"),
    "C_m": Param(250.0, "pF", "membrane capacitance"),
    "tau_m": Param(10.0, "ms", "membrane time constant"),
    "t_ref": Param(2.0, "ms", "absolute refractory period"),
    "V_th": Param(-55.0, "mV", "spike threshold"),
    "V_reset": Param(-70.0, "mV", "reset potential"),
    "tau_syn_ex": Param(2.0, "ms", "excitatory synaptic time constant"),
    "tau_syn_in": Param(2.0, "ms", "inhibitory synaptic time constant"),
    "I_e": Param(0.0, "pA", "constant input current"),
}

STATE = {
    "V_m": (-70.0, "mV", "membrane potential"),
    "I_syn_ex": (0.0, "pA", "excitatory synaptic current"),
    "I_syn_in": (0.0, "pA", "inhibitory synaptic current"),
}


def _check(where: str, p: dict[str, np.ndarray]) -> None:
    positive(where, p, "C_m", "tau_m", "tau_syn_ex", "tau_syn_in")
    if np.any(np.asarray(p["t_ref"]) < 0):
        raise ModelError(f"{where}: t_ref must be >= 0, got {np.min(p['t_ref'])}")
    if np.any(np.asarray(p["V_reset"]) >= np.asarray(p["V_th"])):
        raise ModelError(f"{where}: V_reset must be smaller than V_th")


def _prepare(p: dict[str, np.ndarray], h: float) -> tuple[np.ndarray, np.ndarray]:
    n = len(p["C_m"])
    t = np.zeros((n, N_PROP))
    t[:, col("P22")] = np.exp(-h / p["tau_m"])
    t[:, col("P20")] = p["tau_m"] / p["C_m"] * (1.0 - t[:, col("P22")])
    t[:, col("P11ex")] = np.exp(-h / p["tau_syn_ex"])
    t[:, col("P11in")] = np.exp(-h / p["tau_syn_in"])
    t[:, col("P21ex")] = expm1_ratio_propagator(p["tau_syn_ex"], p["tau_m"], p["C_m"], h)
    t[:, col("P21in")] = expm1_ratio_propagator(p["tau_syn_in"], p["tau_m"], p["C_m"], h)
    t[:, col("psc0ex")] = 1.0
    t[:, col("psc0in")] = 1.0
    t[:, col("I_e")] = p["I_e"]
    t[:, col("theta")] = p["V_th"] - p["E_L"]
    t[:, col("V_reset")] = p["V_reset"] - p["E_L"]
    t[:, col("E_L")] = p["E_L"]
    t[:, col("V_min")] = -np.inf
    return t, refractory_steps(p["t_ref"], h)


model = NeuronModel("iaf_psc_exp", KIND, PARAMS, STATE, prepare=_prepare, check=_check)
