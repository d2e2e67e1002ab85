"""iaf_psc_exp_multisynapse: leaky integrate-and-fire neuron with exponential currents on receptor ports.

Description
-----------
As ``iaf_psc_exp``, but with ``n = len(tau_syn)`` receptor ports instead of an excitatory
and an inhibitory current: a spike arriving on port ``k`` (``receptor_type`` k, 1 <= k <= n,
given in the synapse specification) adds its weight, whatever its sign, to the current
``I_syn_k``, which decays with ``tau_syn[k-1]``. Port 0 takes currents only (``dc_generator``);
spikes on port 0 or on a port above ``n`` are refused before building, naming the model, the
port and the allowed range (NEST: IncompatibleReceptorType). A spike is emitted when
``V_m >= V_th``; the potential is then clamped to ``V_reset`` for ``t_ref``.

.. math::

   \\frac{dV_m}{dt} = -\\frac{V_m - E_L}{\\tau_m} + \\frac{\\sum_k I_{syn,k} + I_e + i_0}{C_m}

   \\frac{dI_{syn,k}}{dt} = -\\frac{I_{syn,k}}{\\tau_{syn,k}}, \\qquad
   I_{syn,k} \\mathrel{+}= w \\text{ for each spike of weight } w \\text{ on port } k

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
I_e           0.0      pA     constant input current
tau_syn       [2.0]    ms     synaptic time constant of each port (must differ from tau_m)
tau_minus     20.0     ms     time constant of the post-synaptic STDP trace
============  =======  =====  ==========================================

State and recordables
---------------------
``V_m`` (mV); ``I_syn_1`` .. ``I_syn_n`` (pA), the current of each port; ``I_syn`` (pA),
their sum (from port 1 on, as NEST's ``std::accumulate``). NEST's names.

Receptor-port layout
--------------------
The number of ports is per neuron (each neuron's own ``tau_syn``; no fixed maximum below
``MAX_PORTS`` = 255, as ports travel as one byte per synapse). A neuron's ports occupy
``n`` consecutive entries of the per-port arrays, from ``Neurons.rx_off[i]``: the fixed-point
input accumulator (8 bytes per port and per accumulator row), the current (8 bytes; the alpha
model adds its dI, 8 more) and the ``N_PORT_PROP`` = 5 propagator columns (40 bytes; kept per
neuron, not per parameter set, since the number of ports may differ between neurons of one set):
about 56 + 8 m bytes per port and neuron, m accumulator rows (1 on one rank, the min-delay in steps
on several). Synapses carry their port in ``DeliveryLayout.syn_port`` (1 byte each), present only in
networks where some synapse targets a port. Networks without these models pay nothing.

Integration
-----------
Exact integration (Rotter & Diesmann 1999) with NEST's propagators, computed on the host with the C
library's ``exp``/``expm1`` as NEST computes them (``_iaf_propagator.py``): ``P22 = exp(-h/tau_m)``,
``P20 = tau_m/C_m (1 - P22)``, per port ``P11 = exp(-h/tau_syn)`` and ``P21`` (IAFPropagatorExp).
NEST's step order (``backends/cpu.py`` ``_update_ports``): if not refractory,
``V = V P22 + (I_e + i_0) P20``, then ``V += P21_k I_k`` port after port, else the countdown;
then ``I_k = I_k P11_k + w_k`` per port; threshold and reset; then the new ``i_0``. Weights reach
the kernels through the fixed-point accumulators (2**-32 pA), so a weight that is not a multiple of
2**-32 pA is rounded by at most 1.2e-10 pA per spike before it is summed.

References
----------
1. Rotter S, Diesmann M (1999). Exact digital simulation of time-invariant linear systems with
   applications to neuronal modeling. Biol Cybern 81:381-402. https://doi.org/10.1007/s004220050570

Sends: spikes. Receives: spikes (ports 1..n), currents (port 0), Poisson drive (ports 1..n).
See also: iaf_psc_exp, iaf_psc_alpha_multisynapse.
"""
from __future__ import annotations

import math

import numpy as np

from ._base import N_PORT_PROP, N_PROP, ModelError, NeuronModel, Param, col, port_lists, refractory_steps
from ._iaf_propagator import p32

__all__ = ["model", "first_bad", "check_common", "membrane_columns"]

KIND = 9

PARAMS = {
    "E_L": Param(-70.0, "mV", "resting membrane potential"),
    "C_m": Param(250.0, "pF", "membrane capacitance"),
    "tau_m": Param(10.0, "ms", "membrane time constant"),
    "t_ref": Param(2.0, "ms", "absolute refractory period"),
    "V_th": Param(-55.0, "mV", "spike threshold"),
    "V_reset": Param(-70.0, "mV", "reset potential"),
    "I_e": Param(0.0, "pA", "constant input current"),
    "tau_minus": Param(20.0, "ms", "time constant of the post-synaptic STDP trace"),
}

