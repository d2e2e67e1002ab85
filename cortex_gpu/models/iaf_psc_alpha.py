"""iaf_psc_alpha: leaky integrate-and-fire neuron with alpha-shaped post-synaptic currents.

Description
-----------
As ``iaf_psc_exp``, but each spike of weight ``w`` evokes a current
``w * e * t/tau_syn * exp(-t/tau_syn)``, which peaks at ``w`` pA after
``tau_syn``. Positive weights are excitatory, negative inhibitory.

.. math::

   \\frac{dV_m}{dt} = -\\frac{V_m - E_L}{\\tau_m} + \\frac{I_{ex} + I_{in} + I_e + i_0}{C_m}

   \\frac{d\\,dI_X}{dt} = -\\frac{dI_X}{\\tau_{syn,X}}, \\qquad
   \\frac{dI_X}{dt} = dI_X - \\frac{I_X}{\\tau_{syn,X}}, \\qquad
   dI_X \\mathrel{+}= \\frac{e}{\\tau_{syn,X}} w

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
V_min         -inf     mV     lower bound of the membrane potential
tau_syn_ex    2.0      ms     rise time of the excitatory synaptic alpha function
tau_syn_in    2.0      ms     rise time of the inhibitory synaptic alpha function
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
Exact integration with propagators computed once in float64 on the host,
in NEST's step order (see ``backends/cpu.py``, ``update_neurons``).

References
----------
1. Rotter S, Diesmann M (1999). Exact digital simulation of time-invariant
   linear systems with applications to neuronal modeling. Biol Cybern
   81:381-402. https://doi.org/10.1007/s004220050570
2. Morrison A, Straube S, Plesser HE, Diesmann M (2007). Exact subthreshold
   integration with continuous spike times in discrete time neural network
   simulations. Neural Comput 19:47-79. https://doi.org/10.1162/neco.2007.19.1.47

Sends: spikes. Receives: spikes, currents (dc_generator), Poisson drive.
See also: iaf_psc_exp.
"""
from __future__ import annotations

import numpy as np

from ._base import N_PROP, ModelError, NeuronModel, Param, col, expm1_ratio_propagator, positive, refractory_steps

__all__ = ["model"]

KIND = 1

PARAMS = {
    "E_L": Param(-70.0, "mV", "resting membrane potential"),
    "C_m": Param(250.0, "pF", "membrane capacitance"),
    "tau_m": Param(10.0, "ms", "membrane time constant"),
    "t_ref": Param(2.0, "ms", "absolute refractory period"),
    "V_th": Param(-55.0, "mV", "spike threshold"),
    "V_reset": Param(-70.0, "mV", "reset potential"),
    "V_min": Param(-np.inf, "mV", "lower bound of the membrane potential"),
    "tau_syn_ex": Param(2.0, "ms", "rise time of the excitatory synaptic alpha function"),
    "tau_syn_in": Param(2.0, "ms", "rise time of the inhibitory synaptic alpha function"),
    "I_e": Param(0.0, "pA", "constant input current"),
    "tau_minus": Param(20.0, "ms", "time constant of the post-synaptic STDP trace"),
}

STATE = {
    "V_m": (-70.0, "mV", "membrane potential"),
    "I_syn_ex": (0.0, "pA", "excitatory synaptic current"),
    "I_syn_in": (0.0, "pA", "inhibitory synaptic current"),
}


def _check(where: str, p: dict[str, np.ndarray]) -> None:
    positive(where, p, "C_m", "tau_m", "tau_syn_ex", "tau_syn_in", "tau_minus")
    if np.any(np.asarray(p["t_ref"]) < 0):
        raise ModelError(f"{where}: t_ref must be >= 0, got {np.min(p['t_ref'])}")
    if np.any(np.asarray(p["V_reset"]) >= np.asarray(p["V_th"])):
        raise ModelError(f"{where}: V_reset must be smaller than V_th")


def _alpha_pair(tau_s: np.ndarray, tau_m: np.ndarray, c_m: np.ndarray, h: float):
    """(P31, P32): effect on V of dI and I over one step, stable for tau_m ~ tau_s."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        beta = tau_s * tau_m / (tau_m - tau_s)
        gamma = beta / c_m
        e = np.exp(-h / tau_s)
        em1 = np.expm1(h / beta)
        p32 = gamma * e * em1
        p31 = gamma * e * (beta * em1 - h)
    ok = np.isfinite(p32) & (p32 >= np.finfo(float).tiny) & np.isfinite(p31) & (p31 >= np.finfo(float).tiny)
    sing31 = 0.5 * h * h / c_m * np.exp(-h / tau_m)
    sing32 = h / c_m * np.exp(-h / tau_m)
    return np.where(ok, p31, sing31), np.where(ok, p32, sing32)


def _prepare(p: dict[str, np.ndarray], h: float) -> tuple[np.ndarray, np.ndarray]:
    n = len(p["C_m"])
    t = np.zeros((n, N_PROP))
    t[:, col("P22")] = np.expm1(-h / p["tau_m"])
    t[:, col("P20")] = -p["tau_m"] / p["C_m"] * np.expm1(-h / p["tau_m"])
    for rec in ("ex", "in"):
        tau_s = p[f"tau_syn_{rec}"]
        p11 = np.exp(-h / tau_s)
        t[:, col(f"P11{rec}")] = p11
        t[:, col(f"P21I{rec}")] = h * p11
        p31, p32 = _alpha_pair(tau_s, p["tau_m"], p["C_m"], h)
        t[:, col(f"P31{rec}")] = p31
        t[:, col(f"P21{rec}")] = p32
        t[:, col(f"psc0{rec}")] = np.e / tau_s
    t[:, col("I_e")] = p["I_e"]
    t[:, col("theta")] = p["V_th"] - p["E_L"]
    t[:, col("V_reset")] = p["V_reset"] - p["E_L"]
    t[:, col("E_L")] = p["E_L"]
    t[:, col("V_min")] = p["V_min"] - p["E_L"]
    return t, refractory_steps(p["t_ref"], h)


model = NeuronModel("iaf_psc_alpha", KIND, PARAMS, STATE, prepare=_prepare, check=_check)
