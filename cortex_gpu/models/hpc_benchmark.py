"""hpc_benchmark: NEST's balanced random network with power-law STDP (Morrison et al. 2007).

Description
-----------
Two populations of ``iaf_psc_alpha`` neurons, ``NE = int(9000 scale)``
excitatory and ``NI = int(2250 scale)`` inhibitory, each neuron with a fixed
indegree of ``CE = 9000`` excitatory and ``CI = 2250`` inhibitory inputs at
every scale (``fixed_indegree``, no autapses, multapses allowed). E -> E
synapses are plastic (``stdp_pl_synapse_hom``: multiplicative depression,
power-law potentiation); all others are static. Every neuron receives its
own Poisson train from one ``poisson_generator``. This is the network of
NEST's ``pynest/examples/hpc_benchmark.py`` (the scaling benchmark of
Helias et al. 2012 and Kunkel et al. 2014); this module builds it from the
same numbers, and ``bench/nest_hpc_benchmark.py`` builds the NEST peer from
:func:`hpc_parameters`, so both sides use identical values.

Weights. The peak PSP of 0.14 mV is converted to a PSC amplitude with the
alpha-current PSP kernel of ``iaf_psc_alpha``. With ``a = tau_m/tau_syn``
and ``b = 1/tau_syn - 1/tau_m`` the PSP peaks at

.. math::

   t_{rise} = \\frac{1}{b}\\left(-W_{-1}\\!\\left(-\\frac{e^{-1/a}}{a}\\right) - \\frac{1}{a}\\right)

(``W_{-1}`` is the lower real branch of the Lambert W function; the
principal branch gives the trivial root ``t = 0``), where

.. math::

   v_{max} = \\frac{e}{\\tau_{syn} C_m b}\\left(\\frac{e^{-t/\\tau_m} - e^{-t/\\tau_{syn}}}{b}
             - t\\,e^{-t/\\tau_{syn}}\\right)

is the PSP of a 1 pA peak PSC, so ``JE = 0.14 / v_max = 45.6096 pA``
(``t_rise = 1.700759 ms``: NEST chose ``tau_syn`` to keep this rise time).
``JI = g JE`` with ``g = -5``.

Drive. The rate that brings the mean input to threshold,
``nu_th = V_th / (CE tau_m / C_m JE e tau_syn)`` (per ms), times
``eta = 1.685``, for each of the ``CE`` external inputs:
``rate = eta nu_th CE 1000 = 20856.04`` spikes/s per neuron, weight JE,
delay 1.5 ms.

Plasticity (``stdp_pl_synapse_hom``, delay d treated as dendritic, weights
clipped at 0 from below, no upper bound), on a pre-synaptic spike at t:

.. math::

   w \\leftarrow w + \\lambda w^{\\mu} K_+ e^{(t_{last} - t_p - d)/\\tau_+}
   \\quad \\text{for each post spike } t_{last} - d < t_p \\le t - d

   w \\leftarrow \\max(0,\\; w - \\lambda \\alpha w K_-(t - d))

with the pre trace ``K_+`` (time constant ``tau_plus``) and the post trace
``K_-`` (``tau_minus``, a neuron parameter); see MODELS.md section 3.

Scaling note. NEST's example computes ``CE = int(NE / scale)`` and
``CI = int(NI / scale)``, which equal 9000 and 2250 at scales 0.1, 0.2, 0.5
and every integer scale, but not at all scales (0.15 gives CI = 2246); the
project specification fixes CE and CI, and so does this module.

Parameters
----------
==============  ===================  =====  ===========================================
name            default              unit   meaning
==============  ===================  =====  ===========================================
scale           1.0                  -      NE = int(9000 scale), NI = int(2250 scale)
resolution_ms   0.1                  ms     simulation step h
record_spikes   True                 -      record the spikes of every neuron
CE              9000                 -      excitatory indegree (every neuron)
CI              2250                 -      inhibitory indegree (every neuron)
E_L             0.0                  mV     resting potential
C_m             250.0                pF     membrane capacitance
tau_m           10.0                 ms     membrane time constant
t_ref           0.5                  ms     refractory period
V_th            20.0                 mV     spike threshold
V_reset         0.0                  mV     reset potential
tau_syn         0.32582722403722841  ms     tau_syn_ex = tau_syn_in
tau_minus       30.0                 ms     post-synaptic STDP trace time constant
V0_mean         5.7                  mV     mean initial V_m
V0_std          7.2                  mV     std of the initial V_m (Normal)
PSP_E           0.14                 mV     peak excitatory PSP
g               -5.0                 -      inhibitory / excitatory weight ratio
delay           1.5                  ms     every synapse and the drive
eta             1.685                -      external rate relative to threshold rate
tau_plus        15.0                 ms     pre-synaptic STDP trace time constant
lambda          0.1                  -      STDP step size
alpha           0.0513               -      depression / potentiation asymmetry
mu              0.4                  -      weight exponent of potentiation
==============  ===================  =====  ===========================================

Derived values: JE = 45.6096 pA, JI = -228.048 pA, drive 20856.04 spikes/s.

References
----------
1. Morrison A, Aertsen A, Diesmann M (2007). Spike-timing-dependent
   plasticity in balanced random networks. Neural Comput 19(6):1437-1467.
   https://doi.org/10.1162/neco.2007.19.6.1437
2. Helias M, Kunkel S, Masumoto G, Igarashi J, Eppler JM, Ishii S, Fukai T,
   Morrison A, Diesmann M (2012). Supercomputers ready for use as discovery
   machines for neuroscience. Front Neuroinform 6:26.
   https://doi.org/10.3389/fninf.2012.00026
3. Kunkel S, Schmidt M, Eppler JM, Plesser HE, Masumoto G, Igarashi J,
   Ishii S, Fukai T, Morrison A, Diesmann M, Helias M (2014). Spiking network
   simulation code for petascale computers. Front Neuroinform 8:78.
   https://doi.org/10.3389/fninf.2014.00078
4. Corless RM, Gonnet GH, Hare DEG, Jeffrey DJ, Knuth DE (1996). On the
   Lambert W function. Adv Comput Math 5:329-359.
   https://doi.org/10.1007/BF02124750

See also: iaf_psc_alpha, stdp_pl_synapse_hom, ``bench/hpc_benchmark.py``,
``cortex-gpu run hpc_benchmark``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..distributions import Normal
from ..network import Network

__all__ = [
    "hpc_benchmark", "hpc_parameters", "HpcParameters", "lambert_w", "psc_over_psp_alpha",
    "plastic_weight_moments", "weight_stats", "NEURON_PARAMS", "STDP_PARAMS", "SYNAPSE_MODEL", "POPULATIONS",
    "TAU_SYN", "PSP_E", "G", "DELAY", "ETA", "CE", "CI", "V0_MEAN", "V0_STD",
]

#: Population names, in creation order.
POPULATIONS = ("E", "I")
#: Synaptic time constant (ms) chosen by NEST for a PSP rise time of 1.700759 ms at tau_m = 10 ms.
TAU_SYN = 0.32582722403722841
#: iaf_psc_alpha parameters of every neuron (NEST units).
NEURON_PARAMS = {
    "E_L": 0.0,          # mV
    "C_m": 250.0,        # pF
    "tau_m": 10.0,       # ms
    "t_ref": 0.5,        # ms
    "V_th": 20.0,        # mV
    "V_reset": 0.0,      # mV
    "tau_syn_ex": TAU_SYN,   # ms
    "tau_syn_in": TAU_SYN,   # ms
    "tau_minus": 30.0,   # ms, post-synaptic STDP trace
}
#: Common parameters of the E -> E synapse model (a copy of stdp_pl_synapse_hom).
STDP_PARAMS = {"tau_plus": 15.0, "lambda": 0.1, "alpha": 0.0513, "mu": 0.4}
#: Name of that copy (NEST's example uses its built-in twin stdp_pl_synapse_hom_hpc).
SYNAPSE_MODEL = "stdp_pl_synapse_hom_hpc"
CE, CI = 9000, 2250      # indegrees, fixed at every scale
PSP_E = 0.14             # mV, peak excitatory PSP
G = -5.0                 # inhibitory / excitatory weight ratio
DELAY = 1.5              # ms, every synapse and the drive
ETA = 1.685              # external rate / threshold rate
V0_MEAN, V0_STD = 5.7, 7.2   # mV, initial V_m ~ Normal


def lambert_w(x: float, branch: int = 0) -> float:
    """Real Lambert W: the ``w`` with ``w exp(w) = x``, on ``branch`` 0 (w >= -1) or -1 (w <= -1).

    Halley's iteration (Corless et al. 1996, eq. 5.9) from a series start
    near the branch point ``-1/e`` and an asymptotic one elsewhere, until
    ``w exp(w)`` equals ``x`` to rounding. Within ~1e-8 of ``-1/e`` the
    problem itself is ill-conditioned (W varies as the square root of the
    distance), so one ulp of ``x`` moves W far more than one ulp.

    >>> round(lambert_w(1.0), 11)          # the omega constant
    0.56714329041
    >>> round(lambert_w(-0.1, -1), 9)
    -3.577152064

    Raises
    ------
    ValueError
        For ``x < -1/e``, or ``branch == -1`` with ``x >= 0`` (no real value).
    """
    x = float(x)
    if branch not in (0, -1):
        raise ValueError(f"lambert_w: branch must be 0 or -1, got {branch}")
    if not math.isfinite(x) or x < -1.0 / math.e - 1e-15:
        raise ValueError(f"lambert_w: need a finite x >= -1/e, got {x}")
    if branch == -1 and x >= 0.0:
        raise ValueError(f"lambert_w: the -1 branch needs -1/e <= x < 0, got {x}")
    if x == 0.0:
        return 0.0
    q = max(2.0 * (1.0 + math.e * x), 0.0)
    if q < 0.3:                          # near the branch point: series in p = +-sqrt(2(1 + e x))
        p = math.sqrt(q) * (1.0 if branch == 0 else -1.0)
        w = -1.0 + p - p * p / 3.0 + 11.0 / 72.0 * p ** 3
    elif branch == 0:
        w = math.log1p(x) if x < 3.0 else math.log(x) - math.log(math.log(x))
    else:                                # x in (-1/e, 0), far from the branch point
        l1 = math.log(-x)
        w = l1 - math.log(-l1)
    for _ in range(50):
        ew = math.exp(w)
        f = w * ew - x
        if f == 0.0:
            break
        wp1 = w + 1.0
        step = f / (ew * wp1 - (w + 2.0) * f / (2.0 * wp1))
        w -= step
        if abs(step) <= 1e-15 * (1.0 + abs(w)):
            break
    return w


def psc_over_psp_alpha(tau_m: float, tau_syn: float, C_m: float) -> float:
    """PSC amplitude (pA) whose alpha current gives a 1 mV peak PSP in ``iaf_psc_alpha`` at rest.

    >>> round(0.14 * psc_over_psp_alpha(10.0, TAU_SYN, 250.0), 4)
    45.6096
    """
    a = tau_m / tau_syn
    b = 1.0 / tau_syn - 1.0 / tau_m
    t_rise = (-lambert_w(-math.exp(-1.0 / a) / a, -1) - 1.0 / a) / b      # ms
    v_max = math.e / (tau_syn * C_m * b) * (
        (math.exp(-t_rise / tau_m) - math.exp(-t_rise / tau_syn)) / b - t_rise * math.exp(-t_rise / tau_syn))
    return 1.0 / v_max


@dataclass(frozen=True)
class HpcParameters:
    """Every derived number of one hpc_benchmark instance (units in the comments)."""

    scale: float
    resolution_ms: float
    NE: int
    NI: int
    CE: int
    CI: int
    JE_pA: float                   # pA, E weights (and initial plastic weight)
    JI_pA: float                   # pA, I weights
    delay_ms: float                # ms, every synapse and the drive
    poisson_rate_hz: float         # spikes/s, drive per neuron
    t_rise_ms: float               # ms, time to the PSP peak
    neuron_params: dict = field(default_factory=dict)
    stdp_params: dict = field(default_factory=dict)
    V0_mean: float = V0_MEAN       # mV
    V0_std: float = V0_STD         # mV
    synapse_model: str = SYNAPSE_MODEL

    @property
    def n_neurons(self) -> int:
        return self.NE + self.NI

    @property
    def n_synapses(self) -> int:
        """Recurrent synapses (the drive is not counted)."""
        return self.n_neurons * (self.CE + self.CI)

    @property
    def n_plastic(self) -> int:
        return self.NE * self.CE


def hpc_parameters(scale: float = 1.0, resolution_ms: float = 0.1) -> HpcParameters:
    """Sizes, weights, drive and plasticity parameters at ``scale``, as NEST's example derives them.

    Raises
    ------
    ValueError
        For a non-positive scale or one that leaves a population without a
        neuron, or an E population of one neuron (no source without autapses).
    """
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"hpc_benchmark: scale must be a positive number, got {scale}")
    NE, NI = int(9000 * scale), int(2250 * scale)
    if NI < 1 or NE < 2:
        raise ValueError(f"hpc_benchmark: scale {scale} leaves {NE} E and {NI} I neurons; need at least "
                         "2 and 1 (scale >= 0.0005)")
    p = NEURON_PARAMS
    conv = psc_over_psp_alpha(p["tau_m"], TAU_SYN, p["C_m"])
    a, b = p["tau_m"] / TAU_SYN, 1.0 / TAU_SYN - 1.0 / p["tau_m"]
    t_rise = (-lambert_w(-math.exp(-1.0 / a) / a, -1) - 1.0 / a) / b
    JE = conv * PSP_E
    nu_th = p["V_th"] / (CE * p["tau_m"] / p["C_m"] * JE * math.e * TAU_SYN)   # per ms, per input
    rate = nu_th * ETA * CE * 1000.0
    return HpcParameters(scale=float(scale), resolution_ms=float(resolution_ms), NE=NE, NI=NI, CE=CE, CI=CI,
                         JE_pA=JE, JI_pA=G * JE, delay_ms=DELAY, poisson_rate_hz=rate, t_rise_ms=t_rise,
                         neuron_params=dict(NEURON_PARAMS), stdp_params=dict(STDP_PARAMS))


def hpc_benchmark(scale: float = 1.0, resolution_ms: float = 0.1, record_spikes: bool = True,
                  **unused) -> tuple[Network, dict]:
    """Build the hpc_benchmark network; returns ``(net, info)``.

    ``info`` holds ``model``, ``populations`` (``['E', 'I']``), ``sizes``,
    ``gid_ranges`` (``(first, stop)`` per population), ``n_neurons``,
    ``n_synapses`` (recurrent), ``n_plastic``, ``params``
    (:class:`HpcParameters`), ``recorder`` (spikes of every neuron, or None),
    ``generators``, ``synapse_model`` (the plastic model's name) and
    ``plastic_projection``. Keyword arguments the command line passes to
    every model (``drive``) are accepted and must be left at their defaults.
    """
    drive = unused.pop("drive", "poisson")
    if drive != "poisson":
        raise ValueError(f"hpc_benchmark has Poisson drive only, got drive={drive!r}")
    if unused:
        raise TypeError(f"hpc_benchmark: unexpected arguments {sorted(unused)}")
    p = hpc_parameters(scale, resolution_ms)
    net = Network(resolution_ms)
    net.copy_synapse_model("stdp_pl_synapse_hom", p.synapse_model, p.stdp_params)
    params = {**p.neuron_params, "V_m": Normal(p.V0_mean, p.V0_std)}
    E = net.add_population("iaf_psc_alpha", p.NE, dict(params), name="E")
    I = net.add_population("iaf_psc_alpha", p.NI, dict(params), name="I")
    rule = dict(allow_autapses=False, allow_multapses=True)
    # NEST's order of Connect calls: E->E (plastic), I->E, E->I, I->I
    plastic = net.connect(E, E, "fixed_indegree", indegree=p.CE, weight=p.JE_pA, delay=p.delay_ms,
                          synapse_model=p.synapse_model, label="E->E", **rule)
    net.connect(I, E, "fixed_indegree", indegree=p.CI, weight=p.JI_pA, delay=p.delay_ms, label="I->E", **rule)
    net.connect(E, I, "fixed_indegree", indegree=p.CE, weight=p.JE_pA, delay=p.delay_ms, label="E->I", **rule)
    net.connect(I, I, "fixed_indegree", indegree=p.CI, weight=p.JI_pA, delay=p.delay_ms, label="I->I", **rule)
    gen = net.add_generator("poisson_generator", {"rate": p.poisson_rate_hz})
    net.drive(gen, np.arange(E.first, I.stop), p.JE_pA, p.delay_ms)
    recorder = net.record_spikes(np.arange(E.first, I.stop)) if record_spikes else None
    info = {
        "model": "hpc_benchmark",
        "populations": list(POPULATIONS),
        "sizes": [p.NE, p.NI],
        "gid_ranges": [(E.first, E.stop), (I.first, I.stop)],
        "n_neurons": p.n_neurons,
        "n_synapses": p.n_synapses,
        "n_plastic": p.n_plastic,
        "params": p,
        "recorder": recorder,
        "generators": [gen],
        "synapse_model": p.synapse_model,
        "plastic_projection": plastic,
    }
    return net, info


def plastic_weight_moments(sim, sources: tuple[int, int] | None = None,
                           shift: float = 0.0) -> tuple[int, float, float]:
    """(count, sum, sum of squares) of this rank's plastic weights minus ``shift`` (pA).

    Summing these over ranks gives the mean and std of every plastic weight
    without gathering the weights (:func:`weight_stats`); a ``shift`` near
    the mean (the initial weight JE) keeps the variance from cancelling
    against the squared mean. ``sources = (first, stop)`` keeps the synapses
    whose pre gid is in that range. The weights are read in place from the
    plastic layout, where the synapses of a run of pres are one slice per
    section (see :mod:`cortex_gpu.layout`), so nothing is copied whole.
    """
    sim.build()
    lay = sim.graph.plastic_layout
    if lay is None:
        return 0, 0.0, 0.0
    w = lay.syn_weight
    if sources is None:
        slices = [(0, w.size)]
    else:
        j0, j1 = np.searchsorted(lay.pre_gids, [sources[0], sources[1]])
        n_pre = lay.n_pre
        slices = [(int(lay.seg_off[s * n_pre + j0]), int(lay.seg_off[s * n_pre + j1]))
                  for s in range(lay.n_sections)]
    count, total, sum_sq = 0, 0.0, 0.0
    piece = 1 << 22        # a shifted copy of 1e9 weights at once would be 8 GB
    for a, b in slices:
        for i in range(a, b, piece):
            d = w[i:min(i + piece, b)] - shift
            total += float(d.sum())
            sum_sq += float(np.dot(d, d))
        count += b - a
    return count, total, sum_sq


def weight_stats(count: int, total: float, sum_sq: float, shift: float = 0.0) -> tuple[float, float]:
    """Mean and (population) std (pA) from :func:`plastic_weight_moments` summed over ranks; NaN for none."""
    if count == 0:
        return float("nan"), float("nan")
    m = total / count
    return shift + m, math.sqrt(max(sum_sq / count - m * m, 0.0))
