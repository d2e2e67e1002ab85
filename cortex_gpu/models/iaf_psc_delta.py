"""iaf_psc_delta: leaky integrate-and-fire neuron with delta-shaped post-synaptic potentials.

Description
-----------
The membrane potential integrates a leak, a constant current ``I_e`` and a
piecewise-constant current input ``i_0`` (``dc_generator``); a spike of
weight ``w`` (mV) makes ``V_m`` jump by ``w`` in the step it arrives,
excitatory (``w >= 0``) and inhibitory (``w < 0``) alike. A spike is emitted
when ``V_m >= V_th``; the potential is then clamped to ``V_reset`` for
``t_ref``. ``V_m`` is bounded below by ``V_min``.

Spikes arriving while the neuron is refractory are discarded, unless
``refractory_input`` is true: then each is kept, decayed by
``exp(-r h / tau_m)`` for the ``r`` refractory steps left when it arrived,
and the sum is added to ``V_m`` in the first step after refractoriness.

.. math::

   \\frac{dV_m}{dt} = -\\frac{V_m - E_L}{\\tau_m} + \\frac{I_e + i_0}{C_m}
   + \\sum_k w_k \\, \\delta(t - t_k)

Parameters
----------
================  ===========  =====  ==========================================
name              default      unit   meaning
================  ===========  =====  ==========================================
E_L               -70.0        mV     resting membrane potential
C_m               250.0        pF     membrane capacitance
tau_m             10.0         ms     membrane time constant
t_ref             2.0          ms     absolute refractory period
V_th              -55.0        mV     spike threshold
V_reset           -70.0        mV     reset potential
V_min             -DBL_MAX     mV     lower bound of the membrane potential
I_e               0.0          pA     constant input current
refractory_input  0 (False)    --     buffer input arriving while refractory
tau_minus         20.0         ms     time constant of the post-synaptic STDP trace
================  ===========  =====  ==========================================

State
-----
=========  =======  ====  ==================================
name       initial  unit  meaning
=========  =======  ====  ==================================
V_m        E_L      mV    membrane potential (the only recordable, as in NEST)
=========  =======  ====  ==================================

The input buffered during refractoriness lives in the kernels' ``I_ex``
array (not a recordable; NEST does not expose it either).

Integration
-----------
Exact integration (Rotter & Diesmann 1999): ``P33 = exp(-h/tau_m)`` and
``P30 = -tau_m/C_m * expm1(-h/tau_m)``, computed once in float64 on the host.
Step order is NEST's (``backends/cpu.py`` ``update``): if not refractory,
``V = P30 (i_0 + I_e) + P33 V + w_step``, plus the refractory buffer, then
clamped at ``V_min``; if refractory, the step's input is buffered (or
dropped) and the countdown decrements. Then threshold and reset, then the
new ``i_0``. The buffer decays by ``P33`` per refractory step
(``buf = (buf + w) * P33``), which equals NEST's ``w * exp(-r h/tau_m)`` up
to rounding (a few ulp) and keeps the CPU and CUDA backends bit-identical
(no ``exp`` in the kernels). Weights reach the kernels through the fixed-point
accumulators (2**-32 mV units), so a weight that is not a multiple of 2**-32 mV
is rounded by at most 1.2e-10 mV per spike before it is summed.

References
----------
1. Rotter S, Diesmann M (1999). Exact digital simulation of time-invariant
   linear systems with applications to neuronal modeling. Biol Cybern
   81:381-402. https://doi.org/10.1007/s004220050570
2. Diesmann M, Gewaltig M-O, Rotter S, Aertsen A (2001). State space analysis
   of synchronous spiking in cortical neural networks. Neurocomputing
   38-40:565-571. https://doi.org/10.1016/S0925-2312(01)00409-X

Sends: spikes. Receives: spikes, currents (dc_generator), Poisson drive.
See also: iaf_psc_alpha, iaf_psc_exp.
"""
from __future__ import annotations

import numpy as np

from ._base import N_PROP, ModelError, NeuronModel, Param, col, refractory_steps

__all__ = ["model"]

KIND = 8

PARAMS = {
    "E_L": Param(-70.0, "mV", "resting membrane potential"),
    "C_m": Param(250.0, "pF", "membrane capacitance"),
    "tau_m": Param(10.0, "ms", "membrane time constant"),
    "t_ref": Param(2.0, "ms", "absolute refractory period"),
    "V_th": Param(-55.0, "mV", "spike threshold"),
    "V_reset": Param(-70.0, "mV", "reset potential"),
    "V_min": Param(-np.finfo(float).max, "mV", "lower bound of the membrane potential"),
    "I_e": Param(0.0, "pA", "constant input current"),
    "refractory_input": Param(0.0, "", "1 (True): input arriving while refractory is added afterwards",
                              boolean=True),
    "tau_minus": Param(20.0, "ms", "time constant of the post-synaptic STDP trace"),
}

STATE = {
    "V_m": (-70.0, "mV", "membrane potential"),
}


def _first_bad(where: str, what: str, bad: np.ndarray, **values: np.ndarray) -> None:
    """Raise naming the model, ``what`` and the values at the first neuron where ``bad`` holds."""
    if np.any(bad):
        i = int(np.flatnonzero(np.ravel(bad))[0])
        got = ", ".join(f"{k} = {np.broadcast_to(v, np.shape(bad)).flat[i]}" for k, v in values.items())
        raise ModelError(f"{where}: model iaf_psc_delta: {what}, got {got}")


def _check(where: str, p: dict[str, np.ndarray]) -> None:
    """NEST's checks (iaf_psc_delta's parameter set), naming model, parameter and value."""
    c_m, tau_m, t_ref = (np.asarray(p[k], float) for k in ("C_m", "tau_m", "t_ref"))
    _first_bad(where, "C_m must be > 0 (capacitance)", c_m <= 0, C_m=c_m)
    _first_bad(where, "tau_m must be > 0 (membrane time constant)", tau_m <= 0, tau_m=tau_m)
    _first_bad(where, "t_ref must not be negative", t_ref < 0, t_ref=t_ref)
    v_reset, v_th = np.asarray(p["V_reset"], float), np.asarray(p["V_th"], float)
    _first_bad(where, "V_reset must be smaller than V_th", np.broadcast_arrays(v_reset >= v_th)[0],
               V_reset=v_reset, V_th=v_th)
    r = np.asarray(p["refractory_input"], float)
    _first_bad(where, "refractory_input must be True or False", (r != 0.0) & (r != 1.0), refractory_input=r)


def _prepare(p: dict[str, np.ndarray], h: float) -> tuple[np.ndarray, np.ndarray]:
    n = len(p["C_m"])
    t = np.zeros((n, N_PROP))
    t[:, col("P22")] = np.exp(-h / p["tau_m"])
    t[:, col("P20")] = -p["tau_m"] / p["C_m"] * np.expm1(-h / p["tau_m"])
    t[:, col("I_e")] = p["I_e"]
    t[:, col("theta")] = p["V_th"] - p["E_L"]
    t[:, col("V_reset")] = p["V_reset"] - p["E_L"]
    t[:, col("E_L")] = p["E_L"]
    t[:, col("V_min")] = p["V_min"] - p["E_L"]
    t[:, col("refr_input")] = p["refractory_input"]
    return t, refractory_steps(p["t_ref"], h)


model = NeuronModel("iaf_psc_delta", KIND, PARAMS, STATE, prepare=_prepare, check=_check, slots=("V_m",))
