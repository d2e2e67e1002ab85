"""nest_macaque_multi_area: the NEST 3.10 twin of the multi-area model of macaque visual cortex.

Builds Schmidt et al. (2018)'s model in PyNEST from the same
:class:`~cortex_gpu.models.macaque_multi_area.MacaqueParameters` (hence the
same packaged data) that ``cortex_gpu.models.macaque_multi_area`` builds
from, with the constructs of ``multiarea_model/simulation.py``: one
``Create`` of ``iaf_psc_exp`` per population with ``I_e`` (the K_scaling
compensation) and V_m ~ Normal(-150, 50) mV; per population pair a
``fixed_total_number`` projection (autapses and multapses allowed) with
``nest.math.redraw(nest.random.normal(W, 0.1|W|))`` weights bounded to the
source's sign and ``redraw(normal(d, 0.5 d), min=dt)`` delays; one
``poisson_generator`` per population connected ``all_to_all`` (each neuron
gets its own train).

Use as a module (:func:`build_nest_macaque`, :func:`run_nest_macaque`,
:func:`describe_structure`) or as a script, which prints one JSON record::

    python bench/nest_macaque_multi_area.py --N-scaling 0.01 --t-sim 1000 --threads 2 --record
    python bench/nest_macaque_multi_area.py --N-scaling 0.002 --K-scaling 0.02 --structure

The record holds build, presim and sim times, RTF, peak RSS and, with
``--record``, the rate of every population and area (``rates_hz``,
``area_rates_hz``) and the population-rate CV per area (bursts of the
metastable state).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.nest_microcircuit import _import_nest, _peak_rss_mb, record_populations, simulate_timed  # noqa: E402
from bench.report import population_rates_hz  # noqa: E402
from cortex_gpu.models.macaque_multi_area import MacaqueParameters, macaque_parameters  # noqa: E402

__all__ = ["NestMacaque", "build_nest_macaque", "run_nest_macaque", "describe_structure", "area_rates",
           "area_rate_cv"]


@dataclass
class NestMacaque:
    """Handles of a built NEST multi-area model."""

    nest: object
    populations: list                  # NodeCollection per population
    generators: list                   # poisson_generator per population
    gid_ranges: list[tuple[int, int]]  # (first, stop) NEST node ids per population


def build_nest_macaque(p: MacaqueParameters, *, seed: int = 1, threads: int = 1) -> NestMacaque:
    """Reset NEST's kernel and build the model described by ``p``."""
    nest = _import_nest()
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": p.resolution_ms, "local_num_threads": int(threads),
                          "rng_seed": int(seed), "print_time": False})
    pops = []
    for i in range(len(p.populations)):
        params = dict(p.neuron_params)
        params["I_e"] = float(p.I_e[i])
        pop = nest.Create("iaf_psc_exp", int(p.num_neurons[i]), params=params)
        pop.set(V_m=nest.random.normal(mean=p.V0_mean, std=p.V0_sd))
        pops.append(pop)
    for i, target in enumerate(pops):
        for j in np.flatnonzero(p.num_synapses[i]):
            w = float(p.weight_mean[i, j])
            lo, hi = (0.0, np.inf) if p.is_excitatory[j] else (-np.inf, 0.0)
            d = float(p.delay_mean[i, j])
            syn = {"synapse_model": "static_synapse",
                   "weight": nest.math.redraw(nest.random.normal(mean=w, std=abs(w) * p.weight_rel_sd),
                                              min=lo, max=hi),
                   "delay": nest.math.redraw(nest.random.normal(mean=d, std=d * p.delay_rel_sd),
                                             min=p.delay_min, max=np.inf)}
            nest.Connect(pops[j], target, {"rule": "fixed_total_number", "N": int(p.num_synapses[i, j]),
                                           "allow_autapses": True, "allow_multapses": True}, syn)
    gens = []
    for i, target in enumerate(pops):
        g = nest.Create("poisson_generator", params={"rate": float(p.poisson_rate[i])})
        nest.Connect(g, target, "all_to_all", {"weight": float(p.weight_ext[i]), "delay": p.delay_ext})
        gens.append(g)
    ranges = [(int(pop[0].global_id), int(pop[0].global_id) + len(pop)) for pop in pops]
    return NestMacaque(nest, pops, gens, ranges)


def describe_structure(model: NestMacaque, p: MacaqueParameters) -> dict:
    """Sizes, synapses per pair (254x254, row = target) and weight/delay sums per pair (JSON-ready).

    Reads every synapse once; meant for small scales.
    """
    nest = model.nest
    first = np.array([a for a, _ in model.gid_ranges])
    stop = model.gid_ranges[-1][1]
    neurons = nest.NodeCollection(list(range(int(first[0]), int(stop))))
    conns = nest.GetConnections(source=neurons, target=neurons)
    v = conns.get(["source", "target", "weight", "delay"])
    src = np.searchsorted(first, np.asarray(v["source"]), side="right") - 1
    tgt = np.searchsorted(first, np.asarray(v["target"]), side="right") - 1
    n = len(model.populations)
    flat = tgt * n + src
    out = {"sizes": [len(pop) for pop in model.populations],
           "counts": np.bincount(flat, minlength=n * n).tolist()}
    for key in ("weight", "delay"):
        x = np.asarray(v[key], float)
        out[f"{key}_sum"] = np.bincount(flat, weights=x, minlength=n * n).tolist()
        out[f"{key}_sum_sq"] = np.bincount(flat, weights=x * x, minlength=n * n).tolist()
    out["I_e"] = [float(np.atleast_1d(pop.get("I_e"))[0]) for pop in model.populations]
    out["poisson_rates"] = [float(g.get("rate")) for g in model.generators]
    return out


