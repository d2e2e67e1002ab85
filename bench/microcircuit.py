"""microcircuit: PD14 benchmark driver, cortex_gpu against NEST 3.10 on the same machine.

Runs each simulator in its own subprocess, one after the other, so that each
process's peak RSS is that simulator's alone and neither competes with the
other for cores. Follows the PD14 community recipe: the first ``--t-presim``
ms are simulated and discarded, ``--t-sim`` ms (10 s for published numbers)
are timed, nothing is recorded while timing (``--record`` records spikes for
rate comparisons; such timings are not for publication).

Example (full scale, both drives, NEST alongside)::

    python bench/microcircuit.py --drive both --peer nest --out bench/results

writes ``bench/results/microcircuit_<date>_<commit>.json`` with the machine,
the parameters, per simulator ``build_s``, ``presim_s``, ``sim_s``, ``rtf``,
``bytes_per_synapse`` (ours), ``n_synapses``, ``peak_rss_mb``, ``rates_hz``,
and the ratios NEST / cortex_gpu of build time, RTF and peak memory (> 1:
cortex_gpu is faster or smaller).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import subprocess
import sys
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script: make the repository's packages importable.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.nest_microcircuit import nest_threads_for  # noqa: E402
from bench.report import run_worker, write_record  # noqa: E402
from cortex_gpu.models.microcircuit import POPULATIONS, microcircuit_parameters  # noqa: E402

__all__ = ["machine_info", "git_commit", "run_peer", "benchmark", "ratios", "main"]

REPO = Path(__file__).resolve().parents[1]
#: Worker script of each simulator; each prints one RunResult as JSON.
WORKERS = {"cortex_gpu": REPO / "bench" / "cortex_microcircuit.py",
           "nest": REPO / "bench" / "nest_microcircuit.py"}


def _meminfo_total_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 ** 2
    except OSError:
        pass
    return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(module: str) -> str | None:
    """Version of ``module`` without importing it here (NEST's import is slow and noisy)."""
    from importlib import metadata
    names = {"nest": "nest-simulator"}
    try:
        return metadata.version(names.get(module, module))
    except metadata.PackageNotFoundError:
        return None


def machine_info() -> dict:
    """CPU model, cores, memory and the versions of the software under test."""
    return {
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": _meminfo_total_gb(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": _version("numpy"),
        "numba": _version("numba"),
        "nest": _version("nest"),
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
    }


def git_commit() -> dict:
    """Commit of the working tree and whether it has uncommitted changes."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout.strip()
    return {"commit": git("rev-parse", "HEAD") or None, "branch": git("rev-parse", "--abbrev-ref", "HEAD"),
            "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


def run_peer(simulator: str, *, N_scaling: float, K_scaling: float, drive: str, t_presim_ms: float,
             t_sim_ms: float, seed: int, threads: int, record: bool, timeout_s: float | None) -> dict:
    """Run one simulator in a fresh Python process; returns its RunResult as a dict.

    A failure (crash, out of memory, timeout) is returned as ``{"error": ...}``
    so that the other simulator and drive still run.
    """
    cmd = [sys.executable, str(WORKERS[simulator]), "--N-scaling", repr(N_scaling), "--K-scaling",
           repr(K_scaling), "--drive", drive, "--t-presim", repr(t_presim_ms), "--t-sim", repr(t_sim_ms),
           "--seed", str(seed), "--threads", str(threads)]
    if record:
        cmd.append("--record")
    return run_worker(simulator, cmd, threads=threads, timeout_s=timeout_s, label=f" {drive}")


def ratios(ours: dict, nest: dict) -> dict:
    """NEST / cortex_gpu for build time, RTF and peak memory (> 1 means cortex_gpu wins)."""
    if "error" in ours or "error" in nest:
        return {}
    def q(key: str) -> float | None:
        return nest[key] / ours[key] if ours[key] else None
    return {"build_s_nest_over_ours": q("build_s"), "rtf_nest_over_ours": q("rtf"),
            "peak_rss_nest_over_ours": q("peak_rss_mb")}


def benchmark(*, N_scaling: float = 1.0, K_scaling: float = 1.0, drives: tuple[str, ...] = ("poisson",),
              t_presim_ms: float = 500.0, t_sim_ms: float = 10000.0, seed: int = 55,
              threads: int | None = None, nest_threads: int | None = None, peer: str | None = None,
              record: bool = False, timeout_s: float | None = None) -> dict:
    """Run the benchmark; returns the JSON-ready record (see the module docstring)."""
    cores = os.cpu_count() or 1
    threads = threads or cores
    n_syn = microcircuit_parameters(N_scaling, K_scaling).n_synapses
    if peer == "nest" and nest_threads is None:
        nest_threads = nest_threads_for(n_syn, threads, cores)
    result = {
        "benchmark": "microcircuit (Potjans & Diesmann 2014)",
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "git": git_commit(),
        "machine": machine_info(),
        "parameters": {"N_scaling": N_scaling, "K_scaling": K_scaling, "drives": list(drives),
                       "t_presim_ms": t_presim_ms, "t_sim_ms": t_sim_ms, "seed": seed,
                       "threads": threads, "nest_threads": nest_threads, "record": record,
                       "resolution_ms": 0.1, "populations": list(POPULATIONS),
                       "expected_n_synapses": n_syn},
        "runs": {},
    }
    for drive in drives:
        kw = dict(N_scaling=N_scaling, K_scaling=K_scaling, drive=drive, t_presim_ms=t_presim_ms,
                  t_sim_ms=t_sim_ms, seed=seed, record=record, timeout_s=timeout_s)
        run = {"cortex_gpu": run_peer("cortex_gpu", threads=threads, **kw)}
        if peer == "nest":
            run["nest"] = run_peer("nest", threads=nest_threads, **kw)
            run["ratios"] = ratios(run["cortex_gpu"], run["nest"])
        result["runs"][drive] = run
    return result


def _summary(result: dict) -> str:
    lines = []
    for drive, run in result["runs"].items():
        for sim in ("cortex_gpu", "nest"):
            r = run.get(sim)
            if r is None:
                continue
            if "error" in r:
                lines.append(f"{drive:8s} {sim:10s} ERROR {r['error']}")
                continue
            bps = f" {r['bytes_per_synapse']:.2f} B/syn" if r.get("bytes_per_synapse") else ""
            lines.append(f"{drive:8s} {sim:10s} build {r['build_s']:8.2f} s  presim {r['presim_s']:8.2f} s  "
                         f"sim {r['sim_s']:9.2f} s  RTF {r['rtf']:7.3f}  peak {r['peak_rss_mb']:8.0f} MB  "
                         f"{r['n_synapses']} syn{bps}")
        if run.get("ratios"):
            lines.append(f"{drive:8s} NEST/ours  " + "  ".join(f"{k} {v:.2f}" for k, v in run["ratios"].items()
                                                                if v is not None))
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0, help="N_scaling = K_scaling (default 1: full scale)")
    ap.add_argument("--N-scaling", type=float, default=None, help="overrides --scale for the sizes")
    ap.add_argument("--K-scaling", type=float, default=None, help="overrides --scale for the indegrees")
    ap.add_argument("--drive", choices=("poisson", "dc", "both"), default="poisson")
    ap.add_argument("--t-sim", type=float, default=10000.0, help="timed model time, ms (default 10000)")
    ap.add_argument("--t-presim", type=float, default=500.0, help="discarded model time, ms (default 500)")
    ap.add_argument("--threads", type=int, default=None, help="cortex_gpu threads (default: the cores)")
    ap.add_argument("--nest-threads", type=int, default=None,
                    help="NEST threads (default: --threads, raised to a multiple of the cores where "
                         "NEST's per-thread connection limit needs it: 4 at full scale on 2 cores)")
    ap.add_argument("--seed", type=int, default=55)
    ap.add_argument("--peer", choices=("nest",), default=None, help="also run NEST 3.10 on the same model")
    ap.add_argument("--record", action="store_true", help="record spikes for rates (timings not for publication)")
    ap.add_argument("--timeout", type=float, default=None, help="seconds allowed per simulator run")
    ap.add_argument("--out", type=Path, default=None, help="directory for the JSON result")
    return ap


def main(argv: list[str] | None = None) -> int:
    a = _parser().parse_args(argv)
    N = a.scale if a.N_scaling is None else a.N_scaling
    K = a.scale if a.K_scaling is None else a.K_scaling
    drives = ("poisson", "dc") if a.drive == "both" else (a.drive,)
    result = benchmark(N_scaling=N, K_scaling=K, drives=drives, t_presim_ms=a.t_presim, t_sim_ms=a.t_sim,
                       seed=a.seed, threads=a.threads, nest_threads=a.nest_threads, peer=a.peer,
                       record=a.record, timeout_s=a.timeout)
    print(_summary(result), file=sys.stderr)
    write_record(result, a.out, f"microcircuit_N{N:g}_K{K:g}_{a.drive}")
    failed = any("error" in r for run in result["runs"].values() for k, r in run.items() if k != "ratios")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
