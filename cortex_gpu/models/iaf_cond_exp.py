"""iaf_cond_exp: leaky integrate-and-fire neuron with exponentially decaying synaptic conductances.

Description
-----------
The membrane potential integrates a leak, a constant current ``I_e``, a
piecewise-constant current input ``I_stim`` (``dc_generator``) and two
synaptic conductances with reversal potentials ``E_ex`` and ``E_in``. A
spike of weight ``w`` (nS) increments ``g_ex`` by ``w`` when ``w > 0`` and
``g_in`` by ``|w|`` otherwise; both decay exponentially. A spike is emitted
when ``V_m >= V_th`` at the end of a step; ``V_m`` is then clamped to
``V_reset`` for ``t_ref`` (the conductances keep decaying).

.. math::

   C_m \\frac{dV_m}{dt} = -g_L (V_m - E_L) - g_{ex}(t) (V_m - E_{ex})
                          - g_{in}(t) (V_m - E_{in}) + I_e + I_{stim}

   \\frac{dg_X}{dt} = -\\frac{g_X}{\\tau_{syn,X}}, \\qquad
   g_{ex} \\mathrel{+}= w \\; (w > 0), \\qquad g_{in} \\mathrel{+}= -w \\; (w \\le 0)

As in NEST, the right-hand side evaluates the synaptic and leak currents at
``min(V_m, V_th)``, and ``dV_m/dt = 0`` while refractory.

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
tau_syn_ex    0.2      ms     decay time of the excitatory conductance
tau_syn_in    2.0      ms     decay time of the inhibitory conductance
I_e           0.0      pA     constant input current
tau_minus     20.0     ms     time constant of the post-synaptic STDP trace
============  =======  =====  ==========================================

State
-----
=========  =======  ====  ==================================
name       initial  unit  meaning
=========  =======  ====  ==================================
V_m        E_L      mV    membrane potential
g_ex       0.0      nS    excitatory synaptic conductance
g_in       0.0      nS    inhibitory synaptic conductance
=========  =======  ====  ==================================

Synaptic weights are conductances in nS. Generator currents (``dc_generator``)
are in pA; a ``poisson_generator``'s weight is a conductance jump in nS.

Integration
-----------
The system is not linear in the state (``g * V``), so there are no exact
propagators. NEST integrates it with GSL's adaptive Runge-Kutta-Fehlberg 4(5)
(``gsl_odeiv_step_rkf45``, absolute tolerance 1e-3 on every component,
relative 0), carrying each neuron's adaptive step size from one simulation
step to the next. This model reproduces that scheme, so that single neurons
match NEST's traces to rounding rather than to a tolerance: per 0.1 ms step
the kernel (``backends/cpu.py``, ``_rkf45_evolve``, which serves every
conductance model, the right-hand side chosen by model) takes Fehlberg steps
advancing the fifth-order solution, the first one of length ``h_ode`` (the
neuron's step size left by the previous step, initially the resolution)
clipped to the end of the step; after each Fehlberg step it rescales the
step size from ``rmax = max|err_i| / 1e-3`` as GSL's standard control does
(``rmax > 1.1``: shrink by ``max(0.9 rmax^(-1/5), 0.2)`` and redo the step;
``rmax < 0.5``: grow by ``min(max(0.9 rmax^(-1/6), 1), 5)``). Order of one
step (NEST's): integrate over the step, add the step's spike input to the
conductances, then either count down the refractory period (``V_m =
V_reset``) or check the threshold, then take the new ``I_stim``. Measured
against NEST 3.10 (``tests/validation/test_iaf_cond_exp_vs_nest.py``): spike
times identical, ``|dV_m|`` at or below ~1e-12 mV over 1 s.

The kernel keeps ``V_m - E_L`` in its ``V`` array and ``g_ex``, ``g_in`` in
the arrays that hold ``I_syn_ex``, ``I_syn_in`` for the current-based models
(see ``NeuronModel.slots``); the adaptive step size lives in ``h_ode``.

References
----------
1. Meffin H, Burkitt AN, Grayden DB (2004). An analytical model for the large,
   fluctuating synaptic conductance state typical of neocortical neurons in
   vivo. J Comput Neurosci 16:159-175.
   https://doi.org/10.1023/B:JCNS.0000014108.03012.81
2. Fehlberg E (1969). Low-order classical Runge-Kutta formulas with stepsize
   control and their application to some heat transfer problems. NASA
   Technical Report R-315.

Sends: spikes. Receives: spikes, currents (dc_generator), Poisson drive.
See also: iaf_psc_exp, iaf_psc_alpha.
"""
from __future__ import annotations

