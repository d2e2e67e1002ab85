"""macaque_multi_area: the multi-area model of macaque visual cortex (Schmidt et al. 2018).

Description
-----------
32 areas of one hemisphere of macaque visual cortex, each a layered column
under 1 mm² of cortex with up to eight populations (23E, 23I, 4E, 4I, 5E, 5I,
6E, 6I; TH has no layer 4): 254 populations of ``iaf_psc_exp`` neurons,
4,129,924 neurons and 24,126,516,728 synapses at full scale. Every number
comes from ``data/mam_full_scale.json.xz`` (shipped in the package, xz
compressed; :func:`load_data`), the instantiation of ``MultiAreaModel`` of
github.com/INM-6/multi-area-model at commit 355d940 with its default
parameters (the stabilised indegree matrix K' of Schuecker et al. 2017).
The rules restate ``multiarea_model/simulation.py`` and ``scale_network``.
Population ``i`` is the 254-entry order of the data: area-major, areas in
the data's order. Matrices are ``M[target, source]``.

Neurons. ``iaf_psc_exp`` with C_m 250 pF, tau_m 10 ms, E_L = V_reset =
-65 mV, V_th -50 mV, t_ref 2 ms, tau_syn 0.5 ms; V_m(0) ~ Normal(-150, 50) mV
per neuron (not truncated). Population ``i`` has ``floor(N_i * N_scaling)``
neurons (``N_i`` the unrounded model size, as ``int()`` in the reference).

Connections. For each pair with synapses, ``fixed_total_number`` with
``floor(S_ij * N_scaling * K_scaling)`` synapses (``S_ij = K_ij N_i`` the
unrounded full-scale count; at scale 1 this is ``synapse_numbers_created``),
autapses and multapses allowed: of the 8,411 pairs with K > 0 (6,691
between areas), 8,344 (6,644) get a synapse at full scale (only 23E, 5E and
6E project out of their area). Weights: Normal(W_ij,
0.1 |W_ij|) pA, redrawn until w >= 0 for excitatory and w <= 0 for
inhibitory sources. Within an area W = 87.81 pA (0.15 mV PSP) from E
sources, 175.62 pA for 4E -> 23E, -965.89 pA (g = -11) from I sources;
between areas ``chi * 87.81`` pA onto E targets and ``chi * chi_I * 87.81``
onto I targets. Delays: Normal(d_ij, 0.5 d_ij) ms redrawn until >= dt (the
resolution), rounded to the step; d = 1.5 ms (E source) or 0.75 ms (I
source) within an area, ``distance / 3.5 mm/ms`` between areas (1.71 to
17.98 ms).

States. ``state='ground'``: chi = chi_I = 1 (Schmidt et al. 2018, Figs 2-3;
``run_example_fullscale.py``). ``state='metastable'``: chi = 1.9, chi_I = 2
(the repository default since 2024, Figs 4-9). ``chi`` and ``chi_I``
override either state.

Drive. Each neuron gets its own Poisson train at ``10 * K_ext,i * K_scaling``
spikes/s (K_ext unrounded), weight 87.81 pA / sqrt(K_scaling), delay 1 ms:
one ``poisson_generator`` per population.

Scaling. ``N_scaling`` scales the neuron counts and the synapse counts
together, so indegrees stay as at full scale and so do weights and drive:
the mean and variance of every neuron's input are those of the full model,
and the rates stay close to full scale down to small ``N_scaling`` (finite
size changes correlations and, below a few neurons per population, the
statistics). ``K_scaling`` scales the indegrees (and the external
indegrees); as in ``MultiAreaModel.scale_network``, weights are divided by
``sqrt(K_scaling)``, which keeps the input variance, and the lost mean input
comes back as a constant current per population (van Albada et al. 2015):

.. math::

   I_{e,i} = 10^{-3}\\,\\tau_{syn}\\,(1 - \\sqrt{K_{scaling}})
       \\Big(\\sum_j W_{ij} K_{ij} \\nu_j + W_{ext} K_{ext,i} \\nu_{ext}\\Big)

with the full-scale W and K, nu_ext = 10 spikes/s and nu_j the reference's
``fullscale_rates`` (``tests/fullscale_rates.json`` of the repository, in
the data under ``reference_activity``). Mean and variance of the input are
then right only if the network fires at those rates; where it does not, the
compensation is off by ``(1 - sqrt(K)) * sum_j W K (nu_j - nu_sim,j)`` and
the rates drift from the full-scale ones, the more the smaller K_scaling
(the reference warns that K_scaling = 0.01 "will not yield reasonable
dynamical results"). Use K_scaling < 1 for speed and tests, N_scaling for
studies of the dynamics.

Positions. Each area's neurons lie uniformly in its 1 mm x 1 mm patch
(``AREA_SIDE_MM``) around a centre placed by classical multidimensional
scaling of the inter-area fibre distances (2-D, mm), so nearer areas lie
nearer; inside a population they are in Z-order (Morton) of position, so
the ``area_processes`` partition's tiles are compact. Positions come from a
fixed seed (they are part of the model, not of a run).

Parameters
----------
==============  ===========  ======  ==================================================
name            default      unit    meaning
==============  ===========  ======  ==================================================
N_scaling       1.0          -       factor on neuron and synapse counts (indegrees kept)
K_scaling       1.0          -       factor on indegrees (weights and DC compensated)
state           'ground'     -       'ground' (chi = chi_I = 1) or 'metastable' (1.9, 2)
chi             None         -       inter-area weight factor (overrides the state's)
chi_I           None         -       extra factor onto inhibitory targets (likewise)
resolution_ms   0.1          ms      simulation step dt (also the delays' lower bound)
record_spikes   True         -       record the spikes of every neuron
==============  ===========  ======  ==================================================

References
----------
1. Schmidt M, Bakker R, Hilgetag CC, Diesmann M, van Albada SJ (2018).
   Multi-scale account of the network structure of macaque visual cortex.
   Brain Struct Funct 223:1409-1435. https://doi.org/10.1007/s00429-017-1554-4
2. Schmidt M, Bakker R, Shen K, Bezgin G, Diesmann M, van Albada SJ (2018).
   A multi-scale layer-resolved spiking network model of resting-state
   dynamics in macaque visual cortical areas. PLoS Comput Biol
   14(10):e1006359. https://doi.org/10.1371/journal.pcbi.1006359
3. Schuecker J, Schmidt M, van Albada SJ, Diesmann M, Helias M (2017).
   Fundamental activity constraints lead to specific interpretations of the
   connectome. PLoS Comput Biol 13(2):e1005179 (the stabilised K').
4. van Albada SJ, Helias M, Diesmann M (2015). Scalability of asynchronous
   networks is limited by one-to-one mapping between effective connectivity
   and correlations. PLoS Comput Biol 11(9):e1004490 (the K_scaling rule).

See also: ``bench/nest_macaque_multi_area.py`` (the NEST twin),
``cortex-gpu run macaque_multi_area``, multi_area (synthetic sheet).
"""
from __future__ import annotations

