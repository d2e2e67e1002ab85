"""iaf_cond_alpha: leaky integrate-and-fire neuron with alpha-shaped synaptic conductances.

Description
-----------
As ``iaf_cond_exp``, but a spike of weight ``w`` (nS) evokes an alpha-shaped
conductance ``w * t/tau_syn * exp(1 - t/tau_syn)`` (peak ``w`` at ``t =
tau_syn``) on the excitatory (``w > 0``) or inhibitory (``w <= 0``, magnitude
``|w|``) side. Each conductance is a pair of linear ODEs: the spike kicks the
derivative ``dg``, which drives ``g``.

.. math::

   C_m \\frac{dV_m}{dt} = -g_L (V_m - E_L) - g_{ex} (V_m - E_{ex})
                          - g_{in} (V_m - E_{in}) + I_{stim} + I_e

   \\frac{d\\,dg_X}{dt} = -\\frac{dg_X}{\\tau_{syn,X}}, \\qquad
   \\frac{dg_X}{dt} = dg_X - \\frac{g_X}{\\tau_{syn,X}}, \\qquad
   dg_X \\mathrel{+}= \\frac{e}{\\tau_{syn,X}} |w|

As in NEST, the currents are evaluated at ``min(V_m, V_th)`` and ``dV_m/dt =
0`` while refractory (``e / tau_syn`` is NEST's ``PSConInit``, so that a
weight of 1 nS peaks at 1 nS).

Parameters
----------
============  =======  =====  ==========================================
name          default  unit   meaning
============  =======  =====  ==========================================
V_th          -55.0    mV     spike threshold
V_reset       -60.0    mV     reset potential
t_ref         2.0      ms     absolute refractory period
g_L           16.6667  nS     leak conductance
C_m           250.0    pF     membrane capacitance
E_ex          0.0      mV     excitatory reversal potential
E_in          -85.0    mV     inhibitory reversal potential
E_L           -70.0    mV     leak reversal potential
tau_syn_ex    0.2      ms     rise time of the excitatory conductance
tau_syn_in    2.0      ms     rise time of the inhibitory conductance
I_e           0.0      pA     constant input current
tau_minus     20.0     ms     time constant of the post-synaptic STDP trace
============  =======  =====  ==========================================

NEST's checks (``BadProperty`` there, :class:`ModelError` here): ``V_reset
< V_th``, ``C_m > 0``, ``t_ref >= 0``, ``tau_syn_ex, tau_syn_in > 0``.

State
-----
=========  =======  ======  ======================================
name       initial  unit    meaning
=========  =======  ======  ======================================
V_m        E_L      mV      membrane potential
g_ex       0.0      nS      excitatory synaptic conductance
dg_ex      0.0      nS/ms   its derivative
g_in       0.0      nS      inhibitory synaptic conductance
dg_in      0.0      nS/ms   its derivative
=========  =======  ======  ======================================

Recordables (NEST's): ``V_m``, ``g_ex``, ``g_in``, ``t_ref_remaining`` (ms).

Integration
-----------
NEST's GSL RKF45 with absolute tolerance 1e-3 over all five components, the
step size carried between steps, as described for ``iaf_cond_exp`` (the
kernel's ``_rkf45_evolve`` serves both). Order of one step (NEST's): integrate
over the step; then either count down the refractory period (``V_m =
V_reset``) or check the threshold; then add the step's spike input to
``dg_ex``/``dg_in`` (after the threshold, unlike iaf_cond_exp, which adds it
to ``g`` before); then take the new ``I_stim``. The kernel keeps ``g_ex``,
``g_in`` in its ``I_ex``, ``I_in`` arrays and ``dg_ex``, ``dg_in`` in
``dI_ex``, ``dI_in``. Measured against NEST 3.10 over 1.2 s
(``tests/validation/test_cond_models_vs_nest.py``): spike times identical,
``|dV_m| <= 2.5e-13`` mV, ``g_ex``/``g_in`` to ~4e-15 nS.

References
----------
1. Meffin H, Burkitt AN, Grayden DB (2004). An analytical model for the large,
   fluctuating synaptic conductance state typical of neocortical neurons in
   vivo. J Comput Neurosci 16:159-175.
   https://doi.org/10.1023/B:JCNS.0000014108.03012.81
2. Bernander O, Douglas RJ, Martin KAC, Koch C (1991). Synaptic background
   activity influences spatiotemporal integration in single pyramidal cells.
   PNAS 88(24):11569-11573. https://doi.org/10.1073/pnas.88.24.11569
3. Kuhn A, Rotter S (2004). Neuronal integration of synaptic input in the
   fluctuation-driven regime. J Neurosci 24(10):2345-2356.
   https://doi.org/10.1523/JNEUROSCI.3349-03.2004

Sends: spikes. Receives: spikes, currents (dc_generator), Poisson drive.
See also: iaf_cond_exp, iaf_psc_alpha.
"""
from __future__ import annotations

import numpy as np

from ._base import NeuronModel, Param, col
from .iaf_cond_exp import PARAMS as _COND_EXP_PARAMS
from .iaf_cond_exp import _check, _prepare as _prepare_cond

__all__ = ["model"]

KIND = 4

PARAMS = {**_COND_EXP_PARAMS,
          "tau_syn_ex": Param(0.2, "ms", "rise time of the excitatory conductance"),
          "tau_syn_in": Param(2.0, "ms", "rise time of the inhibitory conductance")}

STATE = {
    "V_m": (-70.0, "mV", "membrane potential"),
    "g_ex": (0.0, "nS", "excitatory synaptic conductance"),
    "dg_ex": (0.0, "nS/ms", "derivative of the excitatory synaptic conductance"),
    "g_in": (0.0, "nS", "inhibitory synaptic conductance"),
    "dg_in": (0.0, "nS/ms", "derivative of the inhibitory synaptic conductance"),
}


def _prepare(p: dict[str, np.ndarray], h: float) -> tuple[np.ndarray, np.ndarray]:
    t, refr = _prepare_cond(p, h)
    # NEST's PSConInit: a weight of 1 nS peaks at 1 nS
    t[:, col("psc0ex")] = 1.0 * np.e / p["tau_syn_ex"]
    t[:, col("psc0in")] = 1.0 * np.e / p["tau_syn_in"]
    return t, refr


model = NeuronModel("iaf_cond_alpha", KIND, PARAMS, STATE, prepare=_prepare, check=_check,
                    slots=("V_m", "g_ex", "g_in", "dg_ex", "dg_in"),
                    recordables=("V_m", "g_ex", "g_in", "t_ref_remaining"))
