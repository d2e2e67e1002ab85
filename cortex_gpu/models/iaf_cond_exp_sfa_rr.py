"""iaf_cond_exp_sfa_rr: conductance-based leaky integrate-and-fire neuron with spike-frequency adaptation
and relative refractoriness.

Description
-----------
``iaf_cond_exp`` with two more conductances that every emitted spike
increments: ``g_sfa`` (by ``q_sfa``, slow decay ``tau_sfa``: spike-frequency
adaptation) and ``g_rr`` (by ``q_rr``, fast decay ``tau_rr``: relative
refractoriness), with reversal potentials ``E_sfa`` and ``E_rr``.

.. math::

   C_m \\frac{dV_m}{dt} = -g_L (V_m - E_L) + I_{stim} + I_e - g_{ex} (V_m - E_{ex})
       - g_{in} (V_m - E_{in}) - g_{sfa} (V_m - E_{sfa}) - g_{rr} (V_m - E_{rr})

   \\frac{dg_X}{dt} = -\\frac{g_X}{\\tau_X} \\quad (X = ex, in, sfa, rr), \\qquad
   g_{sfa} \\mathrel{+}= q_{sfa}, \\; g_{rr} \\mathrel{+}= q_{rr} \\text{ on each spike}

As in NEST, the currents are evaluated at ``min(V_m, V_th)`` and ``dV_m/dt =
0`` while refractory.

Parameters
----------
============  =======  =====  ==========================================
name          default  unit   meaning
============  =======  =====  ==========================================
V_th          -57.0    mV     spike threshold
V_reset       -70.0    mV     reset potential
t_ref         0.5      ms     absolute refractory period
g_L           28.95    nS     leak conductance
C_m           289.5    pF     membrane capacitance
E_ex          0.0      mV     excitatory reversal potential
E_in          -75.0    mV     inhibitory reversal potential
E_L           -70.0    mV     leak reversal potential
tau_syn_ex    1.5      ms     decay time of the excitatory conductance
tau_syn_in    10.0     ms     decay time of the inhibitory conductance
I_e           0.0      pA     constant input current
tau_sfa       110.0    ms     decay time of g_sfa
tau_rr        1.97     ms     decay time of g_rr
E_sfa         -70.0    mV     reversal potential of the adaptation current
E_rr          -70.0    mV     reversal potential of the relative-refractory current
q_sfa         14.48    nS     g_sfa increment per spike
q_rr          3214.0   nS     g_rr increment per spike
tau_minus     20.0     ms     time constant of the post-synaptic STDP trace
============  =======  =====  ==========================================

NEST's checks (``BadProperty`` there, :class:`ModelError` here): ``V_reset
< V_th``, ``C_m > 0``, ``t_ref >= 0``, ``tau_syn_ex, tau_syn_in, tau_sfa,
tau_rr > 0``.

State (all recordable, as in NEST)
----------------------------------
=========  =======  ====  ==========================================
name       initial  unit  meaning
=========  =======  ====  ==========================================
V_m        E_L      mV    membrane potential
g_ex       0.0      nS    excitatory synaptic conductance
g_in       0.0      nS    inhibitory synaptic conductance
g_sfa      0.0      nS    spike-frequency adaptation conductance
g_rr       0.0      nS    relative refractory conductance
=========  =======  ====  ==========================================

Integration
-----------
NEST's GSL RKF45 with absolute tolerance 1e-3 over all five components, the
step size carried between steps, as described for ``iaf_cond_exp`` (the
kernel's ``_rkf45_evolve`` serves both). Order of one step (NEST's):
integrate over the step; add the step's spike input to ``g_ex``/``g_in``;
then either count down the refractory period (``V_m = V_reset``) or check the
threshold, and on a spike reset ``V_m`` and add ``q_sfa``, ``q_rr``; then
take the new ``I_stim``. The kernel keeps ``g_ex``, ``g_in`` in its ``I_ex``,
``I_in`` arrays and ``g_sfa``, ``g_rr`` in ``dI_ex``, ``dI_in``. Measured
against NEST 3.10 over 1.2 s (``tests/validation/test_cond_models_vs_nest.py``):
spike times identical, ``|dV_m| <= 9e-14`` mV, ``g_sfa`` to ~2e-14 nS, ``g_rr``
(thousands of nS) to ~1e-12 nS.

References
----------
1. Meffin H, Burkitt AN, Grayden DB (2004). An analytical model for the large,
   fluctuating synaptic conductance state typical of neocortical neurons in
   vivo. J Comput Neurosci 16:159-175.
   https://doi.org/10.1023/B:JCNS.0000014108.03012.81
2. Dayan P, Abbott LF (2001). Theoretical neuroscience: Computational and
   mathematical modeling of neural systems. MIT Press, p. 166 ff.

Sends: spikes. Receives: spikes, currents (dc_generator), Poisson drive.
See also: iaf_cond_exp, aeif_cond_alpha.
"""
from __future__ import annotations

