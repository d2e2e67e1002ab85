"""multi_area: a synthetic multi-area model of PD14 columns on a cortical sheet.

Description
-----------
A test bed for the ``area_processes`` partition and for many-rank runs: a
areas, each a (down-scaled) Potjans & Diesmann (2014) column built by
:func:`cortex_gpu.models.microcircuit.add_column` with the same parameters
(sizes, synapse counts, weights, delays, K_scaling compensation), placed on a
flat cortical sheet and linked by distance-dependent cortico-cortical
projections. It is not a model of real anatomy (for that see the multi-area
model of Schmidt et al. 2018); it keeps the structure that matters to a
partition: areas, positions, dense local and sparse long-range connectivity.

Geometry. Area ``a`` (named ``A<a>``) has its centre on a square grid of
``ceil(sqrt(n_areas))`` columns, row by row, ``AREA_SPACING_MM`` = 1 mm
apart; its neurons are uniform in the 1 mm x 1 mm patch around the centre
(``AREA_SIDE_MM``; PD14 models the circuit under 1 mm² of cortex), so the
patches tile the sheet. Positions (mm, shape (n, 2)) come from a fixed seed
per (area, population): the model takes no seed. Inside each population the
neurons are ordered along a Z-order (Morton) curve of their position, so
consecutive gids, and hence the partition's tiles, are close in space.

Cortico-cortical projections. Sources: the excitatory populations L2/3E
(feedforward) and L5E (feedback) of every other area, shared in proportion to
their full-scale sizes. Targets: the excitatory populations L2/3E, L4E, L5E
and L6E. A target population ``i`` receives a cortico-cortical indegree
``K_cc,i = CC_RATIO * K_rec,i`` (``K_rec,i``: its recurrent indegree in the
column; ``CC_RATIO`` = 0.2), spread over the source areas ``a != b`` with
weights ``exp(-d_ab / CC_LAMBDA_MM)``, ``d_ab`` the distance of the area
centres and ``CC_LAMBDA_MM`` = 2 mm, normalised to one:

.. math::

   N_{ab,ij} = \\mathrm{round}\\Big(N_i\\,K_{cc,i}\\,f_j\\,
       \\frac{e^{-d_{ab}/\\lambda}}{\\sum_{c \\ne b} e^{-d_{cb}/\\lambda}}\\Big)

synapses from population ``j`` of area ``a`` to population ``i`` of area
``b``, drawn with ``fixed_total_number`` (autapses impossible, multapses
allowed). With two or more areas they are about 13% of all synapses
(``info['inter_area_share']``). Weights: the excitatory PD14 weight
Normal(w, 0.1 w) (w = 87.8 pA / sqrt(K_scaling)), redrawn until positive.
Delays: Normal(1.5 + d_ab / CC_VELOCITY, 0.5 of that) ms with a conduction
velocity of 3.5 mm/ms, redrawn below half a step.

Drive. As in PD14 (Poisson or DC), less the mean input the cortico-cortical
synapses now bring at the full-scale mean rates of their sources, so each
population's mean input is that of a lone column: the Poisson rate of target
``i`` is lowered by ``K_cc,i * nu_cc`` spikes/s (``nu_cc`` the size-weighted
mean rate of L2/3E and L5E), or ``I_e`` by ``1e-3 * tau_syn * K_cc,i * w *
nu_cc`` pA. A single area is exactly a PD14 column (with area label and
positions). The mean input is matched at the full-scale rates only: at scale
0.1 with two areas the rates settle lower than a lone column's (L5E ~3
spikes/s instead of ~6), since the sources fire below those rates and the
inter-area loop amplifies the deficit; without the subtraction they run
away (L5E ~50 spikes/s).

Parameters
----------
==============  ==========  ======  ==================================================
name            default     unit    meaning
==============  ==========  ======  ==================================================
n_areas         4           -       number of areas (columns)
scale           0.1         -       N_scaling = K_scaling of every column, 0 < scale <= 1
drive           'poisson'   -       'poisson' or 'dc' external input
resolution_ms   0.1         ms      simulation step h
record_spikes   True        -       record the spikes of every neuron
AREA_SPACING    1.0         mm      distance of neighbouring area centres
AREA_SIDE       1.0         mm      side of an area's square patch
CC_RATIO        0.2         -       cortico-cortical / recurrent indegree of a target
CC_LAMBDA       2.0         mm      decay length of the inter-area connection weights
CC_VELOCITY     3.5         mm/ms   conduction velocity of inter-area axons
==============  ==========  ======  ==================================================

References
----------
1. Potjans TC, Diesmann M (2014). The cell-type specific cortical
   microcircuit. Cereb Cortex 24(3):785-806. https://doi.org/10.1093/cercor/bht358
2. Schmidt M, Bakker R, Shen K, Bezgin G, Diesmann M, van Albada SJ (2018).
   A multi-scale layer-resolved spiking network model of resting-state
   dynamics in macaque visual cortical areas. PLoS Comput Biol
   14(10):e1006359. https://doi.org/10.1371/journal.pcbi.1006359
3. Iwasawa M, Tanikawa A, Hosono N, Nitadori K, Muranushi T, Makino J
   (2016). Implementation and performance of FDPS. PASJ 68(4):54.
   https://doi.org/10.1093/pasj/psw053 (the multisection division the
   ``area_processes`` partition applies to these positions)

See also: microcircuit, ``cortex_gpu.partition.make_partition``.
"""
from __future__ import annotations