import numpy as np

from ._base import N_PROP, ModelError, NeuronModel, Param, col, positive, refractory_steps

__all__ = ["model"]

KIND = 2

PARAMS = {
    "V_th": Param(-55.0, "mV", "spike threshold"),
    "V_reset": Param(-60.0, "mV", "reset potential"),
    "t_ref": Param(2.0, "ms", "absolute refractory period"),
    "g_L": Param(16.6667, "nS", "leak conductance"),
    "C_m": Param(250.0, "pF", "membrane capacitance"),
    "E_ex": Param(0.0, "mV", "excitatory reversal potential"),
    "E_in": Param(-85.0, "mV", "inhibitory reversal potential"),
    "E_L": Param(-70.0, "mV", "leak reversal potential"),
    "tau_syn_ex": Param(0.2, "ms", "decay time of the excitatory conductance"),
    "tau_syn_in": Param(2.0, "ms", "decay time of the inhibitory conductance"),
    "I_e": Param(0.0, "pA", "constant input current"),
}

STATE = {
    "V_m": (-70.0, "mV", "membrane potential"),
    "g_ex": (0.0, "nS", "excitatory synaptic conductance"),
    "g_in": (0.0, "nS", "inhibitory synaptic conductance"),
}


def _check(where: str, p: dict[str, np.ndarray]) -> None:
    # NEST's checks (Parameters_::set); like NEST, g_L is not checked (0 gives a perfect integrator).
    positive(where, p, "C_m", "tau_syn_ex", "tau_syn_in")
    if np.any(np.asarray(p["t_ref"]) < 0):
        raise ModelError(f"{where}: t_ref must be >= 0, got {np.min(p['t_ref'])}")
    bad = np.asarray(p["V_reset"]) >= np.asarray(p["V_th"])
    if np.any(bad):
        i = np.flatnonzero(np.broadcast_to(bad, np.broadcast(p["V_reset"], p["V_th"]).shape))[0]
        v_reset, v_th = np.broadcast_arrays(p["V_reset"], p["V_th"])
        raise ModelError(f"{where}: V_reset must be smaller than V_th, got V_reset = {v_reset.flat[i]}, "
                         f"V_th = {v_th.flat[i]}")


def _prepare(p: dict[str, np.ndarray], h: float) -> tuple[np.ndarray, np.ndarray]:
    n = len(p["C_m"])
    t = np.zeros((n, N_PROP))
    t[:, col("I_e")] = p["I_e"]
    t[:, col("theta")] = p["V_th"] - p["E_L"]
    t[:, col("V_reset")] = p["V_reset"] - p["E_L"]
    t[:, col("E_L")] = p["E_L"]
    t[:, col("V_min")] = -np.inf
    t[:, col("g_L")] = p["g_L"]
    t[:, col("C_m")] = p["C_m"]
    t[:, col("E_ex")] = p["E_ex"] - p["E_L"]
    t[:, col("E_in")] = p["E_in"] - p["E_L"]
    t[:, col("tau_syn_ex")] = p["tau_syn_ex"]
    t[:, col("tau_syn_in")] = p["tau_syn_in"]
    t[:, col("h")] = h
    return t, refractory_steps(p["t_ref"], h)


model = NeuronModel("iaf_cond_exp", KIND, PARAMS, STATE, prepare=_prepare, check=_check,
                    slots=("V_m", "g_ex", "g_in"))
