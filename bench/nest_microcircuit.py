"""nest_microcircuit: the NEST 3.10 peer of the PD14 benchmark.

Builds the Potjans & Diesmann (2014) microcircuit in NEST from the same
:class:`~cortex_gpu.models.microcircuit.MicrocircuitParameters` that
``cortex_gpu.models.microcircuit.microcircuit`` builds from, with the
constructs of NEST's own PD14 example: one ``Create`` per population with
``I_e`` (external DC and the K_scaling compensation) and V_m ~ Normal per
population; ``fixed_total_number`` projections (autapses and multapses
allowed) with Normal weights redrawn until the sign is kept and Normal delays
redrawn below ``delay_min``; with Poisson drive, one ``poisson_generator``
per population connected ``all_to_all`` (NEST sends each target its own
independent train).

Use as a module (:func:`run_nest_microcircuit`, :func:`build_nest_microcircuit`,
:func:`connection_counts`) or as a script, which prints one JSON record::

    python bench/nest_microcircuit.py --scale 0.1 --t-sim 1000 --threads 2 --record

Spikes are recorded only with ``--record`` (``record=True``): timing runs
record nothing, as the PD14 benchmark recipe asks.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    # Run as a script: make the repository's packages importable.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import RunResult, add_model_arguments, population_rates_hz  # noqa: E402
from cortex_gpu.models.microcircuit import (  # noqa: E402
    NEURON_PARAMS, POPULATIONS, MicrocircuitParameters, microcircuit_parameters)

__all__ = ["NestMicrocircuit", "build_nest_microcircuit", "connection_counts", "connection_stats",
           "describe_structure",
           "run_nest_microcircuit", "nest_threads_for", "NEST_MAX_SYNAPSES_PER_THREAD"]

#: Full-scale PD14 with 2 threads (~150 M synapses per thread) exceeds NEST
#: 3.10's per-thread connection limit on the 2-core development machine; 4
#: threads (~75 M each) build. This bound keeps headroom below 150 M.
NEST_MAX_SYNAPSES_PER_THREAD = 120_000_000


def nest_threads_for(n_synapses: int, threads: int, cores: int | None = None) -> int:
    """Threads NEST needs for ``n_synapses``: at least ``threads``, a multiple of ``cores``.

    The count is raised to stay under :data:`NEST_MAX_SYNAPSES_PER_THREAD`,
    then rounded up to a multiple of the cores so that every core carries the
    same number of threads (3 threads on 2 cores would leave one core doing
    twice the work). Full-scale PD14 on 2 cores: 4.
    """
    cores = cores or os.cpu_count() or 1
    need = max(threads, math.ceil(n_synapses / NEST_MAX_SYNAPSES_PER_THREAD))
    if need > threads:
        need = cores * math.ceil(need / cores)
    return need


def _import_nest():
    """Import NEST quietly (its banner and info messages would clutter JSON output)."""
    os.environ.setdefault("PYNEST_QUIET", "1")
    import nest
    nest.verbosity = nest.VerbosityLevel.ERROR
    return nest


def record_populations(nest, populations, t_from_ms: float):
    """One spike_recorder for every population, recording from ``t_from_ms`` on."""
    recorder = nest.Create("spike_recorder", params={"start": float(t_from_ms)})
    for pop in populations:
        nest.Connect(pop, recorder)
    return recorder


def simulate_timed(nest, t_presim_ms: float, t_sim_ms: float) -> tuple[float, float]:
    """Presimulate (if ``t_presim_ms`` > 0) then simulate; wall-clock seconds of each."""
    t0 = time.perf_counter()
    if t_presim_ms > 0:
        nest.Simulate(float(t_presim_ms))
    presim_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    nest.Simulate(float(t_sim_ms))
    return presim_s, time.perf_counter() - t0


@dataclass
class NestMicrocircuit:
    """Handles of a built NEST microcircuit."""

    nest: object                  # the nest module
    populations: list             # NodeCollection per population
    generators: list              # poisson_generator per population (empty with DC drive)
    gid_ranges: list[tuple[int, int]]   # (first, stop) NEST node ids per population


def build_nest_microcircuit(p: MicrocircuitParameters, *, seed: int = 55, threads: int = 1) -> NestMicrocircuit:
    """Reset NEST's kernel and build the microcircuit described by ``p``.

    Parameters
    ----------
    p : the derived model numbers (sizes, counts, weights, delays, currents).
    seed : NEST's ``rng_seed`` (1 .. 2**31 - 1).
    threads : ``local_num_threads``.
    """
    nest = _import_nest()
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": p.resolution_ms, "local_num_threads": int(threads),
                          "rng_seed": int(seed), "print_time": False})
    pops = []
    for i in range(len(POPULATIONS)):
        params = dict(NEURON_PARAMS)
        params["I_e"] = float(p.DC_amp[i])
        pop = nest.Create("iaf_psc_exp", int(p.num_neurons[i]), params=params)
        pop.set(V_m=nest.random.normal(mean=float(p.V0_mean[i]), std=float(p.V0_std[i])))
        pops.append(pop)
    for i, target in enumerate(pops):
        for j, source in enumerate(pops):
            n = int(p.num_synapses[i, j])
            if n == 0:
                continue
            w_mean = float(p.weight_mean[i, j])
            w_std = abs(w_mean) * p.weight_rel_std
            # Redraw until the sign of the mean is kept (Dale's law per projection).
            w_lo, w_hi = (0.0, np.inf) if w_mean >= 0 else (-np.inf, 0.0)
            syn = {
                "synapse_model": "static_synapse",
                "weight": nest.math.redraw(nest.random.normal(mean=w_mean, std=w_std), min=w_lo, max=w_hi),
                "delay": nest.math.redraw(
                    nest.random.normal(mean=float(p.delay_mean[i, j]), std=float(p.delay_std[i, j])),
                    min=p.delay_min, max=np.inf),
            }
            nest.Connect(source, target, {"rule": "fixed_total_number", "N": n,
                                          "allow_autapses": True, "allow_multapses": True}, syn)
    gens = []
    if p.drive == "poisson":
        for i, target in enumerate(pops):
            g = nest.Create("poisson_generator", params={"rate": float(p.poisson_rate[i])})
            nest.Connect(g, target, "all_to_all", {"weight": p.weight_ext, "delay": p.delay_poisson})
            gens.append(g)
    # Create returns consecutive node ids, so a population is one id range.
    ranges = [(int(pop[0].global_id), int(pop[0].global_id) + len(pop)) for pop in pops]
    return NestMicrocircuit(nest, pops, gens, ranges)


def connection_counts(model: NestMicrocircuit) -> np.ndarray:
    """Synapses per projection (int64[8, 8], row = target, column = source) as NEST built them."""
    return connection_stats(model)["counts"]


def connection_stats(model: NestMicrocircuit) -> dict[str, np.ndarray]:
    """Per projection (8x8, row = target): ``counts`` and the mean and sd of weight (pA) and delay (ms).

    Reads every synapse; meant for small models (structure checks).
    """
    nest = model.nest
    n = len(model.populations)
    out = {k: np.zeros((n, n)) for k in ("weight_mean", "weight_sd", "delay_mean", "delay_sd")}
    out["counts"] = np.zeros((n, n), np.int64)
    for i, target in enumerate(model.populations):
        for j, source in enumerate(model.populations):
            conns = nest.GetConnections(source=source, target=target)
            out["counts"][i, j] = len(conns)
            if len(conns) == 0:
                continue
            values = conns.get(["weight", "delay"])
            for key in ("weight", "delay"):
                x = np.atleast_1d(np.asarray(values[key], float))
                out[f"{key}_mean"][i, j] = x.mean()
                out[f"{key}_sd"][i, j] = x.std()
    return out


def describe_structure(model: NestMicrocircuit) -> dict:
    """Sizes, per-projection counts and weight/delay statistics, I_e and drive (JSON-ready).

    For structural comparisons with cortex_gpu, which must happen in another
    process: NEST and Numba bring their own OpenMP runtimes, and NEST's
    ResetKernel crashes once Numba's has started threads in the same process.
    """
    nest = model.nest
    n_drive = 0
    if model.generators:
        gids = sorted(int(g.global_id) for g in model.generators)
        n_drive = len(nest.GetConnections(source=nest.NodeCollection(gids)))
    return {
        "sizes": [len(pop) for pop in model.populations],
        **{key: value.tolist() for key, value in connection_stats(model).items()},
        "I_e": [[float(x) for x in np.atleast_1d(pop.get("I_e"))][0] for pop in model.populations],
        "I_e_uniform": [bool(np.ptp(np.atleast_1d(pop.get("I_e"))) == 0) for pop in model.populations],
        "poisson_rates": [float(g.get("rate")) for g in model.generators],
        "n_drive_connections": n_drive,
        "n_connections": int(nest.GetKernelStatus("num_connections")),
    }


def _peak_rss_mb() -> float:
    """VmHWM in MB: unlike ru_maxrss it is not inherited from the driver process across exec.

    (cortex_gpu.engine.peak_rss_mb reads the same; importing it here would load Numba into
    NEST's process and count it against NEST.)
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_nest_microcircuit(p: MicrocircuitParameters, *, t_presim_ms: float = 500.0,
                          t_sim_ms: float = 10000.0, seed: int = 55, threads: int = 1,
                          record: bool = False) -> RunResult:
    """Build and simulate the microcircuit in NEST; time each phase.

    The first ``t_presim_ms`` are simulated and discarded (NEST's Prepare and
    the network's onset transient fall there); ``t_sim_ms`` is the timed part.
    With ``record``, a spike recorder on every neuron (started at
    ``t_presim_ms``) gives the per-population rates of the timed part.
    """
    nest = _import_nest()
    t0 = time.perf_counter()
    model = build_nest_microcircuit(p, seed=seed, threads=threads)
    recorder = record_populations(nest, model.populations, t_presim_ms) if record else None
    build_s = time.perf_counter() - t0
    presim_s, sim_s = simulate_timed(nest, t_presim_ms, t_sim_ms)
    rates = None
    if recorder is not None:
        ev = recorder.get("events")
        rates = population_rates_hz(ev["senders"], ev["times"], model.gid_ranges,
                                    t_presim_ms, t_presim_ms + t_sim_ms)
    n_syn = int(nest.GetKernelStatus("num_connections"))
    if record:
        n_syn -= p.n_neurons                      # the recorder's connections
    if p.drive == "poisson":
        n_syn -= p.n_neurons                      # the generators' connections
    return RunResult(
        simulator="nest", version=nest.__version__, threads=int(threads), seed=int(seed),
        n_neurons=p.n_neurons, n_synapses=n_syn, build_s=build_s, presim_s=presim_s, sim_s=sim_s,
        t_presim_ms=float(t_presim_ms), t_sim_ms=float(t_sim_ms), rtf=sim_s / (t_sim_ms * 1e-3),
        peak_rss_mb=_peak_rss_mb(), recorded=bool(record), rates_hz=rates,
        extra={"local_spike_counter": int(nest.GetKernelStatus("local_spike_counter"))})


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description="PD14 microcircuit in NEST 3.10; prints one JSON record.")
    add_model_arguments(ap)
    ap.add_argument("--threads", type=int, default=None,
                    help="local_num_threads (default: the cores, raised as NEST needs at this size)")
    ap.add_argument("--record", action="store_true", help="record spikes for rates (not for timing)")
    ap.add_argument("--structure", action="store_true",
                    help="build only and print sizes, per-projection counts, I_e and drive")
    return ap


def main(argv: list[str] | None = None) -> int:
    a = _parser().parse_args(argv)
    N = a.scale if a.N_scaling is None else a.N_scaling
    K = a.scale if a.K_scaling is None else a.K_scaling
    p = microcircuit_parameters(N, K, a.drive)
    threads = a.threads or nest_threads_for(p.n_synapses, os.cpu_count() or 1)
    if a.structure:
        print(json.dumps(describe_structure(build_nest_microcircuit(p, seed=a.seed, threads=threads))))
        return 0
    r = run_nest_microcircuit(p, t_presim_ms=a.t_presim, t_sim_ms=a.t_sim, seed=a.seed,
                              threads=threads, record=a.record)
    print(json.dumps(r.to_dict()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