def area_rates(p: MacaqueParameters, rates: np.ndarray) -> np.ndarray:
    """Mean rate per area (spikes/s), weighted by population size."""
    w = p.num_neurons.astype(float)
    total = np.bincount(p.area_of_population, weights=rates * w, minlength=len(p.areas))
    return total / np.bincount(p.area_of_population, weights=w, minlength=len(p.areas))


def area_rate_cv(p: MacaqueParameters, senders: np.ndarray, times_ms: np.ndarray,
                 gid_ranges: list[tuple[int, int]], t0_ms: float, t1_ms: float, bin_ms: float = 1.0) -> np.ndarray:
    """CV over time of each area's population rate in ``bin_ms`` bins (bursts raise it)."""
    first = np.array([a for a, _ in gid_ranges])
    area = p.area_of_population[np.searchsorted(first, senders, side="right") - 1]
    edges = np.arange(t0_ms, t1_ms + 0.5 * bin_ms, bin_ms)
    cv = np.zeros(len(p.areas))
    for a in range(len(p.areas)):
        h, _ = np.histogram(times_ms[area == a], edges)
        cv[a] = h.std() / h.mean() if h.mean() > 0 else 0.0
    return cv


def run_nest_macaque(p: MacaqueParameters, *, t_presim_ms: float = 500.0, t_sim_ms: float = 1000.0,
                     seed: int = 1, threads: int = 1, record: bool = False) -> dict:
    """Build and simulate in NEST; time each phase; with ``record`` the rates of the timed part."""
    nest = _import_nest()
    t0 = time.perf_counter()
    model = build_nest_macaque(p, seed=seed, threads=threads)
    recorder = record_populations(nest, model.populations, t_presim_ms) if record else None
    build_s = time.perf_counter() - t0
    presim_s, sim_s = simulate_timed(nest, t_presim_ms, t_sim_ms)
    n_syn = int(nest.GetKernelStatus("num_connections")) - p.n_neurons * (2 if record else 1)
    out = {"simulator": "nest", "version": nest.__version__, "threads": int(threads), "seed": int(seed),
           "N_scaling": p.N_scaling, "K_scaling": p.K_scaling, "chi": p.chi, "chi_I": p.chi_I,
           "n_neurons": p.n_neurons, "n_synapses": n_syn, "build_s": build_s, "presim_s": presim_s,
           "sim_s": sim_s, "t_presim_ms": float(t_presim_ms), "t_sim_ms": float(t_sim_ms),
           "rtf": sim_s / (t_sim_ms * 1e-3), "peak_rss_mb": _peak_rss_mb(), "recorded": bool(record),
           "rates_hz": None}
    if recorder is not None:
        ev = recorder.get("events")
        t1 = t_presim_ms + t_sim_ms
        rates = population_rates_hz(ev["senders"], ev["times"], model.gid_ranges, t_presim_ms, t1)
        out["rates_hz"] = [float(r) for r in rates]
        out["area_rates_hz"] = [float(r) for r in area_rates(p, np.asarray(rates))]
        out["area_rate_cv"] = [float(c) for c in area_rate_cv(p, np.asarray(ev["senders"]),
                                                              np.asarray(ev["times"]), model.gid_ranges,
                                                              t_presim_ms, t1)]
    return out


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description="Multi-area macaque model in NEST 3.10; prints one JSON record.")
    ap.add_argument("--N-scaling", dest="N_scaling", type=float, default=0.01)
    ap.add_argument("--K-scaling", dest="K_scaling", type=float, default=1.0)
    ap.add_argument("--state", choices=("ground", "metastable"), default="ground")
    ap.add_argument("--chi", type=float, default=None)
    ap.add_argument("--chi-I", dest="chi_I", type=float, default=None)
    ap.add_argument("--t-presim", type=float, default=500.0, help="ms simulated and discarded (default 500)")
    ap.add_argument("--t-sim", type=float, default=1000.0, help="ms measured (default 1000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=None, help="local_num_threads (default: the cores)")
    ap.add_argument("--record", action="store_true", help="record spikes for rates (not for timing)")
    ap.add_argument("--structure", action="store_true", help="build only; print sizes and per-pair statistics")
    return ap


def main(argv: list[str] | None = None) -> int:
    a = _parser().parse_args(argv)
    p = macaque_parameters(a.N_scaling, a.K_scaling, a.state, a.chi, a.chi_I)
    threads = a.threads or os.cpu_count() or 1
    if a.structure:
        print(json.dumps(describe_structure(build_nest_macaque(p, seed=a.seed, threads=threads), p)))
        return 0
    print(json.dumps(run_nest_macaque(p, t_presim_ms=a.t_presim, t_sim_ms=a.t_sim, seed=a.seed,
                                      threads=threads, record=a.record)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
