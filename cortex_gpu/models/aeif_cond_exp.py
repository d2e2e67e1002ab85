"""aeif_cond_exp: adaptive exponential integrate-and-fire neuron (AdEx) with exponentially decaying conductances.

Description
-----------
Brette and Gerstner's AdEx model: an exponential spike-initiation current and
an adaptation current ``w`` with subthreshold (``a``) and spike-triggered
(``b``) parts; synaptic input as in ``iaf_cond_exp`` (a spike of weight ``w_syn``
nS increments ``g_ex`` by ``w_syn > 0``, ``g_in`` by ``|w_syn|`` otherwise).

.. math::

   C_m \\frac{dV}{dt} = -g_L (V - E_L) + g_L \\Delta_T e^{(V - V_{th})/\\Delta_T}
       - g_{ex} (V - E_{ex}) - g_{in} (V - E_{in}) - w + I_e + I_{stim}

   \\tau_w \\frac{dw}{dt} = a (V - E_L) - w, \\qquad
   \\frac{dg_X}{dt} = -\\frac{g_X}{\\tau_{syn,X}}

At ``V >= V_peak`` (``V_th`` when ``Delta_T = 0``) the neuron spikes: ``V``
is set to ``V_reset``, ``w`` grows by ``b`` and ``V`` stays at ``V_reset``
for ``t_ref``. As in NEST, the right-hand side takes ``V`` at ``min(V,
V_peak)``, and at ``V_reset`` while refractory (``dV/dt = 0``; ``w`` keeps
evolving).

Parameters
----------
=============  =======  =====  ===============================================
name           default  unit   meaning
=============  =======  =====  ===============================================
V_peak         0.0      mV     spike detection threshold
V_reset        -60.0    mV     reset potential
t_ref          0.0      ms     absolute refractory period
g_L            30.0     nS     leak conductance
C_m            281.0    pF     membrane capacitance
E_ex           0.0      mV     excitatory reversal potential
E_in           -85.0    mV     inhibitory reversal potential
E_L            -70.6    mV     leak reversal potential
Delta_T        2.0      mV     slope factor of the exponential term
tau_w          144.0    ms     adaptation time constant
a              4.0      nS     subthreshold adaptation
b              80.5     pA     spike-triggered adaptation
V_th           -50.4    mV     spike initiation threshold (of the exponential)
tau_syn_ex     0.2      ms     decay time of the excitatory conductance
tau_syn_in     2.0      ms     decay time of the inhibitory conductance
I_e            0.0      pA     constant input current
gsl_error_tol  1e-6     --     absolute and relative tolerance of the solver
tau_minus      20.0     ms     time constant of the post-synaptic STDP trace
=============  =======  =====  ===============================================

NEST's checks (``BadProperty`` there, :class:`ModelError` here), in NEST's
order: ``V_reset < V_peak``, ``Delta_T >= 0``, ``(V_peak - V_th) / Delta_T <
log(DBL_MAX / 1e20)`` (no overflow at the spike), ``V_peak >= V_th``, ``C_m >
0``, ``t_ref >= 0``, ``tau_syn_ex, tau_syn_in, tau_w > 0``, ``gsl_error_tol
> 0``.

State (all recordable, as in NEST)
----------------------------------
=====  =======  ====  ==================================
name   initial  unit  meaning
=====  =======  ====  ==================================
V_m    E_L      mV    membrane potential
g_ex   0.0      nS    excitatory synaptic conductance
g_in   0.0      nS    inhibitory synaptic conductance
w      0.0      pA    adaptation current
=====  =======  ====  ==================================

Integration
-----------
NEST's GSL RKF45 (``backends/cpu.py`` ``_rkf45_evolve``, as for
``iaf_cond_exp``) but with NEST's ``control_yp`` step control, both
tolerances ``gsl_error_tol``: a Fehlberg step's error ``err_i`` is measured
against ``tol * |h f_i| + tol``, ``f_i`` the derivative at the new point.
Order of one step (NEST's): integrate; after every accepted Fehlberg step
check NEST's numerical instability (``V_m < -1000`` mV or ``|w| > 1e6``:
the run stops with an error), clamp ``V_m`` while refractory, or detect a
spike (reset, ``w += b``, refractory count ``t_ref/h + 1``, or 0 without
``t_ref``) and go on integrating the rest of the step; then count the
refractory period down, add the step's spike input to ``g_ex``/``g_in`` and
take the new ``I_stim``. A second spike of one neuron within one step (only
with ``t_ref = 0`` and a very fast rise) is not built and stops the run.
Unlike the iaf_cond models, the kernel keeps this model's potentials
absolute (its ``E_L`` column is 0), so that the right-hand side computes
NEST's expressions; ``w`` lives in the ``w_ad`` array. Measured against
NEST 3.10 in ``tests/validation/test_cond_models_vs_nest.py``: spike times and every recordable
identical (difference 0.0) over 1.2 s.

References
----------
1. Brette R, Gerstner W (2005). Adaptive exponential integrate-and-fire model
   as an effective description of neuronal activity. J Neurophysiol
   94:3637-3642. https://doi.org/10.1152/jn.00686.2005

Sends: spikes. Receives: spikes, currents (dc_generator), Poisson drive.
See also: iaf_cond_exp, iaf_cond_exp_sfa_rr.
"""
from __future__ import annotations

