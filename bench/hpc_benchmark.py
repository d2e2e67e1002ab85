"""hpc_benchmark: NEST's balanced network with STDP, cortex_gpu alone or against NEST 3.10.

Each simulator runs in its own subprocess, one after the other, so that each
peak RSS is that simulator's alone. The cortex_gpu side is this file run
with ``--worker`` (:func:`run_cortex_hpc`); the NEST side is
``bench/nest_hpc_benchmark.py``. Both build the network from
:func:`cortex_gpu.models.hpc_benchmark.hpc_parameters`. Recipe (NEST's
example): ``--t-presim`` ms (default 100) simulated and discarded, then
``--t-sim`` ms (default 1000) timed; nothing is recorded while timing
(cortex_gpu takes rates from its spike counters, NEST from a recorder on
the first 1000 E neurons, as its example does).

Reported per simulator: ``build_s``, ``presim_s``, ``sim_s``, ``rtf``,
``peak_rss_mb``, the mean E and I rates of the timed part, and for
cortex_gpu ``bytes_per_synapse`` (the whole delivery layout) and
``extra.plastic_bytes_per_synapse`` (the plastic group's layout: 2-byte post
index, 8-byte float64 weight, its segment tables), the weights' mean and
std at the end, and ``extra.e_rate_below_10``: at scale >= 10 the mean E
rate must stay below 10 spikes/s. With ``--peer nest``: the ratios NEST /
cortex_gpu of build time, RTF and peak memory.

Examples::

    # ours at scale 10 (112,500 neurons, 1.27e9 synapses; ~14 GB, a quiet machine only)
    python bench/hpc_benchmark.py --scale 10 --threads 2 --out bench/results
    # side by side with NEST at the largest scale both fit (see README.md, hpc_benchmark)
    OMP_WAIT_POLICY=passive python bench/hpc_benchmark.py --scale 1 --peer nest --out bench/results
    # quick check
    python bench/hpc_benchmark.py --scale 0.05 --t-presim 20 --t-sim 50 --peer nest

Writes ``bench/results/hpc_benchmark_S<scale>[_vs_nest]_<date>_<commit>.json``
with ``machine``, ``git`` (commit, branch, dirty), ``date``,
``parameters`` and ``runs``.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script: make the repository's packages importable.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import RunResult, run_worker, write_record  # noqa: E402

__all__ = ["run_cortex_hpc", "run_peer", "benchmark", "ratios", "memory_probe", "main", "E_RATE_LIMIT_HZ"]

REPO = Path(__file__).resolve().parents[1]
#: Mean E rate (spikes/s) the benchmark must stay under at scale >= 10 (NEST's example, MODELS.md 4).
E_RATE_LIMIT_HZ = 10.0
WORKERS = {"cortex_gpu": Path(__file__).resolve(), "nest": REPO / "bench" / "nest_hpc_benchmark.py"}
#: E neurons whose outgoing plastic weights both sides report (NEST reads ~75,000 weights/s,
#: so all of them would take minutes from scale 1 on).
WEIGHT_SOURCES = 100


def run_cortex_hpc(scale: float, *, t_presim_ms: float = 100.0, t_sim_ms: float = 1000.0, seed: int = 1,
                   threads: int = 1, record: bool = False, weight_sources: int | None = None) -> RunResult:
    """Build and simulate the hpc_benchmark with cortex_gpu; time each phase.

    ``rates_hz`` are the mean E and I rates over ``(t_presim_ms, t_presim_ms
    + t_sim_ms]`` from the engine's spike counters. ``extra`` holds the E->E
    weight statistics at the end (``weight_mean_pA``, ``weight_std_pA``,
    ``n_plastic``; with ``weight_sources``, ``weight_sources_*`` of the
    synapses from the first that many E neurons, as NEST's peer reads them).
    """
    import cortex_gpu
    import numba
    from cortex_gpu.engine import Simulation, peak_rss_mb
    from cortex_gpu.models.hpc_benchmark import hpc_benchmark, plastic_weight_moments, weight_stats

    t0 = time.perf_counter()
    net, info = hpc_benchmark(scale, record_spikes=record)
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
    peak_mb = peak_rss_mb()          # before the weight statistics, which allocate nothing large anyway
    counted = sim.spike_counts() - counts_before
    gids = sim.local_gids
    rates = [float(counted[(gids >= a) & (gids < b)].sum() / ((b - a) * t_sim_ms * 1e-3))
             for a, b in info["gid_ranges"]]
    p = info["params"]
    n, s1, s2 = plastic_weight_moments(sim, shift=p.JE_pA)
    mean, std = weight_stats(n, s1, s2, p.JE_pA)
    plastic = sim.graph.plastic_layout
    extra = {"engine_build_s": float(report.build_s), "layout_bytes": int(report.layout_bytes),
             "plastic_bytes_per_synapse": float(plastic.bytes_per_synapse),
             "plastic_layout_bytes": int(plastic.nbytes), "n_plastic": n, "weight_mean_pA": mean,
             "weight_std_pA": std, "weight_initial_pA": p.JE_pA, "scale": scale,
             "e_rate_below_10": bool(rates[0] < E_RATE_LIMIT_HZ), "backend": "cpu", "numba": numba.__version__}
    if weight_sources is not None:
        first = info["gid_ranges"][0][0]
        k, a1, a2 = plastic_weight_moments(sim, sources=(first, first + int(weight_sources)), shift=p.JE_pA)
        m_k, s_k = weight_stats(k, a1, a2, p.JE_pA)
        extra.update(weight_sources=int(weight_sources), weight_sources_n=k, weight_sources_mean_pA=m_k,
                     weight_sources_std_pA=s_k)
    return RunResult(
        simulator="cortex_gpu", version=getattr(cortex_gpu, "__version__", "unknown"), threads=int(threads),
        seed=int(seed), n_neurons=report.n_neurons, n_synapses=report.n_synapses, build_s=build_s,
        presim_s=presim_s, sim_s=sim_s, t_presim_ms=float(t_presim_ms), t_sim_ms=float(t_sim_ms),
        rtf=sim_s / (t_sim_ms * 1e-3), peak_rss_mb=peak_mb, recorded=bool(record), rates_hz=rates,
        bytes_per_synapse=float(report.bytes_per_synapse), extra=extra)


def run_peer(simulator: str, *, scale: float, t_presim_ms: float, t_sim_ms: float, seed: int, threads: int,
             timeout_s: float | None, weights: bool = True) -> dict:
    """Run one simulator in a fresh Python process; returns its RunResult as a dict (or ``{"error": ...}``)."""
    cmd = [sys.executable, str(WORKERS[simulator]), "--scale", repr(scale), "--t-presim", repr(t_presim_ms),
           "--t-sim", repr(t_sim_ms), "--seed", str(seed), "--threads", str(threads)]
    if simulator == "cortex_gpu":
        cmd.append("--worker")
    else:
        cmd += ["--record", "example"] + (["--weights", "--weight-sources", str(WEIGHT_SOURCES)] if weights else [])
    return run_worker(simulator, cmd, threads=threads, timeout_s=timeout_s)


def ratios(ours: dict, nest: dict) -> dict:
    """NEST / cortex_gpu for build time, RTF and peak memory (> 1: cortex_gpu is faster or smaller)."""
    if "error" in ours or "error" in nest:
        return {}
    return {f"{k}_nest_over_ours": (nest[k] / ours[k] if ours[k] else None) for k in ("build_s", "rtf", "peak_rss_mb")}


def benchmark(*, scale: float, t_presim_ms: float = 100.0, t_sim_ms: float = 1000.0, seed: int = 1,
              threads: int | None = None, nest_threads: int | None = None, peer: str | None = None,
              timeout_s: float | None = None, nest_weights: bool = True) -> dict:
    """Run the benchmark; returns the JSON-ready record (see the module docstring)."""
    from bench.microcircuit import git_commit, machine_info
    from bench.nest_microcircuit import nest_threads_for
    from cortex_gpu.models.hpc_benchmark import hpc_parameters
    cores = os.cpu_count() or 1
    threads = threads or cores
    p = hpc_parameters(scale)
    if peer == "nest" and nest_threads is None:
        nest_threads = nest_threads_for(p.n_synapses, threads, cores)
    result = {
        "benchmark": "hpc_benchmark (balanced random network with power-law STDP, NEST's example)",
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "git": git_commit(),
        "machine": machine_info(),
        "parameters": {"scale": scale, "NE": p.NE, "NI": p.NI, "CE": p.CE, "CI": p.CI, "JE_pA": p.JE_pA,
                       "poisson_rate_hz": p.poisson_rate_hz, "expected_n_synapses": p.n_synapses,
                       "expected_n_plastic": p.n_plastic, "t_presim_ms": t_presim_ms, "t_sim_ms": t_sim_ms,
                       "seed": seed, "threads": threads, "nest_threads": nest_threads, "resolution_ms": 0.1},
        "runs": {},
    }
    kw = dict(scale=scale, t_presim_ms=t_presim_ms, t_sim_ms=t_sim_ms, seed=seed, timeout_s=timeout_s)
    result["runs"]["cortex_gpu"] = run_peer("cortex_gpu", threads=threads, **kw)
    if peer == "nest":
        result["runs"]["nest"] = run_peer("nest", threads=nest_threads, weights=nest_weights, **kw)
        result["runs"]["ratios"] = ratios(result["runs"]["cortex_gpu"], result["runs"]["nest"])
    return result


def memory_probe(scales: list[float], *, threads: int | None = None, memory_gb: float | None = None,
                 timeout_s: float | None = None) -> dict:
    """Peak RSS of both simulators at small ``scales`` (10 ms simulated), a linear fit per simulator
    (MB = base + bytes_per_synapse * synapses) and the largest scale each fits into ``memory_gb``.

    The synapse count grows linearly with the scale (11,250 per neuron), so
    the fit extrapolates; default ``memory_gb``: the machine's memory less 2 GB.
    """
    import numpy as np
    from bench.microcircuit import _meminfo_total_gb, git_commit, machine_info
    from bench.nest_microcircuit import nest_threads_for
    from cortex_gpu.models.hpc_benchmark import hpc_parameters
    cores = os.cpu_count() or 1
    threads = threads or cores
    memory_gb = memory_gb or ((_meminfo_total_gb() or 0) * 1.073741824 - 2.0)
    out = {"benchmark": "hpc_benchmark memory probe", "date": _dt.datetime.now(_dt.timezone.utc).isoformat(
        timespec="seconds"), "git": git_commit(), "machine": machine_info(), "memory_gb": memory_gb,
           "runs": {}, "fit": {}}
    for sim in ("cortex_gpu", "nest"):
        rows = []
        for scale in scales:
            n_syn = hpc_parameters(scale).n_synapses
            t = threads if sim == "cortex_gpu" else nest_threads_for(n_syn, threads, cores)
            r = run_peer(sim, scale=scale, t_presim_ms=0.0, t_sim_ms=10.0, seed=1, threads=t, timeout_s=timeout_s,
                         weights=False)
            rows.append({"scale": scale, "n_synapses": n_syn, "peak_rss_mb": r.get("peak_rss_mb"),
                         "build_s": r.get("build_s"), "error": r.get("error")})
        out["runs"][sim] = rows
        ok = [x for x in rows if x["peak_rss_mb"]]
        if len(ok) >= 2:
            syn = np.array([x["n_synapses"] for x in ok], float)
            mb = np.array([x["peak_rss_mb"] for x in ok]) * 2 ** 20      # VmHWM MB are MiB
            slope, base = np.polyfit(syn, mb, 1)
            per_scale = hpc_parameters(1.0).n_synapses * slope
            out["fit"][sim] = {"bytes_per_synapse": float(slope), "base_mb": float(base / 1e6),
                               "largest_scale": float((memory_gb * 1e9 - base) / per_scale),
                               "predicted_gb_at_scale_10": float((base + 10 * per_scale) / 1e9)}
    return out


def _summary(result: dict) -> str:
    lines = []
    for sim in ("cortex_gpu", "nest"):
        r = result["runs"].get(sim)
        if r is None:
            continue
        if "error" in r:
            lines.append(f"{sim:10s} ERROR {r['error']}")
            continue
        x = r.get("extra", {})
        rates = r.get("rates_hz") or [None, None]
        e = f"{rates[0]:.2f}" if rates[0] is not None else "-"
        w = (f"  w {x['weight_mean_pA']:.3f} +- {x['weight_std_pA']:.3f} pA" if "weight_mean_pA" in x else "")
        if "weight_sources_mean_pA" in x:
            w += (f" (first {x['weight_sources']} E: {x['weight_sources_mean_pA']:.3f}"
                  f" +- {x['weight_sources_std_pA']:.3f})")
        bps = (f"  {r['bytes_per_synapse']:.2f} B/syn ({x['plastic_bytes_per_synapse']:.2f} plastic)"
               if r.get("bytes_per_synapse") else "")
        lines.append(f"{sim:10s} build {r['build_s']:8.2f} s  presim {r['presim_s']:8.2f} s  sim {r['sim_s']:9.2f} s  "
                     f"RTF {r['rtf']:8.3f}  peak {r['peak_rss_mb']:8.0f} MB  E {e} /s{w}{bps}")
    if result["runs"].get("ratios"):
        lines.append("NEST/ours  " + "  ".join(f"{k} {v:.2f}" for k, v in result["runs"]["ratios"].items()
                                              if v is not None))
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0, help="NE = int(9000 scale), NI = int(2250 scale)")
    ap.add_argument("--t-presim", type=float, default=100.0, help="discarded model time, ms (default 100)")
    ap.add_argument("--t-sim", type=float, default=1000.0, help="timed model time, ms (default 1000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=None, help="cortex_gpu threads (default: the cores)")
    ap.add_argument("--nest-threads", type=int, default=None,
                    help="NEST threads (default: --threads, raised where NEST's per-thread connection limit needs)")
    ap.add_argument("--peer", choices=("nest",), default=None, help="also run NEST 3.10 at the same scale")
    ap.add_argument("--no-nest-weights", action="store_true",
                    help="do not read NEST's E->E weights at the end (~13 us and ~2.8 kB per synapse)")
    ap.add_argument("--timeout", type=float, default=None, help="seconds allowed per simulator run")
    ap.add_argument("--out", type=Path, default=None, help="directory for the JSON result")
    ap.add_argument("--memory-probe", type=str, default=None, metavar="S1,S2,...",
                    help="measure both simulators' peak memory at these small scales, fit bytes per synapse and "
                         "predict the largest scale each fits (see --memory-gb); nothing else runs")
    ap.add_argument("--memory-gb", type=float, default=None,
                    help="memory the probe's prediction may use, GB (default: the machine's less 2 GB)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)   # one cortex_gpu run, JSON out
    return ap


def main(argv: list[str] | None = None) -> int:
    a = _parser().parse_args(argv)
    if a.worker:
        r = run_cortex_hpc(a.scale, t_presim_ms=a.t_presim, t_sim_ms=a.t_sim, seed=a.seed,
                           threads=a.threads or os.cpu_count() or 1, weight_sources=WEIGHT_SOURCES)
        print(json.dumps(r.to_dict()))
        return 0
    if a.memory_probe:
        result = memory_probe([float(x) for x in a.memory_probe.split(",")], threads=a.threads,
                              memory_gb=a.memory_gb, timeout_s=a.timeout)
        print("\n".join(f"{k}: {v['bytes_per_synapse']:.1f} bytes/synapse + {v['base_mb']:.0f} MB; fits up to "
                        f"scale {v['largest_scale']:.2f} in {result['memory_gb']:.1f} GB; scale 10 needs "
                        f"{v['predicted_gb_at_scale_10']:.1f} GB" for k, v in result["fit"].items()), file=sys.stderr)
        write_record(result, a.out, "hpc_benchmark_memory_probe")
        return 0
    result = benchmark(scale=a.scale, t_presim_ms=a.t_presim, t_sim_ms=a.t_sim, seed=a.seed, threads=a.threads,
                       nest_threads=a.nest_threads, peer=a.peer, timeout_s=a.timeout,
                       nest_weights=not a.no_nest_weights)
    print(_summary(result), file=sys.stderr)
    write_record(result, a.out, f"hpc_benchmark_S{a.scale:g}{'_vs_nest' if a.peer else ''}")
    failed = any("error" in r for k, r in result["runs"].items() if k != "ratios")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
