"""Weak scaling over MPI ranks: a fixed load per rank, 1, 2 and 4 ranks, with and without overlap.

Runs ``cortex-gpu run multi_area --areas N`` under ``mpiexec -n N`` (one
area per rank, ``area_processes`` partition), so every rank holds one
down-scaled PD14 column plus its share of the inter-area synapses. Each
configuration runs twice: with the exchange overlapped (the default) and
with ``--no-overlap`` (each exchange completed as soon as it is posted,
which exposes its whole cost). Reports, per rank count:

- ``rtf`` and the weak-scaling efficiency ``rtf(1) / rtf(N)``;
- ``exchange_wait_s`` (time blocked on the exchange) with and without
  overlap, and the hidden fraction ``1 - wait_overlap / wait_blocking``;
- per-rank peak memory, build time, synapses and remote pre-synaptic neurons.

Usage::

    python bench/weak_scaling.py [--ranks 1 2 4] [--scale 0.1] [--t-sim 1000] [--out bench/results/X.json]

On a 2-core machine 4 ranks share 2 cores: efficiency there measures
oversubscription as much as the exchange. Timings live here, never in tests.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.microcircuit import git_commit, machine_info  # noqa: E402


def _mpiexec() -> str:
    found = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which("mpiexec")
    if found is None:
        raise SystemExit("weak_scaling: no mpiexec (pip install mpich mpi4py)")
    return found


def run_once(n_ranks: int, *, scale: float, t_sim_ms: float, t_presim_ms: float, overlap: bool,
             exchange: str, threads: int, out: Path) -> dict:
    """One ``cortex-gpu run multi_area`` on ``n_ranks`` ranks; its summary.json."""
    cmd = [sys.executable, "-m", "cortex_gpu.cli", "run", "multi_area", "--areas", str(n_ranks),
           "--scale", str(scale), "--t-sim", str(t_sim_ms), "--t-presim", str(t_presim_ms),
           "--record", "none", "--partition", "area_processes", "--exchange", exchange,
           "--threads", str(threads), "--out", str(out)]
    if not overlap:
        cmd.append("--no-overlap")
    if n_ranks > 1:
        cmd = [_mpiexec(), "-n", str(n_ranks), *cmd]
    env = {**os.environ, "NUMBA_NUM_THREADS": str(threads)}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode:
        raise SystemExit(f"weak_scaling: {' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return json.loads((out / "summary.json").read_text())


def _per_rank(summary: dict) -> list[dict]:
    if summary.get("ranks"):
        return summary["ranks"]
    return [{"rank": 0, "n_neurons": summary["n_neurons"], "n_synapses": summary["n_synapses"],
             "build_s": summary["build_s"], "sim_s": summary["sim_s"], "peak_rss_mb": summary["peak_rss_mb"],
             "remote_pre": 0, "exchange": {}}]


def benchmark(ranks: list[int], *, scale: float, t_sim_ms: float, t_presim_ms: float, exchange: str,
              threads: int) -> dict:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in ranks:
            runs = {}
            for overlap in ((True, False) if n > 1 else (True,)):
                s = run_once(n, scale=scale, t_sim_ms=t_sim_ms, t_presim_ms=t_presim_ms, overlap=overlap,
                             exchange=exchange, threads=threads, out=Path(tmp) / f"n{n}-{overlap}")
                runs[overlap] = s
            s = runs[True]
            per_rank = _per_rank(s)
            row = {"n_ranks": n, "n_neurons": s["n_neurons"], "n_synapses": s["n_synapses"],
                   "synapses_per_rank": s["n_synapses"] / n, "build_s": s["build_s"], "sim_s": s["sim_s"],
                   "rtf": s["rtf"], "rates_hz": s["rates_hz"], "bytes_per_synapse": s["bytes_per_synapse"],
                   "peak_rss_mb_per_rank": [r["peak_rss_mb"] for r in per_rank],
                   "remote_pre_per_rank": [r["remote_pre"] for r in per_rank],
                   "per_rank": per_rank}
            if n > 1:
                wait_on = [r["exchange"]["exchange_wait_s"] for r in per_rank]
                blocked = _per_rank(runs[False])
                wait_off = [r["exchange"]["exchange_wait_s"] + r["exchange"]["exchange_post_s"] for r in blocked]
                post_on = [r["exchange"]["exchange_post_s"] for r in per_rank]
                exposed = [a + b for a, b in zip(wait_on, post_on)]
                row["exchange"] = {
                    "windows": per_rank[0]["exchange"]["windows"],
                    "exposed_s_overlap": exposed, "exposed_s_blocking": wait_off,
                    "hidden_fraction": [1.0 - e / w if w > 0 else None for e, w in zip(exposed, wait_off)],
                    "deliver_ring_s": [r["exchange"]["deliver_ring_s"] for r in per_rank],
                    "update_s": [r["exchange"]["update_s"] for r in per_rank],
                    "rtf_blocking": runs[False]["rtf"]}
            rows.append(row)
    base = rows[0]["rtf"] if rows and rows[0]["n_ranks"] == 1 else None
    for row in rows:
        row["efficiency"] = base / row["rtf"] if base else None
    return {"benchmark": "weak_scaling_multi_area", "model": "multi_area (one area per rank)",
            "partition": "area_processes", "exchange": exchange, "scale": scale, "t_sim_ms": t_sim_ms,
            "t_presim_ms": t_presim_ms, "threads_per_rank": threads, "rows": rows,
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "git": git_commit(), "machine": machine_info(), "device": "cpu"}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ranks", type=int, nargs="+", default=[1, 2, 4])
    p.add_argument("--scale", type=float, default=0.1)
    p.add_argument("--t-sim", dest="t_sim_ms", type=float, default=1000.0)
    p.add_argument("--t-presim", dest="t_presim_ms", type=float, default=100.0)
    p.add_argument("--exchange", choices=("neighbour", "allgather"), default="neighbour")
    p.add_argument("--threads", type=int, default=1, help="Numba threads per rank")
    p.add_argument("--out", type=Path, default=Path("bench/results/weak_scaling_multi_area_cpu2.json"))
    args = p.parse_args(argv)
    result = benchmark(args.ranks, scale=args.scale, t_sim_ms=args.t_sim_ms, t_presim_ms=args.t_presim_ms,
                       exchange=args.exchange, threads=args.threads)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    for row in result["rows"]:
        hid = row.get("exchange", {}).get("hidden_fraction")
        print(f"{row['n_ranks']} rank(s): RTF {row['rtf']:.3f}, efficiency {row['efficiency']:.2f}, "
              f"peak/rank {max(row['peak_rss_mb_per_rank']):.0f} MB, hidden "
              f"{'-' if hid is None else ', '.join(f'{h:.2f}' for h in hid if h is not None)}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
