"""cortex_microcircuit: the cortex_gpu side of the PD14 benchmark.

Builds ``cortex_gpu.models.microcircuit`` and runs it on the CPU backend,
timing the same phases as the NEST peer (``nest_microcircuit``) and filling
the same :class:`~bench.report.RunResult`. Usable as a module
(:func:`run_cortex_microcircuit`) or as a script that prints one JSON record::

    python bench/cortex_microcircuit.py --scale 0.1 --t-sim 1000 --threads 2 --record
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script: make the repository's packages importable.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import RunResult, add_model_arguments, population_rates_hz  # noqa: E402
from cortex_gpu.engine import Simulation, peak_rss_mb  # noqa: E402
from cortex_gpu.models.microcircuit import microcircuit  # noqa: E402

__all__ = ["run_cortex_microcircuit"]


def run_cortex_microcircuit(N_scaling: float = 1.0, K_scaling: float = 1.0, drive: str = "poisson", *,
                            t_presim_ms: float = 500.0, t_sim_ms: float = 10000.0, seed: int = 55,
                            threads: int = 1, record: bool = False) -> RunResult:
    """Build and simulate the microcircuit with cortex_gpu; time each phase.

    ``build_s`` covers the network description and ``Simulation.build``
    (synapse drawing and delivery layout); the first ``t_presim_ms`` are
    simulated and discarded; ``t_sim_ms`` is the timed part. Rates of the
    timed part come from the engine's spike counters; with ``record`` every
    neuron's spikes are kept too and the rates taken from them.
    """
    import cortex_gpu
    import numba
    t0 = time.perf_counter()
    net, info = microcircuit(N_scaling, K_scaling, drive, record_spikes=record)
    sim = Simulation(net, seed=seed, threads=threads)
    report = sim.build()
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    if t_presim_ms > 0:
        sim.run(t_presim_ms)
    presim_s = time.perf_counter() - t0
    counts_before = sim.spike_counts()
    t0 = time.perf_counter()
    sim.run(t_sim_ms)
    sim_s = time.perf_counter() - t0
    # rates of the timed part from the engine's spike counters (no recording needed)
    counted = sim.spike_counts() - counts_before
    gids = sim.local_gids
    rates = [float(counted[(gids >= a) & (gids < b)].sum() / ((b - a) * t_sim_ms * 1e-3))
             for a, b in info["gid_ranges"]]
    if record:
        ev = sim.spike_events(info["recorder"])
        rates = population_rates_hz(ev["senders"], ev["times"], info["gid_ranges"],
                                    t_presim_ms, t_presim_ms + t_sim_ms)
    return RunResult(
        simulator="cortex_gpu", version=getattr(cortex_gpu, "__version__", "unknown"), threads=int(threads),
        seed=int(seed), n_neurons=report.n_neurons, n_synapses=report.n_synapses, build_s=build_s,
        presim_s=presim_s, sim_s=sim_s, t_presim_ms=float(t_presim_ms), t_sim_ms=float(t_sim_ms),
        rtf=sim_s / (t_sim_ms * 1e-3), peak_rss_mb=peak_rss_mb(), recorded=bool(record), rates_hz=rates,
        bytes_per_synapse=float(report.bytes_per_synapse),
        extra={"engine_build_s": float(report.build_s), "layout_bytes": int(report.layout_bytes),
               "min_delay_steps": int(report.min_delay_steps), "max_delay_steps": int(report.max_delay_steps),
               "backend": "cpu", "numba": numba.__version__})


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description="PD14 microcircuit in cortex_gpu; prints one JSON record.")
    add_model_arguments(ap)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--record", action="store_true", help="record spikes for rates (not for timing)")
    return ap


def main(argv: list[str] | None = None) -> int:
    a = _parser().parse_args(argv)
    N = a.scale if a.N_scaling is None else a.N_scaling
    K = a.scale if a.K_scaling is None else a.K_scaling
    r = run_cortex_microcircuit(N, K, a.drive, t_presim_ms=a.t_presim, t_sim_ms=a.t_sim, seed=a.seed,
                                threads=a.threads, record=a.record)
    print(json.dumps(r.to_dict()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