import numpy as np

from ._base import N_PROP, ModelError, NeuronModel, Param, col, positive, refractory_steps

__all__ = ["model"]

KIND = 6

PARAMS = {
    "V_peak": Param(0.0, "mV", "spike detection threshold"),
    "V_reset": Param(-60.0, "mV", "reset potential"),
    "t_ref": Param(0.0, "ms", "absolute refractory period"),
    "g_L": Param(30.0, "nS", "leak conductance"),
    "C_m": Param(281.0, "pF", "membrane capacitance"),
    "E_ex": Param(0.0, "mV", "excitatory reversal potential"),
    "E_in": Param(-85.0, "mV", "inhibitory reversal potential"),
    "E_L": Param(-70.6, "mV", "leak reversal potential"),
    "Delta_T": Param(2.0, "mV", "slope factor of the exponential term"),
    "tau_w": Param(144.0, "ms", "adaptation time constant"),
    "a": Param(4.0, "nS", "subthreshold adaptation"),
    "b": Param(80.5, "pA", "spike-triggered adaptation"),
    "V_th": Param(-50.4, "mV", "spike initiation threshold"),
    "tau_syn_ex": Param(0.2, "ms", "decay time of the excitatory conductance"),
    "tau_syn_in": Param(2.0, "ms", "decay time of the inhibitory conductance"),
    "I_e": Param(0.0, "pA", "constant input current"),
    "gsl_error_tol": Param(1e-6, "", "absolute and relative tolerance of the ODE solver"),
}

STATE = {
    "V_m": (-70.6, "mV", "membrane potential"),
    "g_ex": (0.0, "nS", "excitatory synaptic conductance"),
    "g_in": (0.0, "nS", "inhibitory synaptic conductance"),
    "w": (0.0, "pA", "adaptation current"),
}

#: NEST's bound on the exponent at the spike: log(DBL_MAX / 1e20)
_MAX_EXP_ARG = float(np.log(np.finfo(float).max / 1e20))


def _first(where: str, bad: np.ndarray, p: dict[str, np.ndarray], names: tuple[str, ...], rule: str) -> None:
    if np.any(bad):
        arrays = np.broadcast_arrays(*(np.asarray(p[k], dtype=float) for k in names))
        i = np.flatnonzero(np.broadcast_to(bad, arrays[0].shape))[0]
        got = ", ".join(f"{k} = {a.flat[i]}" for k, a in zip(names, arrays))
        raise ModelError(f"{where}: {rule}, got {got}")


def _check(where: str, p: dict[str, np.ndarray]) -> None:
    # NEST's checks (Parameters_::set), in its order
    v_peak, v_th, dT = (np.asarray(p[k], dtype=float) for k in ("V_peak", "V_th", "Delta_T"))
    _first(where, np.asarray(p["V_reset"]) >= v_peak, p, ("V_reset", "V_peak"), "V_reset must be smaller than V_peak")
    _first(where, dT < 0, p, ("Delta_T",), "Delta_T must be >= 0")
    with np.errstate(divide="ignore", invalid="ignore"):
        overflow = (dT > 0) & ((v_peak - v_th) / np.where(dT > 0, dT, 1.0) >= _MAX_EXP_ARG)
    _first(where, overflow, p, ("V_peak", "V_th", "Delta_T"),
           "(V_peak - V_th) / Delta_T would overflow the exponential at the spike (increase Delta_T or reduce V_peak)")
    _first(where, v_peak < v_th, p, ("V_peak", "V_th"), "V_peak must be >= V_th")
    positive(where, p, "C_m")
    if np.any(np.asarray(p["t_ref"]) < 0):
        raise ModelError(f"{where}: t_ref must be >= 0, got {np.min(p['t_ref'])}")
    positive(where, p, "tau_syn_ex", "tau_syn_in", "tau_w", "gsl_error_tol")


def _prepare(p: dict[str, np.ndarray], h: float) -> tuple[np.ndarray, np.ndarray]:
    # potentials absolute (E_L column 0), so that the right-hand side computes NEST's expressions
    n = len(p["C_m"])
    t = np.zeros((n, N_PROP))
    t[:, col("I_e")] = p["I_e"]
    t[:, col("theta")] = np.where(p["Delta_T"] > 0, p["V_peak"], p["V_th"])   # NEST's V_.V_peak
    t[:, col("V_reset")] = p["V_reset"]
    t[:, col("E_L")] = 0.0
    t[:, col("V_min")] = -np.inf
    t[:, col("g_L")] = p["g_L"]
    t[:, col("C_m")] = p["C_m"]
    t[:, col("E_ex")] = p["E_ex"]
    t[:, col("E_in")] = p["E_in"]
    t[:, col("tau_syn_ex")] = p["tau_syn_ex"]
    t[:, col("tau_syn_in")] = p["tau_syn_in"]
    t[:, col("h")] = h
    for k in ("Delta_T", "tau_w", "a", "b", "V_peak", "V_th", "gsl_error_tol"):
        t[:, col(k)] = p[k]
    t[:, col("E_L_abs")] = p["E_L"]
    return t, refractory_steps(p["t_ref"], h)


model = NeuronModel("aeif_cond_exp", KIND, PARAMS, STATE, prepare=_prepare, check=_check,
                    slots=("V_m", "g_ex", "g_in", "", "", "w"))