import functools
import json
import lzma
from dataclasses import dataclass
from importlib import resources

import numpy as np

from ..distributions import Normal, Redraw
from ..network import Network
from .multi_area import morton_order

__all__ = ["macaque_multi_area", "macaque_parameters", "MacaqueParameters", "load_data", "check_data",
           "area_centres_mds", "STATES", "AREA_SIDE_MM", "DATA_FILE"]

DATA_FILE = "mam_full_scale.json.xz"
AREA_SIDE_MM = 1.0
STATES = {"ground": (1.0, 1.0), "metastable": (1.9, 2.0)}
_POSITION_SEED = 0x3A5C   # fixed: positions are part of the model


@functools.lru_cache(maxsize=1)
def _packaged_data() -> dict:
    with resources.files(__package__).joinpath("data", DATA_FILE).open("rb") as f:
        return json.loads(lzma.decompress(f.read()))


def load_data() -> dict:
    """The model data (``mam_full_scale.json`` as shipped), checked by :func:`check_data`."""
    d = _packaged_data()
    check_data(d)
    return d


def check_data(d: dict) -> None:
    """Raise ValueError naming the entry when the model data are inconsistent.

    Checks shapes (254 populations, 32 areas), finiteness, non-negative sizes,
    counts and indegrees, integer created counts, and that every population
    belongs to a listed area.
    """
    def arr(path: str, shape: tuple, dtype=float) -> np.ndarray:
        x = d
        for key in path.split("/"):
            if not isinstance(x, dict) or key not in x:
                raise ValueError(f"macaque model data: missing entry '{path}'")
            x = x[key]
        try:
            a = np.asarray(x, dtype=dtype)
        except (TypeError, ValueError):
            raise ValueError(f"macaque model data: entry '{path}' is not numeric") from None
        if a.shape != shape:
            raise ValueError(f"macaque model data: entry '{path}' has shape {a.shape}, expected {shape}")
        if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
            raise ValueError(f"macaque model data: entry '{path}' has non-finite values")
        return a

    try:
        areas = list(d["areas"])
        names = list(d["populations"]["names"])
        pop_area = list(d["populations"]["area"])
    except (KeyError, TypeError):
        raise ValueError("macaque model data: missing 'areas', 'populations/names' or 'populations/area'") from None
    n, a = len(names), len(areas)
    if len(pop_area) != n or any(x not in areas for x in pop_area):
        raise ValueError("macaque model data: entry 'populations/area' names an area not in 'areas'")
    for path, shape in (("populations/N", (n,)), ("populations/K_ext", (n,)),
                        ("connectivity/K_indegree", (n, n)), ("connectivity/synapse_numbers", (n, n)),
                        ("connectivity/synapse_numbers_created", (n, n)),
                        ("delays/inter_area_mean_delay_ms", (a, a)), ("delays/distance_mm", (a, a)),
                        ("weights/states/ground/W_mean_pA", (n, n)),
                        ("weights/states/ground/W_ext_pA", (n,))):
        x = arr(path, shape)
        if path.startswith(("populations", "connectivity", "delays")) and np.any(x < 0):
            i = np.argwhere(x < 0)[0]
            raise ValueError(f"macaque model data: entry '{path}' is negative at {tuple(int(k) for k in i)}")
        if path.endswith("_created") and np.any(x != np.floor(x)):
            raise ValueError(f"macaque model data: entry '{path}' has non-integer counts")
    arr("populations/is_excitatory", (n,), bool)