STATE = {
    "V_m": (-70.0, "mV", "membrane potential"),
}


def first_bad(where: str, name: str, what: str, bad: np.ndarray, **values: np.ndarray) -> None:
    """Raise naming the model, ``what`` and the values at the first neuron where ``bad`` holds."""
    if np.any(bad):
        i = int(np.flatnonzero(np.ravel(bad))[0])
        got = ", ".join(f"{k} = {np.broadcast_to(v, np.shape(bad)).flat[i]}" for k, v in values.items())
        raise ModelError(f"{where}: model {name}: {what}, got {got}")


def check_common(where: str, name: str, p: dict[str, np.ndarray]) -> None:
    """NEST's checks of the multisynapse models' membrane parameters."""
    c_m, tau_m, t_ref = (np.asarray(p[k], float) for k in ("C_m", "tau_m", "t_ref"))
    first_bad(where, name, "C_m must be > 0 (capacitance)", c_m <= 0, C_m=c_m)
    first_bad(where, name, "tau_m must be > 0 (membrane time constant)", tau_m <= 0, tau_m=tau_m)
    first_bad(where, name, "t_ref must not be negative", t_ref < 0, t_ref=t_ref)
    v_reset, v_th = np.asarray(p["V_reset"], float), np.asarray(p["V_th"], float)
    first_bad(where, name, "V_reset must be smaller than V_th", np.broadcast_arrays(v_reset >= v_th)[0],
              V_reset=v_reset, V_th=v_th)


def _check(where: str, p: dict[str, np.ndarray]) -> None:
    check_common(where, "iaf_psc_exp_multisynapse", p)
    if "tau_syn" in p:
        tau_m = np.ravel(np.asarray(p["tau_m"], float))
        lists = port_lists(p["tau_syn"], tau_m.size)
        for i, lst in enumerate(lists):
            tm = tau_m[i if tau_m.size > 1 else 0]
            if tm in lst:
                raise ModelError(f"{where}: model iaf_psc_exp_multisynapse: membrane and synapse time constant(s) "
                                 f"must differ, got tau_m = {tm}, tau_syn = {list(lst)}")


def membrane_columns(p: dict[str, np.ndarray], h: float, p20_first: bool) -> np.ndarray:
    """The membrane's columns: P22 = exp(-h/tau_m) and P20 (exp: tau_m/C_m (1 - P22); alpha, NEST's
    operation order: 1/C_m (1 - P22) tau_m), with the C library's exp as NEST."""
    n = len(p["C_m"])
    t = np.zeros((n, N_PROP))
    tau_m = np.broadcast_to(np.asarray(p["tau_m"], float), (n,))
    c_m = np.broadcast_to(np.asarray(p["C_m"], float), (n,))
    for i in range(n):
        p22 = math.exp(-h / tau_m[i])
        t[i, col("P22")] = p22
        t[i, col("P20")] = tau_m[i] / c_m[i] * (1.0 - p22) if p20_first else 1 / c_m[i] * (1 - p22) * tau_m[i]
    t[:, col("I_e")] = p["I_e"]
    t[:, col("theta")] = p["V_th"] - p["E_L"]
    t[:, col("V_reset")] = p["V_reset"] - p["E_L"]
    t[:, col("E_L")] = p["E_L"]
    return t


def _prepare(p: dict[str, np.ndarray], h: float) -> tuple[np.ndarray, np.ndarray]:
    t = membrane_columns(p, h, True)
    t[:, col("V_min")] = -np.inf
    return t, refractory_steps(p["t_ref"], h)


def _prepare_ports(p: dict[str, np.ndarray], lists: list[tuple[float, ...]], h: float) -> np.ndarray:
    """Per port of each neuron, in order: P11 = exp(-h/tau_syn), P21 (IAFPropagatorExp)."""
    n = len(lists)
    tau_m = np.broadcast_to(np.asarray(p["tau_m"], float), (n,))
    c_m = np.broadcast_to(np.asarray(p["C_m"], float), (n,))
    out = np.zeros((sum(len(x) for x in lists), N_PORT_PROP))
    cache: dict[tuple[float, float, float], tuple[float, float]] = {}
    r = 0
    for i, lst in enumerate(lists):
        for tau_s in lst:
            key = (tau_s, float(tau_m[i]), float(c_m[i]))
            if key not in cache:
                cache[key] = (math.exp(-h / tau_s), p32(tau_s, key[1], key[2], h))
            out[r, 0], out[r, 1] = cache[key]
            r += 1
    return out


model = NeuronModel("iaf_psc_exp_multisynapse", KIND, PARAMS, STATE, prepare=_prepare, check=_check,
                    slots=("V_m",), recordables=("V_m", "I_syn"), port_param="tau_syn", port_default=(2.0,),
                    prepare_ports=_prepare_ports)
