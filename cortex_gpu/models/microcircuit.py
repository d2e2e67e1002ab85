"""microcircuit: the Potjans & Diesmann (2014) cortical microcircuit (PD14).

Description
-----------
A layered model of the local circuit under 1 mm² of early sensory cortex:
eight populations of ``iaf_psc_exp`` neurons (excitatory and inhibitory cells
of layers 2/3, 4, 5 and 6; 77,169 neurons at full scale), connected by
``fixed_total_number`` projections whose synapse counts follow from the
measured connection probabilities, and driven by external input of 8 spikes/s
per external synapse, either as Poisson spike trains or as the equivalent
constant current. This module builds the model exactly as the PyNEST example
``pynest/examples/Potjans_2014`` of NEST 3.10 does, from the same numbers
(listed below); :func:`microcircuit_parameters` derives every scaled quantity
once, so the NEST peer benchmark (``bench/nest_microcircuit.py``) and this
builder use identical values.

Connectivity. Projection ``j -> i`` (row ``i`` = target, column ``j`` =
source) has

.. math::

   K_{ij} = \\frac{\\ln(1 - p_{ij})}{\\ln\\left((N_i N_j - 1)/(N_i N_j)\\right)}

synapses at full scale (298,880,968 in all), drawn with ``fixed_total_number``
(autapses and multapses allowed). Down-scaled, the count is
``round(K_ij * N_scaling * K_scaling)`` with the unrounded full-scale
``K_ij``, as in the NEST example.

Weights. The PSP -> PSC factor of ``iaf_psc_exp`` with C_m = 250 pF,
tau_m = 10 ms, tau_syn = 0.5 ms is 585.38996 pA/mV, so a 0.15 mV PSP is
w = 87.8085 pA. Excitatory projections use ``w``, L4E -> L23E ``2 w``,
inhibitory ones ``g w`` with g = -4. Each synapse draws from
Normal(mean, 0.1 |mean|), redrawn until the sign is kept.

Delays. Excitatory Normal(1.5, 0.75) ms, inhibitory Normal(0.75, 0.375) ms,
redrawn below half a resolution step (0.05 ms at h = 0.1 ms) and rounded to
the grid, so the shortest delay is one step.

External drive. ``K_ext = [1600, 1500, 2100, 1900, 2000, 1900, 2900, 2100]``
external synapses per neuron at 8 spikes/s. ``drive='poisson'``: one
``poisson_generator`` per population, rate ``8 * round(K_ext * K_scaling)``
spikes/s, weight ``w`` (divided by ``sqrt(K_scaling)`` when scaled), delay
1.5 ms, an independent train per neuron. ``drive='dc'``: a constant
``I_e = 8 * K_ext * w * tau_syn * 1e-3`` pA
= [561.974, 526.851, 737.591, 667.345, 702.468, 667.345, 1018.579, 737.591].

Indegree scaling. When ``K_scaling != 1`` every recurrent and external weight
is divided by ``sqrt(K_scaling)`` and each population ``i`` receives an extra
constant current that restores the mean input of the full-scale network:

.. math::

   \\Delta I_i = 10^{-3}\\,\\tau_{syn}\\,(1 - \\sqrt{K_{scaling}})
       \\Big(\\sum_j w_{ij} \\frac{K_{ij}}{N_i} \\nu_j
       \\;[+\\; w\\,K_{ext,i}\\,\\nu_{bg}\\ \\text{(Poisson drive)}]\\Big)

with the full-scale weights, counts, sizes and the full-scale mean rates
``nu = [0.903, 2.965, 4.414, 5.876, 7.569, 8.633, 1.105, 7.829]`` spikes/s.

Initial state. ``V0='optimized'``: V_m ~ Normal(mean_i, std_i) per population
with mean [-68.28, -63.16, -63.33, -63.45, -63.11, -61.66, -66.72, -61.43] mV
and std [5.36, 4.57, 4.74, 4.94, 4.94, 4.55, 5.46, 4.48] mV;
``V0='original'``: Normal(-58, 10) mV for every neuron.

Parameters
----------
==============  ==========================  ======  ==============================================
name            default                     unit    meaning
==============  ==========================  ======  ==============================================
N_scaling       1.0                         -       factor on the population sizes
K_scaling       1.0                         -       factor on the indegrees (weights compensated)
drive           'poisson'                   -       'poisson' or 'dc' external input
resolution_ms   0.1                         ms      simulation step h
record_spikes   True                        -       record the spikes of every neuron
V0              'optimized'                 -       'optimized' or 'original' initial V_m
E_L             -65.0                       mV      resting potential
V_th            -50.0                       mV      spike threshold
V_reset         -65.0                       mV      reset potential
C_m             250.0                       pF      membrane capacitance
tau_m           10.0                        ms      membrane time constant
tau_syn         0.5                         ms      tau_syn_ex = tau_syn_in
t_ref           2.0                         ms      refractory period
PSP_exc         0.15                        mV      mean excitatory PSP amplitude
g               -4.0                        -       inhibitory / excitatory weight ratio
weight_rel_std  0.1                         -       relative std of the weights
delay_exc       1.5                         ms      mean excitatory delay
delay_inh       0.75                        ms      mean inhibitory delay
delay_rel_std   0.5                         -       relative std of the delays
bg_rate         8.0                         1/s     rate per external synapse
delay_poisson   1.5                         ms      delay of the Poisson drive
==============  ==========================  ======  ==============================================

References
----------
1. Potjans TC, Diesmann M (2014). The cell-type specific cortical
   microcircuit: relating structure and activity in a full-scale spiking
   network model. Cereb Cortex 24(3):785-806.
   https://doi.org/10.1093/cercor/bht358
2. van Albada SJ, Helias M, Diesmann M (2015). Scalability of asynchronous
   networks is limited by one-to-one mapping between effective connectivity
   and correlations. PLoS Comput Biol 11(9):e1004490.
   https://doi.org/10.1371/journal.pcbi.1004490 (the K_scaling compensation)
3. Hanuschkin A, Kunkel S, Helias M, Morrison A, Diesmann M (2010). A general
   and efficient method for incorporating precise spike times in globally
   time-driven simulations. Front Neuroinform 4:113.
   https://doi.org/10.3389/fninf.2010.00113 (the PSP -> PSC conversion)

See also: iaf_psc_exp, ``bench/microcircuit.py``, ``cortex-gpu run microcircuit``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..distributions import Normal, Redraw
from ..network import Network

__all__ = [
    "microcircuit", "microcircuit_parameters", "full_scale_synapse_count", "full_scale_synapses",
    "psc_over_psp", "MicrocircuitParameters", "add_column", "add_poisson_drive",
    "POPULATIONS", "FULL_NUM_NEURONS", "CONN_PROBS", "K_EXT", "FULL_MEAN_RATES",
    "NEURON_PARAMS", "V0_OPTIMIZED_MEAN", "V0_OPTIMIZED_STD",
]

#: Population names, in creation order (gids follow this order).
POPULATIONS = ("L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I")
#: Full-scale population sizes.
FULL_NUM_NEURONS = np.array([20683, 5834, 21915, 5479, 4850, 1065, 14395, 2948], dtype=np.int64)
#: Connection probabilities, row = target, column = source.
CONN_PROBS = np.array([
    [0.1009, 0.1689, 0.0437, 0.0818, 0.0323, 0.0, 0.0076, 0.0],
    [0.1346, 0.1371, 0.0316, 0.0515, 0.0755, 0.0, 0.0042, 0.0],
    [0.0077, 0.0059, 0.0497, 0.135, 0.0067, 0.0003, 0.0453, 0.0],
    [0.0691, 0.0029, 0.0794, 0.1597, 0.0033, 0.0, 0.1057, 0.0],
    [0.1004, 0.0622, 0.0505, 0.0057, 0.0831, 0.3726, 0.0204, 0.0],
    [0.0548, 0.0269, 0.0257, 0.0022, 0.06, 0.3158, 0.0086, 0.0],
    [0.0156, 0.0066, 0.0211, 0.0166, 0.0572, 0.0197, 0.0396, 0.2252],
    [0.0364, 0.001, 0.0034, 0.0005, 0.0277, 0.008, 0.0658, 0.1443],
])
#: External (cortico-cortical) indegrees at full scale.
K_EXT = np.array([1600, 1500, 2100, 1900, 2000, 1900, 2900, 2100], dtype=np.int64)
#: Mean rates of the full-scale network (spikes/s), used by the K_scaling compensation.
FULL_MEAN_RATES = np.array([0.903, 2.965, 4.414, 5.876, 7.569, 8.633, 1.105, 7.829])
#: Initial membrane potential, V0='optimized': per-population mean and std (mV).
V0_OPTIMIZED_MEAN = np.array([-68.28, -63.16, -63.33, -63.45, -63.11, -61.66, -66.72, -61.43])
V0_OPTIMIZED_STD = np.array([5.36, 4.57, 4.74, 4.94, 4.94, 4.55, 5.46, 4.48])
#: Initial membrane potential, V0='original': one mean and std for all (mV).
V0_ORIGINAL = (-58.0, 10.0)

#: iaf_psc_exp parameters of every neuron (NEST units).
NEURON_PARAMS = {
    "E_L": -65.0,        # mV
    "V_th": -50.0,       # mV
    "V_reset": -65.0,    # mV
    "C_m": 250.0,        # pF
    "tau_m": 10.0,       # ms
    "tau_syn_ex": 0.5,   # ms
    "tau_syn_in": 0.5,   # ms
    "t_ref": 2.0,        # ms
}
TAU_SYN = 0.5            # ms
PSP_EXC = 0.15           # mV, mean excitatory PSP
G = -4.0                 # inhibitory / excitatory weight ratio
WEIGHT_REL_STD = 0.1
DELAY_EXC = 1.5          # ms
DELAY_INH = 0.75         # ms
DELAY_REL_STD = 0.5
BG_RATE = 8.0            # spikes/s per external synapse
DELAY_POISSON = 1.5      # ms
DRIVES = ("poisson", "dc")


def psc_over_psp(C_m: float = 250.0, tau_m: float = 10.0, tau_syn: float = TAU_SYN) -> float:
    """PSC amplitude (pA) that gives a 1 mV peak PSP in ``iaf_psc_exp``.

    The PSP ``v = i * h`` of an exponential current ``i(t) = J exp(-t/tau_syn)``
    through the membrane kernel peaks at ``t* = ln(tau_m/tau_syn) * tau_m
    tau_syn / (tau_m - tau_syn)``; this returns ``J / v(t*)`` for J = 1 pA.

    >>> round(psc_over_psp(), 5)
    585.38996
    """
    t_peak = np.log(tau_m / tau_syn) * tau_m * tau_syn / (tau_m - tau_syn)
    v_peak = tau_m * tau_syn / (C_m * (tau_m - tau_syn)) * (np.exp(-t_peak / tau_m) - np.exp(-t_peak / tau_syn))
    return float(1.0 / v_peak)


def full_scale_synapses() -> np.ndarray:
    """Unrounded synapse counts K (8x8, row = target) of the full-scale model.

    Uses the expression of the published example, ``ln(1-p) /
    ln((N_post N_pre - 1) / (N_post N_pre))``, evaluated as written (its
    rounding in float64 shifts K by up to ~0.7 against ``log1p``; the
    published total 298,880,968 depends on it).
    """
    prod = np.outer(FULL_NUM_NEURONS, FULL_NUM_NEURONS).astype(float)
    return np.log(1.0 - CONN_PROBS) / np.log((prod - 1.0) / prod)


def full_scale_synapse_count() -> int:
    """Total number of recurrent synapses of the full-scale model: 298,880,968."""
    return int(np.round(full_scale_synapses()).astype(np.int64).sum())


@dataclass(frozen=True)
class MicrocircuitParameters:
    """Every derived number of one (N_scaling, K_scaling, drive) instance.

    Shapes: per-population arrays have 8 entries in :data:`POPULATIONS`
    order; matrices are 8x8 with row = target, column = source.
    """

    N_scaling: float
    K_scaling: float
    drive: str
    resolution_ms: float
    num_neurons: np.ndarray         # int64[8]
    num_synapses: np.ndarray        # int64[8, 8]
    ext_indegrees: np.ndarray       # int64[8], round(K_ext * K_scaling)
    weight_mean: np.ndarray         # float64[8, 8], pA (scaled by 1/sqrt(K_scaling))
    weight_rel_std: float
    weight_ext: float               # pA, Poisson drive weight
    poisson_rate: np.ndarray        # float64[8], spikes/s per neuron (0 with DC drive)
    delay_poisson: float            # ms
    DC_amp: np.ndarray              # float64[8], pA: I_e of each population
    delay_mean: np.ndarray          # float64[8, 8], ms
    delay_std: np.ndarray           # float64[8, 8], ms
    delay_min: float                # ms, delays below are redrawn
    V0_mean: np.ndarray             # float64[8], mV
    V0_std: np.ndarray              # float64[8], mV

    @property
    def n_neurons(self) -> int:
        return int(self.num_neurons.sum())

    @property
    def n_synapses(self) -> int:
        return int(self.num_synapses.sum())


def microcircuit_parameters(N_scaling: float = 1.0, K_scaling: float = 1.0, drive: str = "poisson",
                            resolution_ms: float = 0.1, V0: str = "optimized") -> MicrocircuitParameters:
    """Derive sizes, counts, weights, delays and currents as the NEST 3.10 example does."""
    if drive not in DRIVES:
        raise ValueError(f"microcircuit: drive must be one of {DRIVES}, got {drive!r}")
    if V0 not in ("optimized", "original"):
        raise ValueError(f"microcircuit: V0 must be 'optimized' or 'original', got {V0!r}")
    if not 0 < N_scaling <= 1 or not 0 < K_scaling <= 1:
        raise ValueError(f"microcircuit: need 0 < N_scaling, K_scaling <= 1, got {N_scaling}, {K_scaling}")
    K_full = full_scale_synapses()
    num_neurons = np.round(FULL_NUM_NEURONS * N_scaling).astype(np.int64)
    if np.any(num_neurons < 1):
        raise ValueError(f"microcircuit: N_scaling={N_scaling} leaves a population empty")
    num_synapses = np.round(K_full * N_scaling * K_scaling).astype(np.int64)
    ext_indegrees = np.round(K_EXT * K_scaling).astype(np.int64)

    psc = psc_over_psp(NEURON_PARAMS["C_m"], NEURON_PARAMS["tau_m"], TAU_SYN)
    psp = np.empty((8, 8))
    psp[:, 0::2] = PSP_EXC
    psp[:, 1::2] = PSP_EXC * G
    psp[0, 2] = 2.0 * PSP_EXC                      # L4E -> L23E doubled
    w_full = psp * psc
    w_ext_full = PSP_EXC * psc

    poisson = drive == "poisson"
    DC_amp = np.zeros(8) if poisson else BG_RATE * K_EXT * w_ext_full * TAU_SYN * 0.001
    w, w_ext = w_full, w_ext_full
    if K_scaling != 1:
        w = w_full / np.sqrt(K_scaling)
        w_ext = w_ext_full / np.sqrt(K_scaling)
        indegree = K_full / FULL_NUM_NEURONS[:, None]
        input_rec = np.sum(w_full * indegree * FULL_MEAN_RATES, axis=1)
        DC_amp = DC_amp + 0.001 * TAU_SYN * (1.0 - np.sqrt(K_scaling)) * input_rec
        if poisson:
            DC_amp = DC_amp + 0.001 * TAU_SYN * (1.0 - np.sqrt(K_scaling)) * w_ext_full * K_EXT * BG_RATE

    delay_mean = np.empty((8, 8))
    delay_mean[:, 0::2] = DELAY_EXC
    delay_mean[:, 1::2] = DELAY_INH
    if V0 == "optimized":
        v0m, v0s = V0_OPTIMIZED_MEAN.copy(), V0_OPTIMIZED_STD.copy()
    else:
        v0m, v0s = np.full(8, V0_ORIGINAL[0]), np.full(8, V0_ORIGINAL[1])
    return MicrocircuitParameters(
        N_scaling=float(N_scaling), K_scaling=float(K_scaling), drive=drive,
        resolution_ms=float(resolution_ms), num_neurons=num_neurons, num_synapses=num_synapses,
        ext_indegrees=ext_indegrees, weight_mean=w, weight_rel_std=WEIGHT_REL_STD,
        weight_ext=float(w_ext),
        poisson_rate=(BG_RATE * ext_indegrees).astype(float) if poisson else np.zeros(8),
        delay_poisson=DELAY_POISSON, DC_amp=DC_amp, delay_mean=delay_mean,
        delay_std=delay_mean * DELAY_REL_STD, delay_min=0.5 * resolution_ms, V0_mean=v0m, V0_std=v0s)


def add_column(net: Network, p: MicrocircuitParameters, area: str | None = None,
               positions: list[np.ndarray] | None = None, prefix: str = "",
               I_e: np.ndarray | None = None) -> list:
    """Add one PD14 column (8 populations and their 64 projections) to ``net``.

    ``area`` labels the populations, ``positions`` gives each population's
    neuron positions (a list of 8 arrays (n_i, 2|3), mm), ``prefix`` is put
    before the population and projection names, and ``I_e`` (pA, 8 values)
    replaces ``p.DC_amp``. Returns the populations in :data:`POPULATIONS`
    order. Populations come first, then projections, as in :func:`microcircuit`.
    """
    I_e = p.DC_amp if I_e is None else np.asarray(I_e, float)
    pops = []
    for i, name in enumerate(POPULATIONS):
        params = dict(NEURON_PARAMS)
        params["I_e"] = float(I_e[i])
        params["V_m"] = Normal(float(p.V0_mean[i]), float(p.V0_std[i]))
        pops.append(net.add_population("iaf_psc_exp", int(p.num_neurons[i]), params, name=prefix + name,
                                       area=area, positions=None if positions is None else positions[i]))
    for i, target in enumerate(pops):
        for j, source in enumerate(pops):
            n = int(p.num_synapses[i, j])
            if n == 0:
                continue
            m = float(p.weight_mean[i, j])
            bounds = {"low": 0.0} if m >= 0 else {"high": 0.0}
            weight = Redraw(Normal(m, abs(m) * p.weight_rel_std), **bounds)
            delay = Redraw(Normal(float(p.delay_mean[i, j]), float(p.delay_std[i, j])), low=p.delay_min)
            net.connect(source, target, "fixed_total_number", N=n, allow_autapses=True,
                        allow_multapses=True, weight=weight, delay=delay,
                        label=f"{source.name}->{target.name}")
    return pops


def add_poisson_drive(net: Network, p: MicrocircuitParameters, pops: list,
                      rates: np.ndarray | None = None) -> list:
    """One ``poisson_generator`` per population of ``pops`` (rate ``rates[i]`` spikes/s per
    neuron, default ``p.poisson_rate``), weight ``p.weight_ext``, delay ``p.delay_poisson``."""
    rates = p.poisson_rate if rates is None else np.asarray(rates, float)
    generators = []
    for i, target in enumerate(pops):
        g = net.add_generator("poisson_generator", {"rate": float(rates[i])})
        net.drive(g, target.gids, p.weight_ext, p.delay_poisson)
        generators.append(g)
    return generators


def microcircuit(N_scaling: float = 1.0, K_scaling: float = 1.0, drive: str = "poisson",
                 resolution_ms: float = 0.1, record_spikes: bool = True,
                 V0: str = "optimized") -> tuple[Network, dict]:
    """Build the PD14 microcircuit; returns ``(net, info)``.

    ``info`` holds ``populations`` (names), ``sizes`` (int list),
    ``gid_ranges`` (``(first, stop)`` per population, stop exclusive),
    ``full_mean_rates`` (spikes/s), ``n_synapses`` (expected total),
    ``params`` (:class:`MicrocircuitParameters`), ``recorder`` (the spike
    recorder of all neurons, or None) and ``generators`` (Poisson drive).
    """
    p = microcircuit_parameters(N_scaling, K_scaling, drive, resolution_ms, V0)
    net = Network(resolution_ms)
    pops = add_column(net, p)
    generators = add_poisson_drive(net, p, pops) if drive == "poisson" else []
    recorder = net.record_spikes(np.arange(pops[0].first, pops[-1].stop)) if record_spikes else None
    info = {
        "model": "microcircuit",
        "populations": list(POPULATIONS),
        "sizes": [int(x) for x in p.num_neurons],
        "gid_ranges": [(pop.first, pop.stop) for pop in pops],
        "full_mean_rates": [float(x) for x in FULL_MEAN_RATES],
        "n_neurons": p.n_neurons,
        "n_synapses": p.n_synapses,
        "params": p,
        "recorder": recorder,
        "generators": generators,
    }
    return net, info