def area_centres_mds(distance_mm: np.ndarray) -> np.ndarray:
    """2-D positions (mm, float64[a, 2]) of points with the given distances, by classical MDS.

    >>> d = np.array([[0., 3., 4.], [3., 0., 5.], [4., 5., 0.]])
    >>> c = area_centres_mds(d)
    >>> bool(np.allclose(np.linalg.norm(c[:, None] - c[None], axis=2), d))
    True
    """
    d2 = np.asarray(distance_mm, float) ** 2
    n = d2.shape[0]
    j = np.eye(n) - 1.0 / n
    b = -0.5 * j @ d2 @ j
    vals, vecs = np.linalg.eigh(b)
    top = np.argsort(vals)[::-1][:2]
    return vecs[:, top] * np.sqrt(np.maximum(vals[top], 0.0))


@dataclass(frozen=True)
class MacaqueParameters:
    """Every derived number of one (N_scaling, K_scaling, chi, chi_I) instance.

    Per-population arrays have 254 entries in the data's order; matrices are
    254x254, row = target. The NEST twin builds from the same object.
    """

    N_scaling: float
    K_scaling: float
    state: str
    chi: float
    chi_I: float
    resolution_ms: float
    areas: list                      # 32 area names
    populations: list                # 254 names "<area>-<type>"
    area_of_population: np.ndarray   # int64[254], index into areas
    is_excitatory: np.ndarray        # bool[254]
    num_neurons: np.ndarray          # int64[254]
    num_synapses: np.ndarray         # int64[254, 254]
    weight_mean: np.ndarray          # float64[254, 254], pA (scaled by 1/sqrt(K_scaling))
    weight_rel_sd: float
    delay_mean: np.ndarray           # float64[254, 254], ms
    delay_rel_sd: float
    delay_min: float                 # ms, delays below are redrawn
    poisson_rate: np.ndarray         # float64[254], spikes/s per neuron
    weight_ext: np.ndarray           # float64[254], pA
    delay_ext: float                 # ms
    I_e: np.ndarray                  # float64[254], pA: the K_scaling compensation
    V0_mean: float                   # mV
    V0_sd: float                     # mV
    neuron_params: dict
    fullscale_rates: np.ndarray      # float64[254], spikes/s (the compensation's)

    @property
    def n_neurons(self) -> int:
        return int(self.num_neurons.sum())

    @property
    def n_synapses(self) -> int:
        return int(self.num_synapses.sum())


