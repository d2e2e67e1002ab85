"""aeif_cond_alpha: adaptive exponential integrate-and-fire neuron (AdEx) with alpha-shaped conductances.

Description
-----------
``aeif_cond_exp``'s membrane and adaptation (Brette and Gerstner's AdEx) with
``iaf_cond_alpha``'s synapses: a spike of weight ``w_syn`` (nS) kicks
``dg_ex`` (``w_syn > 0``) or ``dg_in`` (``|w_syn|`` otherwise) by ``e /
tau_syn * |w_syn|``, so that the conductance peaks at ``|w_syn|`` after
``tau_syn``.

.. math::

   C_m \\frac{dV}{dt} = -g_L (V - E_L) + g_L \\Delta_T e^{(V - V_{th})/\\Delta_T}
       - g_{ex} (V - E_{ex}) - g_{in} (V - E_{in}) - w + I_e + I_{stim}

   \\tau_w \\frac{dw}{dt} = a (V - E_L) - w, \\qquad
   \\frac{d\\,dg_X}{dt} = -\\frac{dg_X}{\\tau_{syn,X}}, \\qquad
   \\frac{dg_X}{dt} = dg_X - \\frac{g_X}{\\tau_{syn,X}}

Spike, reset, refractoriness, the right-hand side's ``min(V, V_peak)`` and the
solver are ``aeif_cond_exp``'s (see there).

Parameters
----------
The parameters, defaults, units and NEST's checks are ``aeif_cond_exp``'s:
``V_peak`` 0 mV, ``V_reset`` -60 mV, ``t_ref`` 0 ms, ``g_L`` 30 nS, ``C_m``
281 pF, ``E_ex`` 0 mV, ``E_in`` -85 mV, ``E_L`` -70.6 mV, ``Delta_T`` 2 mV,
``tau_w`` 144 ms, ``a`` 4 nS, ``b`` 80.5 pA, ``V_th`` -50.4 mV,
``tau_syn_ex`` 0.2 ms and ``tau_syn_in`` 2 ms (here rise times of the alpha
functions), ``I_e`` 0 pA, ``gsl_error_tol`` 1e-6, ``tau_minus`` 20 ms.

State
-----
=====  =======  ======  ==================================================
name   initial  unit    meaning
=====  =======  ======  ==================================================
V_m    E_L      mV      membrane potential
g_ex   0.0      nS      excitatory synaptic conductance
dg_ex  0.0      nS/ms   its derivative
g_in   0.0      nS      inhibitory synaptic conductance
dg_in  0.0      nS/ms   its derivative
w      0.0      pA      adaptation current
=====  =======  ======  ==================================================

Recordables (NEST's): ``V_m``, ``g_ex``, ``g_in``, ``w``.

Integration
-----------
As ``aeif_cond_exp`` (NEST's RKF45 with ``control_yp``, spikes checked
after every accepted Fehlberg step), over six components; after the step the
spike input goes to ``dg_ex``/``dg_in`` (times ``e / tau_syn``, NEST's
``g0``). The kernel keeps ``g_ex``, ``g_in`` in its ``I_ex``, ``I_in``
arrays, ``dg_ex``, ``dg_in`` in ``dI_ex``, ``dI_in`` and ``w`` in ``w_ad``;
potentials absolute. Measured against NEST 3.10 in
``tests/validation/test_cond_models_vs_nest.py``: spike times and every
recordable identical (difference 0.0) over 1.2 s.

References
----------
1. Brette R, Gerstner W (2005). Adaptive exponential integrate-and-fire model
   as an effective description of neuronal activity. J Neurophysiol
   94:3637-3642. https://doi.org/10.1152/jn.00686.2005

Sends: spikes. Receives: spikes, currents (dc_generator), Poisson drive.
See also: aeif_cond_exp, iaf_cond_alpha.
"""
from __future__ import annotations

import numpy as np

from ._base import NeuronModel, col
from .aeif_cond_exp import PARAMS, _check
from .aeif_cond_exp import _prepare as _prepare_exp

__all__ = ["model"]

KIND = 7

STATE = {
    "V_m": (-70.6, "mV", "membrane potential"),
    "g_ex": (0.0, "nS", "excitatory synaptic conductance"),
    "dg_ex": (0.0, "nS/ms", "derivative of the excitatory synaptic conductance"),
    "g_in": (0.0, "nS", "inhibitory synaptic conductance"),
    "dg_in": (0.0, "nS/ms", "derivative of the inhibitory synaptic conductance"),
    "w": (0.0, "pA", "adaptation current"),
}


def _prepare(p: dict[str, np.ndarray], h: float) -> tuple[np.ndarray, np.ndarray]:
    t, refr = _prepare_exp(p, h)
    t[:, col("psc0ex")] = 1.0 * np.e / p["tau_syn_ex"]     # NEST's g0_ex: 1 nS of weight peaks at 1 nS
    t[:, col("psc0in")] = 1.0 * np.e / p["tau_syn_in"]
    return t, refr


model = NeuronModel("aeif_cond_alpha", KIND, dict(PARAMS), STATE, prepare=_prepare, check=_check,
                    slots=("V_m", "g_ex", "g_in", "dg_ex", "dg_in", "w"),
                    recordables=("V_m", "g_ex", "g_in", "w"))