import numpy as np

from ..distributions import Normal, Redraw
from ..network import Network
from .microcircuit import (FULL_MEAN_RATES, FULL_NUM_NEURONS, POPULATIONS, TAU_SYN, add_column,
                           add_poisson_drive, microcircuit_parameters)

__all__ = ["multi_area", "area_centres", "morton_order",
           "AREA_SPACING_MM", "AREA_SIDE_MM", "CC_RATIO", "CC_LAMBDA_MM", "CC_VELOCITY_MM_PER_MS",
           "CC_SOURCES", "CC_TARGETS"]

AREA_SPACING_MM = 1.0         # mm, between neighbouring area centres
AREA_SIDE_MM = 1.0            # mm, side of an area's patch
CC_RATIO = 0.2                # cortico-cortical indegree / recurrent indegree of a target
CC_LAMBDA_MM = 2.0            # mm, decay length of the inter-area weights
CC_VELOCITY_MM_PER_MS = 3.5   # mm/ms (3.5 m/s)
CC_SOURCES = ("L23E", "L5E")
CC_TARGETS = ("L23E", "L4E", "L5E", "L6E")
_POSITION_SEED = 0xA4EA       # fixed: positions are part of the model, not of a run


def area_centres(n_areas: int) -> np.ndarray:
    """Centres (mm, float64[n_areas, 2]) on a square grid, row by row.

    >>> area_centres(3).tolist()
    [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
    """
    cols = int(np.ceil(np.sqrt(n_areas)))
    a = np.arange(n_areas)
    return np.column_stack([a % cols, a // cols]).astype(float) * AREA_SPACING_MM


def morton_order(u: np.ndarray) -> np.ndarray:
    """Order of points ``u`` (float[n, 2] in [0, 1)) along a Z-order (Morton) curve.

    >>> morton_order(np.array([[0.9, 0.9], [0.1, 0.1], [0.9, 0.1], [0.1, 0.9]])).tolist()
    [1, 2, 3, 0]
    """
    q = np.minimum((np.asarray(u) * 65536.0).astype(np.uint64), np.uint64(65535))

    def spread(x):  # 16 bits -> every other bit of 32
        x = (x | (x << np.uint64(8))) & np.uint64(0x00FF00FF)
        x = (x | (x << np.uint64(4))) & np.uint64(0x0F0F0F0F)
        x = (x | (x << np.uint64(2))) & np.uint64(0x33333333)
        return (x | (x << np.uint64(1))) & np.uint64(0x55555555)

    return np.argsort(spread(q[:, 0]) | (spread(q[:, 1]) << np.uint64(1)), kind="stable")


def _positions(area: int, centre: np.ndarray, sizes: np.ndarray) -> list[np.ndarray]:
    """Uniform positions in the area's patch, each population in Morton order."""
    out = []
    for i, n in enumerate(sizes):
        u = np.random.default_rng([_POSITION_SEED, area, i]).random((int(n), 2))
        u = u[morton_order(u)]
        out.append(centre + (u - 0.5) * AREA_SIDE_MM)
    return out


def multi_area(n_areas: int = 4, scale: float = 0.1, drive: str = "poisson", resolution_ms: float = 0.1,
               record_spikes: bool = True) -> tuple[Network, dict]:
    """Build ``n_areas`` PD14 columns on a sheet with inter-area projections; returns ``(net, info)``.

    ``info`` holds ``populations`` (names ``A<a>/<pop>``, area by area),
    ``sizes``, ``gid_ranges`` (``(first, stop)`` per population), ``areas``
    (names), ``area_of_population`` (index into ``areas`` per population),
    ``area_centres_mm`` (float[n_areas, 2]), ``full_mean_rates`` (per
    population), ``n_neurons``, ``n_synapses`` (expected total),
    ``n_synapses_inter_area``, ``inter_area_share``, ``params`` (the columns'
    :class:`~cortex_gpu.models.microcircuit.MicrocircuitParameters`),
    ``recorder`` (or None) and ``generators``.
    """
    if int(n_areas) != n_areas or n_areas < 1:
        raise ValueError(f"multi_area: n_areas must be a positive integer, got {n_areas}")
    n_areas = int(n_areas)
    p = microcircuit_parameters(scale, scale, drive, resolution_ms)
    centres = area_centres(n_areas)
    net = Network(resolution_ms)
    names = [f"A{a}" for a in range(n_areas)]
    idx = {name: i for i, name in enumerate(POPULATIONS)}
    src = np.array([idx[s] for s in CC_SOURCES])
    tgt = np.array([idx[t] for t in CC_TARGETS])
    src_share = FULL_NUM_NEURONS[src] / FULL_NUM_NEURONS[src].sum()
    nu_cc = float(np.dot(src_share, FULL_MEAN_RATES[src]))                 # spikes/s
    K_cc = np.zeros(len(POPULATIONS))
    if n_areas > 1:
        K_cc[tgt] = CC_RATIO * p.num_synapses[tgt].sum(axis=1) / p.num_neurons[tgt]
    w = float(p.weight_mean[0, 0])                                          # excitatory weight, pA
    # the drive loses the mean input the cortico-cortical synapses now bring
    I_e = p.DC_amp - (1e-3 * TAU_SYN * K_cc * w * nu_cc if drive == "dc" else 0.0)
    columns = [add_column(net, p, area=names[a], positions=_positions(a, centres[a], p.num_neurons),
                          prefix=f"{names[a]}/", I_e=I_e) for a in range(n_areas)]
    d = np.linalg.norm(centres[:, None, :] - centres[None, :, :], axis=2)  # d[a, b]
    affinity = np.exp(-d / CC_LAMBDA_MM)
    np.fill_diagonal(affinity, 0.0)
    affinity /= np.maximum(affinity.sum(axis=0, keepdims=True), 1e-300)   # columns: over sources a
    n_cc = 0
    for b in range(n_areas):
        for a in range(n_areas):
            if a == b:
                continue
            delay_mean = float(p.delay_mean[0, 0]) + d[a, b] / CC_VELOCITY_MM_PER_MS
            delay = Redraw(Normal(delay_mean, delay_mean * 0.5), low=p.delay_min)
            weight = Redraw(Normal(w, w * p.weight_rel_std), low=0.0)
            for i in tgt:
                for j, share in zip(src, src_share):
                    n = int(round(p.num_neurons[i] * K_cc[i] * share * affinity[a, b]))
                    if n == 0:
                        continue
                    pre, post = columns[a][j], columns[b][i]
                    net.connect(pre, post, "fixed_total_number", N=n, weight=weight, delay=delay,
                                label=f"{pre.name}->{post.name}")
                    n_cc += n

    generators = []
    if drive == "poisson":
        rates = np.maximum(p.poisson_rate - K_cc * nu_cc, 0.0)
        for col in columns:
            generators += add_poisson_drive(net, p, col, rates)
    pops = [pop for col in columns for pop in col]
    recorder = net.record_spikes(np.arange(pops[0].first, pops[-1].stop)) if record_spikes else None
    n_syn = n_areas * p.n_synapses + n_cc
    info = {
        "model": "multi_area",
        "populations": [pop.name for pop in pops],
        "sizes": [pop.n for pop in pops],
        "gid_ranges": [(pop.first, pop.stop) for pop in pops],
        "areas": names,
        "area_of_population": [a for a in range(n_areas) for _ in POPULATIONS],
        "area_centres_mm": centres,
        "full_mean_rates": [float(x) for x in np.tile(FULL_MEAN_RATES, n_areas)],
        "n_neurons": n_areas * p.n_neurons,
        "n_synapses": n_syn,
        "n_synapses_inter_area": n_cc,
        "inter_area_share": n_cc / n_syn,
        "params": p,
        "recorder": recorder,
        "generators": generators,
    }
    return net, info