def macaque_parameters(N_scaling: float = 1.0, K_scaling: float = 1.0, state: str = "ground",
                       chi: float | None = None, chi_I: float | None = None,
                       resolution_ms: float = 0.1, data: dict | None = None) -> MacaqueParameters:
    """Derive sizes, counts, weights, delays, drive and currents from the model data."""
    if state not in STATES:
        raise ValueError(f"macaque_multi_area: state must be one of {tuple(STATES)}, got {state!r}")
    if not (0 < N_scaling <= 1) or not (0 < K_scaling <= 1):
        raise ValueError(f"macaque_multi_area: need 0 < N_scaling, K_scaling <= 1, got {N_scaling}, {K_scaling}")
    if data is None:
        d = load_data()
    else:
        check_data(data)
        d = data
    chi = STATES[state][0] if chi is None else float(chi)
    chi_I = STATES[state][1] if chi_I is None else float(chi_I)
    if not (chi > 0 and chi_I > 0):
        raise ValueError(f"macaque_multi_area: chi and chi_I must be > 0, got {chi}, {chi_I}")
    areas = list(d["areas"])
    pops = d["populations"]
    names = list(pops["names"])
    area_of = np.array([areas.index(a) for a in pops["area"]], np.int64)
    exc = np.asarray(pops["is_excitatory"], bool)
    N = np.asarray(pops["N"], float)
    num_neurons = np.floor(N * N_scaling).astype(np.int64)
    if np.any(num_neurons < 1):
        i = int(np.flatnonzero(num_neurons < 1)[0])
        raise ValueError(f"macaque_multi_area: N_scaling={N_scaling} leaves population {names[i]} "
                         f"({N[i]:.1f} neurons at full scale) empty")
    S = np.asarray(d["connectivity"]["synapse_numbers"], float)
    if N_scaling == 1 and K_scaling == 1:
        num_synapses = np.asarray(d["connectivity"]["synapse_numbers_created"], np.int64)
    else:
        num_synapses = np.floor(S * (N_scaling * K_scaling)).astype(np.int64)
    K = np.asarray(d["connectivity"]["K_indegree"], float)
    K_ext = np.asarray(pops["K_ext"], float)

    inter = area_of[:, None] != area_of[None, :]
    W = np.array(d["weights"]["states"]["ground"]["W_mean_pA"], float)   # chi = chi_I = 1
    W[inter & exc[:, None]] *= chi
    W[inter & ~exc[:, None]] *= chi * chi_I
    W_ext = np.asarray(d["weights"]["states"]["ground"]["W_ext_pA"], float)
    tau_syn = float(d["neuron"]["params"]["tau_syn_ex"])

    ref = d["reference_activity"]["tests/fullscale_rates.json"]["rates_Hz"]
    full_rates = np.array([float(ref[a][t]) for a, t in zip(pops["area"], pops["type"])])
    rate_ext = float(d["external_input"]["rate_ext_Hz"])
    sq = np.sqrt(K_scaling)
    I_e = np.zeros(len(names))
    if K_scaling != 1:
        mean_input = (W * K) @ full_rates + W_ext * K_ext * rate_ext       # pA / ms * 1e3
        I_e = 1e-3 * tau_syn * (1.0 - sq) * mean_input

    dl = d["delays"]
    D = np.asarray(dl["inter_area_mean_delay_ms"], float)[area_of[:, None], area_of[None, :]]
    intra = np.where(exc, float(dl["intra_area_mean_E_source_ms"]), float(dl["intra_area_mean_I_source_ms"]))
    delay_mean = np.where(inter, D, np.broadcast_to(intra[None, :], D.shape))
    params = {k: float(v) for k, v in d["neuron"]["params"].items()}
    v0 = d["neuron"]["initial_V_m"]
    return MacaqueParameters(
        N_scaling=float(N_scaling), K_scaling=float(K_scaling), state=state, chi=chi, chi_I=chi_I,
        resolution_ms=float(resolution_ms), areas=areas, populations=names, area_of_population=area_of,
        is_excitatory=exc, num_neurons=num_neurons, num_synapses=num_synapses, weight_mean=W / sq,
        weight_rel_sd=float(d["weights"]["rel_sd"]), delay_mean=delay_mean,
        delay_rel_sd=float(dl["delay_rel_sd"]), delay_min=float(resolution_ms),
        poisson_rate=rate_ext * K_ext * K_scaling, weight_ext=W_ext / sq,
        delay_ext=float(d["external_input"]["delay_ms"]), I_e=I_e,
        V0_mean=float(v0["mean_mV"]), V0_sd=float(v0["sd_mV"]), neuron_params=params,
        fullscale_rates=full_rates)