import numpy as np

from ._base import NeuronModel, Param, col, positive
from .iaf_cond_exp import _check as _check_cond
from .iaf_cond_exp import _prepare as _prepare_cond

__all__ = ["model"]

KIND = 5

PARAMS = {
    "V_th": Param(-57.0, "mV", "spike threshold"),
    "V_reset": Param(-70.0, "mV", "reset potential"),
    "t_ref": Param(0.5, "ms", "absolute refractory period"),
    "g_L": Param(28.95, "nS", "leak conductance"),
    "C_m": Param(289.5, "pF", "membrane capacitance"),
    "E_ex": Param(0.0, "mV", "excitatory reversal potential"),
    "E_in": Param(-75.0, "mV", "inhibitory reversal potential"),
    "E_L": Param(-70.0, "mV", "leak reversal potential"),
    "tau_syn_ex": Param(1.5, "ms", "decay time of the excitatory conductance"),
    "tau_syn_in": Param(10.0, "ms", "decay time of the inhibitory conductance"),
    "I_e": Param(0.0, "pA", "constant input current"),
    "tau_sfa": Param(110.0, "ms", "decay time of g_sfa"),
    "tau_rr": Param(1.97, "ms", "decay time of g_rr"),
    "E_sfa": Param(-70.0, "mV", "reversal potential of the adaptation current"),
    "E_rr": Param(-70.0, "mV", "reversal potential of the relative-refractory current"),
    "q_sfa": Param(14.48, "nS", "g_sfa increment per spike"),
    "q_rr": Param(3214.0, "nS", "g_rr increment per spike"),
}

STATE = {
    "V_m": (-70.0, "mV", "membrane potential"),
    "g_ex": (0.0, "nS", "excitatory synaptic conductance"),
    "g_in": (0.0, "nS", "inhibitory synaptic conductance"),
    "g_sfa": (0.0, "nS", "spike-frequency adaptation conductance"),
    "g_rr": (0.0, "nS", "relative refractory conductance"),
}


def _check(where: str, p: dict[str, np.ndarray]) -> None:
    _check_cond(where, p)
    positive(where, p, "tau_sfa", "tau_rr")


def _prepare(p: dict[str, np.ndarray], h: float) -> tuple[np.ndarray, np.ndarray]:
    t, refr = _prepare_cond(p, h)
    t[:, col("tau_sfa")] = p["tau_sfa"]
    t[:, col("tau_rr")] = p["tau_rr"]
    t[:, col("E_sfa")] = p["E_sfa"] - p["E_L"]
    t[:, col("E_rr")] = p["E_rr"] - p["E_L"]
    t[:, col("q_sfa")] = p["q_sfa"]
    t[:, col("q_rr")] = p["q_rr"]
    return t, refr


model = NeuronModel("iaf_cond_exp_sfa_rr", KIND, PARAMS, STATE, prepare=_prepare, check=_check,
                    slots=("V_m", "g_ex", "g_in", "g_sfa", "g_rr"))
