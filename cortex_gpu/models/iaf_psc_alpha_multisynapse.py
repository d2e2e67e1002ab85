"""iaf_psc_alpha_multisynapse: leaky integrate-and-fire neuron with alpha-shaped currents on receptor ports.

Description
-----------
As ``iaf_psc_alpha``, but with ``n = len(tau_syn)`` receptor ports: a spike arriving on port
``k`` (``receptor_type`` k, 1 <= k <= n) of weight ``w`` (pA, either sign) starts an alpha
current of peak ``w`` at ``tau_syn[k-1]`` on that port. Port 0 takes currents only
(``dc_generator``); spikes on port 0 or above ``n`` are refused before building, naming
model, port and allowed range (NEST: IncompatibleReceptorType). ``V_m`` is bounded below by
``V_min``. A spike is emitted when ``V_m >= V_th``; the potential is then clamped to
``V_reset`` for ``t_ref``.

.. math::

   \\frac{dV_m}{dt} = -\\frac{V_m - E_L}{\\tau_m} + \\frac{\\sum_k I_{syn,k} + I_e + i_0}{C_m}

   I_{syn,k}(t) = \\sum_j w_j \\frac{t - t_j}{\\tau_{syn,k}} e^{1 - (t - t_j)/\\tau_{syn,k}}

Parameters
----------
============  ===========  =====  ==========================================
name          default      unit   meaning
============  ===========  =====  ==========================================
E_L           -70.0        mV     resting membrane potential
C_m           250.0        pF     membrane capacitance
tau_m         10.0         ms     membrane time constant
t_ref         2.0          ms     absolute refractory period
V_th          -55.0        mV     spike threshold
V_reset       -70.0        mV     reset potential
V_min         -inf         mV     lower bound of the membrane potential
I_e           0.0          pA     constant input current
tau_syn       [2.0]        ms     rise time of each port's alpha current
tau_minus     20.0         ms     time constant of the post-synaptic STDP trace
============  ===========  =====  ==========================================

State and recordables
---------------------
``V_m`` (mV); ``I_syn_1`` .. ``I_syn_n`` (pA), each port's current (NEST's ``y2``); ``I_syn``
(pA), their sum. The ports' dI (NEST's ``y1``) is kept but not recordable, as in NEST.

Receptor-port layout: as iaf_psc_exp_multisynapse (see its docstring); the port's dI takes
8 more bytes per port and neuron.

Integration
-----------
Exact integration with NEST's propagators, computed on the host with the C library's
``exp``/``expm1`` (``_iaf_propagator.py``): ``P33 = exp(-h/tau_m)`` (column ``P22``),
``P30 = 1/C_m (1 - P33) tau_m`` (column ``P20``); per port ``P11 = P22 = exp(-h/tau_syn)``,
``P21 = h P11``, ``(P31, P32)`` (IAFPropagatorAlpha, with its singular limit for
``tau_syn`` near ``tau_m``) and ``psc0 = e / tau_syn``. NEST's step order: if not
refractory, ``V = P30 (i_0 + I_e) + P33 V``, then ``V += P31_k dI_k + P32_k I_k`` port after
port, then ``V = max(V, V_min)``; else the countdown; then per port ``I_k = P21 dI_k + P22 I_k``,
``dI_k = dI_k P11 + psc0 w_k``; threshold and reset; then the new ``i_0``. Weights pass the
fixed-point accumulators as in iaf_psc_exp_multisynapse.

References
----------
1. Rotter S, Diesmann M (1999). Exact digital simulation of time-invariant linear systems with
   applications to neuronal modeling. Biol Cybern 81:381-402. https://doi.org/10.1007/s004220050570

Sends: spikes. Receives: spikes (ports 1..n), currents (port 0), Poisson drive (ports 1..n).
See also: iaf_psc_alpha, iaf_psc_exp_multisynapse.
"""
from __future__ import annotations

import math

import numpy as np

from ._base import N_PORT_PROP, NeuronModel, Param, col, refractory_steps
from ._iaf_propagator import p31_p32
from .iaf_psc_exp_multisynapse import check_common, membrane_columns

__all__ = ["model"]

KIND = 10

PARAMS = {
    "E_L": Param(-70.0, "mV", "resting membrane potential"),
    "C_m": Param(250.0, "pF", "membrane capacitance"),
    "tau_m": Param(10.0, "ms", "membrane time constant"),
    "t_ref": Param(2.0, "ms", "absolute refractory period"),
    "V_th": Param(-55.0, "mV", "spike threshold"),
    "V_reset": Param(-70.0, "mV", "reset potential"),
    "V_min": Param(-np.inf, "mV", "lower bound of the membrane potential"),
    "I_e": Param(0.0, "pA", "constant input current"),
    "tau_minus": Param(20.0, "ms", "time constant of the post-synaptic STDP trace"),
}

STATE = {
    "V_m": (-70.0, "mV", "membrane potential"),
}


def _check(where: str, p: dict[str, np.ndarray]) -> None:
    check_common(where, "iaf_psc_alpha_multisynapse", p)


def _prepare(p: dict[str, np.ndarray], h: float) -> tuple[np.ndarray, np.ndarray]:
    t = membrane_columns(p, h, False)
    t[:, col("V_min")] = p["V_min"] - p["E_L"]
    return t, refractory_steps(p["t_ref"], h)


def _prepare_ports(p: dict[str, np.ndarray], lists: list[tuple[float, ...]], h: float) -> np.ndarray:
    """Per port of each neuron, in order: P11, P21 = h P11, P31, P32, psc0 = e / tau_syn."""
    n = len(lists)
    tau_m = np.broadcast_to(np.asarray(p["tau_m"], float), (n,))
    c_m = np.broadcast_to(np.asarray(p["C_m"], float), (n,))
    out = np.zeros((sum(len(x) for x in lists), N_PORT_PROP))
    cache: dict[tuple[float, float, float], tuple[float, ...]] = {}
    r = 0
    for i, lst in enumerate(lists):
        for tau_s in lst:
            key = (tau_s, float(tau_m[i]), float(c_m[i]))
            if key not in cache:
                p11 = math.exp(-h / tau_s)
                p31, p32 = p31_p32(tau_s, key[1], key[2], h)
                cache[key] = (p11, h * p11, p31, p32, 1.0 * math.e / tau_s)
            out[r] = cache[key]
            r += 1
    return out


model = NeuronModel("iaf_psc_alpha_multisynapse", KIND, PARAMS, STATE, prepare=_prepare, check=_check,
                    slots=("V_m",), recordables=("V_m", "I_syn"), port_param="tau_syn", port_default=(2.0,),
                    prepare_ports=_prepare_ports)