def _positions(p: MacaqueParameters, centres: np.ndarray) -> list[np.ndarray]:
    """Uniform positions in each population's area patch, in Morton order within a population."""
    out = []
    for i, n in enumerate(p.num_neurons):
        u = np.random.default_rng([_POSITION_SEED, i]).random((int(n), 2))
        u = u[morton_order(u)]
        out.append(centres[p.area_of_population[i]] + (u - 0.5) * AREA_SIDE_MM)
    return out


def weight_distribution(p: MacaqueParameters, i: int, j: int) -> Redraw:
    """Weight law of pair (target i, source j): Normal(W, 0.1|W|) redrawn to the source's sign."""
    m = float(p.weight_mean[i, j])
    bounds = {"low": 0.0} if p.is_excitatory[j] else {"high": 0.0}
    return Redraw(Normal(m, abs(m) * p.weight_rel_sd), **bounds)


def delay_distribution(p: MacaqueParameters, i: int, j: int) -> Redraw:
    """Delay law of pair (target i, source j): Normal(d, 0.5 d) redrawn until >= dt."""
    m = float(p.delay_mean[i, j])
    return Redraw(Normal(m, m * p.delay_rel_sd), low=p.delay_min)


def macaque_multi_area(N_scaling: float = 1.0, K_scaling: float = 1.0, state: str = "ground",
                       chi: float | None = None, chi_I: float | None = None, resolution_ms: float = 0.1,
                       record_spikes: bool = True) -> tuple[Network, dict]:
    """Build the multi-area model; returns ``(net, info)``.

    ``info`` holds ``populations`` (254 names, area-major), ``sizes``,
    ``gid_ranges`` (``(first, stop)`` per population), ``areas``,
    ``area_of_population``, ``area_centres_mm`` (float[32, 2]), ``n_neurons``,
    ``n_synapses`` (the total drawn), ``n_synapses_inter_area``, ``params``
    (:class:`MacaqueParameters`), ``full_mean_rates`` (the compensation's
    reference rates), ``recorder`` (or None) and ``generators``.
    """
    p = macaque_parameters(N_scaling, K_scaling, state, chi, chi_I, resolution_ms)
    d = load_data()
    centres = area_centres_mds(np.asarray(d["delays"]["distance_mm"], float))
    positions = _positions(p, centres)
    net = Network(resolution_ms)
    pops = []
    for i, name in enumerate(p.populations):
        params = dict(p.neuron_params)
        params["I_e"] = float(p.I_e[i])
        params["V_m"] = Normal(p.V0_mean, p.V0_sd)
        pops.append(net.add_population("iaf_psc_exp", int(p.num_neurons[i]), params, name=name,
                                       area=p.areas[p.area_of_population[i]], positions=positions[i]))
    n_inter = 0
    for i, target in enumerate(pops):
        for j in np.flatnonzero(p.num_synapses[i]):
            n = int(p.num_synapses[i, j])
            source = pops[j]
            net.connect(source, target, "fixed_total_number", N=n, allow_autapses=True, allow_multapses=True,
                        weight=weight_distribution(p, i, j), delay=delay_distribution(p, i, j),
                        label=f"{source.name}->{target.name}")
            if p.area_of_population[i] != p.area_of_population[j]:
                n_inter += n
    generators = []
    for i, target in enumerate(pops):
        g = net.add_generator("poisson_generator", {"rate": float(p.poisson_rate[i])})
        net.drive(g, target.gids, float(p.weight_ext[i]), p.delay_ext)
        generators.append(g)
    recorder = net.record_spikes(np.arange(pops[0].first, pops[-1].stop)) if record_spikes else None
    info = {
        "model": "macaque_multi_area",
        "populations": list(p.populations),
        "sizes": [pop.n for pop in pops],
        "gid_ranges": [(pop.first, pop.stop) for pop in pops],
        "areas": list(p.areas),
        "area_of_population": [int(a) for a in p.area_of_population],
        "area_centres_mm": centres,
        "full_mean_rates": [float(x) for x in p.fullscale_rates],
        "n_neurons": p.n_neurons,
        "n_synapses": p.n_synapses,
        "n_synapses_inter_area": n_inter,
        "params": p,
        "recorder": recorder,
        "generators": generators,
    }
    return net, info
