"""nest_hpc_benchmark: the NEST 3.10 peer of the hpc_benchmark (balanced network with STDP).

Builds the network of NEST's ``pynest/examples/hpc_benchmark.py`` with the
constructs that example uses, from the numbers of
:func:`cortex_gpu.models.hpc_benchmark.hpc_parameters` (so both simulators
get identical sizes, weights and rates):

- ``iaf_psc_alpha`` E and I populations created with the model parameters
  (``tau_minus`` 30 ms, ``V_m`` 5.7 mV), then ``V_m`` drawn from
  ``nest.random.normal(5.7, 7.2)`` on the local nodes;
- one ``poisson_generator`` at 20856.04 spikes/s connected ``all_to_all``
  to every neuron through ``syn_ex``;
- ``static_synapse_hpc`` with delay 1.5 ms, copied to ``syn_ex`` (weight JE)
  and ``syn_in`` (weight g JE); ``stdp_pl_synapse_hom_hpc`` with the STDP
  parameters, delay 1.5 ms and initial weight JE;
- ``fixed_indegree`` projections E->E (plastic), I->E, E->I, I->I, no
  autapses, multapses allowed.

Differences from the example, none of which changes the network: the
indegrees are the fixed CE = 9000 and CI = 2250 of the specification (the
example's ``int(NE / scale)`` equals them at the scales used here; see
:mod:`cortex_gpu.models.hpc_benchmark`), the seed is set, and spikes go to
memory instead of files.

Use as a module (:func:`build_nest_hpc`, :func:`run_nest_hpc`) or as a
script, which prints one JSON record::

    python bench/nest_hpc_benchmark.py --scale 0.1 --t-presim 50 --t-sim 100 --seed 1,2,3 --weights

The record is a :class:`bench.report.RunResult` whose ``rates_hz`` are the
mean E and I rates over the timed part, and whose ``extra`` holds
``weight_mean_pA``, ``weight_std_pA`` and ``n_plastic`` of the E->E synapses
(with ``--weights``; reading every weight costs time and memory at large
scales).
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
    # Run as a script: make the repository's packages importable.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.nest_microcircuit import _import_nest, _peak_rss_mb, simulate_timed  # noqa: E402
from bench.report import RunResult, population_rates_hz  # noqa: E402
from cortex_gpu.models.hpc_benchmark import HpcParameters, hpc_parameters  # noqa: E402

__all__ = ["NestHpc", "build_nest_hpc", "run_nest_hpc", "plastic_weight_stats", "NREC_EXAMPLE"]

#: Excitatory neurons NEST's example records from for its rate estimate.
NREC_EXAMPLE = 1000


@dataclass
class NestHpc:
    """Handles of a built NEST hpc_benchmark."""

    nest: object                 # the nest module
    E: object                    # NodeCollection of the E neurons
    I: object                    # NodeCollection of the I neurons
    stimulus: object             # the poisson_generator
    recorder: object | None      # spike_recorder of the recorded E neurons, or None
    n_recorded: int              # E neurons recorded
    gid_ranges: list[tuple[int, int]]   # (first, stop) NEST node ids of E and I


def build_nest_hpc(p: HpcParameters, *, seed: int = 1, threads: int = 1, record: str = "all",
                   t_record_from_ms: float = 0.0) -> NestHpc:
    """Reset NEST's kernel and build the hpc_benchmark described by ``p``.

    Parameters
    ----------
    p : the derived numbers (sizes, indegrees, weights, rate, STDP parameters).
    seed : NEST's ``rng_seed``.
    threads : ``local_num_threads``.
    record : ``'all'`` (every E and I neuron), ``'example'`` (the first 1000 E
        neurons, as NEST's example), or ``'none'``.
    t_record_from_ms : the recorder's ``start`` (ms): spikes at or before it are left out.
    """
    if record not in ("all", "example", "none"):
        raise ValueError(f"record must be 'all', 'example' or 'none', got {record!r}")
    nest = _import_nest()
    nest.ResetKernel()
    nest.local_num_threads = int(threads)
    nest.resolution = p.resolution_ms
    nest.rng_seed = int(seed)
    model_params = {**p.neuron_params, "V_m": p.V0_mean}
    E = nest.Create("iaf_psc_alpha", p.NE, params=model_params)
    I = nest.Create("iaf_psc_alpha", p.NI, params=model_params)
    random_vm = nest.random.normal(p.V0_mean, p.V0_std)
    nest.GetLocalNodeCollection(E).V_m = random_vm
    nest.GetLocalNodeCollection(I).V_m = random_vm
    stimulus = nest.Create("poisson_generator", 1, {"rate": p.poisson_rate_hz})

    nest.SetDefaults("static_synapse_hpc", {"delay": p.delay_ms})
    nest.CopyModel("static_synapse_hpc", "syn_ex", {"weight": p.JE_pA})
    nest.CopyModel("static_synapse_hpc", "syn_in", {"weight": p.JI_pA})
    nest.SetDefaults("stdp_pl_synapse_hom_hpc", {**p.stdp_params, "delay": p.delay_ms, "weight": p.JE_pA})

    nest.Connect(stimulus, E, {"rule": "all_to_all"}, {"synapse_model": "syn_ex"})
    nest.Connect(stimulus, I, {"rule": "all_to_all"}, {"synapse_model": "syn_ex"})
    indegree = {"allow_autapses": False, "allow_multapses": True, "rule": "fixed_indegree"}
    nest.Connect(E, E, {**indegree, "indegree": p.CE}, {"synapse_model": "stdp_pl_synapse_hom_hpc"})
    nest.Connect(I, E, {**indegree, "indegree": p.CI}, {"synapse_model": "syn_in"})
    nest.Connect(E, I, {**indegree, "indegree": p.CE}, {"synapse_model": "syn_ex"})
    nest.Connect(I, I, {**indegree, "indegree": p.CI}, {"synapse_model": "syn_in"})

    recorder, n_rec = None, 0
    if record != "none":
        recorder = nest.Create("spike_recorder", params={"start": float(t_record_from_ms)})
        targets = (E + I) if record == "all" else E[:min(NREC_EXAMPLE, p.NE)]
        n_rec = len(targets)
        nest.Connect(targets, recorder, "all_to_all", "static_synapse_hpc")
    first_e, first_i = int(E[0].global_id), int(I[0].global_id)
    return NestHpc(nest, E, I, stimulus, recorder, n_rec, [(first_e, first_e + p.NE), (first_i, first_i + p.NI)])


def plastic_weight_stats(model: NestHpc, n_sources: int | None = None,
                         chunk_synapses: int = 200_000) -> dict:
    """Number, mean and std (pA) of the E->E weights as they are now.

    ``n_sources`` restricts them to the synapses from the first that many E
    neurons. NEST's ``SynapseCollection.get`` builds a full status dictionary
    per connection (~2.8 kB: 23 GB for 8.1 M synapses), so the weights are
    read in pieces of about ``chunk_synapses`` connections.
    """
    nest, E = model.nest, model.E
    n = len(E) if n_sources is None else min(int(n_sources), len(E))
    per_source = max(1, len(nest.GetConnections(source=E[:1], target=E, synapse_model="stdp_pl_synapse_hom_hpc")))
    step = max(1, chunk_synapses // per_source)
    parts = []
    for i in range(0, n, step):
        conns = nest.GetConnections(source=E[i:min(i + step, n)], target=E, synapse_model="stdp_pl_synapse_hom_hpc")
        if len(conns):
            parts.append(np.atleast_1d(np.asarray(conns.get("weight"), float)))
    w = np.concatenate(parts) if parts else np.zeros(0)
    stats = {"weight_mean_pA": float(w.mean()), "weight_std_pA": float(w.std())}
    if n_sources is None:
        return {"n_plastic": int(w.size), **stats}
    return {"weight_sources": n, "weight_sources_n": int(w.size),
            **{k.replace("weight_", "weight_sources_"): v for k, v in stats.items()}}


def run_nest_hpc(p: HpcParameters, *, t_presim_ms: float = 100.0, t_sim_ms: float = 1000.0, seed: int = 1,
                 threads: int = 1, record: str = "all", weights: bool = True,
                 weight_sources: int | None = None) -> RunResult:
    """Build, presimulate and simulate the hpc_benchmark in NEST; time each phase.

    ``rates_hz`` holds the mean rate (spikes/s) of E and I over
    ``(t_presim_ms, t_presim_ms + t_sim_ms]`` from the recorded neurons
    (with ``record='example'`` only E is recorded and I is None). With
    ``weights``, ``extra`` gets the E->E weight statistics at the end (of
    the synapses from the first ``weight_sources`` E neurons; all by default).
    """
    nest = _import_nest()
    t0 = time.perf_counter()
    model = build_nest_hpc(p, seed=seed, threads=threads, record=record, t_record_from_ms=t_presim_ms)
    build_s = time.perf_counter() - t0
    presim_s, sim_s = simulate_timed(nest, t_presim_ms, t_sim_ms)
    peak_mb = _peak_rss_mb()      # before reading weights: NEST's status dicts take ~2.8 kB per synapse
    extra = {"n_recorded": model.n_recorded, "record": record}
    rates = None
    if model.recorder is not None:
        ev = model.recorder.get("events")
        if record == "all":
            rates = population_rates_hz(ev["senders"], ev["times"], model.gid_ranges, t_presim_ms,
                                        t_presim_ms + t_sim_ms)
        else:
            first = model.gid_ranges[0][0]
            rates = population_rates_hz(ev["senders"], ev["times"], [(first, first + model.n_recorded)],
                                        t_presim_ms, t_presim_ms + t_sim_ms) + [None]
    if weights:
        t1 = time.perf_counter()
        extra.update(plastic_weight_stats(model, weight_sources))
        extra["weights_read_s"] = time.perf_counter() - t1
    return RunResult(
        simulator="nest", version=nest.__version__, threads=int(threads), seed=int(seed),
        n_neurons=p.n_neurons, n_synapses=p.n_synapses, build_s=build_s, presim_s=presim_s, sim_s=sim_s,
        t_presim_ms=float(t_presim_ms), t_sim_ms=float(t_sim_ms), rtf=sim_s / (t_sim_ms * 1e-3),
        peak_rss_mb=peak_mb, recorded=model.recorder is not None, rates_hz=rates, extra=extra)


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description="hpc_benchmark in NEST 3.10; prints one JSON record.")
    ap.add_argument("--scale", type=float, default=1.0, help="NE = int(9000 scale), NI = int(2250 scale)")
    ap.add_argument("--t-presim", type=float, default=100.0, help="discarded model time, ms (default 100)")
    ap.add_argument("--t-sim", type=float, default=1000.0, help="timed model time, ms (default 1000)")
    ap.add_argument("--seed", type=str, default="1",
                    help="rng_seed, or a comma-separated list: one run and one JSON line per seed, one process")
    ap.add_argument("--threads", type=int, default=None, help="local_num_threads (default: the cores)")
    ap.add_argument("--record", choices=("all", "example", "none"), default="all",
                    help="'all' neurons, the 'example''s 1000 E neurons, or 'none'")
    ap.add_argument("--weights", action="store_true", help="read the E->E weights at the end (mean, std)")
    ap.add_argument("--weight-sources", type=int, default=None,
                    help="only the synapses from the first N E neurons (NEST reads ~75,000 weights/s)")
    return ap


def main(argv: list[str] | None = None) -> int:
    a = _parser().parse_args(argv)
    p = hpc_parameters(a.scale)
    for seed in (int(x) for x in a.seed.split(",")):
        r = run_nest_hpc(p, t_presim_ms=a.t_presim, t_sim_ms=a.t_sim, seed=seed,
                         threads=a.threads or os.cpu_count() or 1, record=a.record, weights=a.weights,
                         weight_sources=a.weight_sources)
        print(json.dumps(r.to_dict()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
