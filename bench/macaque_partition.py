"""macaque_partition: area_processes against round_robin on the multi-area macaque model, 4-16 ranks.

For each rank count and strategy, two measurements of the same partition
(``make_partition`` with the engine's default tile size, as ``cortex-gpu run``
makes it):

1. Per rank, built here one rank after the other (``build_local``): the
   distinct pre-synaptic neurons of its synapses (``pres``), those another
   rank owns (``remote_pres``), the ranks it receives from (``sources``),
   its synapses and the bytes of its delivery layout.
2. A real run, ``mpiexec -n R cortex-gpu run macaque_multi_area`` with the
   spikes recorded: per rank build time, step time (``sim_s`` over the
   measured ``--t-sim``), peak RSS, and the spikes it sent and received per
   second of model time. The exchange is point to point: each rank sends
   every spike of its neurons to each rank that reads any of its neurons,
   so ``sent = own spikes x targets`` and ``received = sum over its sources
   of their spikes``; both follow from the recorded spikes and the rank
   graph of step 1 (exact for this exchange, no engine counters needed).
   ``received_useful`` counts only the spikes of the rank's own pres.

Writes ``<out>/macaque_partition_N<N>_K<K>_cpu<cores>.json`` and a PNG next to it::

    python bench/macaque_partition.py --N-scaling 0.005 --K-scaling 0.02 --ranks 4 8 16 --out bench/results

On a 2-core machine 16 ranks share 2 cores: times are per rank under oversubscription; the counts
(pres, bytes, spikes) do not depend on the machine.
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
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from bench.microcircuit import git_commit, machine_info  # noqa: E402
from cortex_gpu.build import build_local  # noqa: E402
from cortex_gpu.io import read_spikes  # noqa: E402
from cortex_gpu.models.macaque_multi_area import macaque_multi_area  # noqa: E402
from cortex_gpu.partition import make_partition, rank_estimated_bytes, remote_pre_counts  # noqa: E402

__all__ = ["rank_graph", "mpi_run", "benchmark", "plot"]
STRATEGIES = ("round_robin", "area_processes")


def _mpiexec() -> str:
    found = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which("mpiexec")
    if found is None:
        raise SystemExit("macaque_partition: no mpiexec (pip install mpich mpi4py)")
    return found


def rank_graph(net, n_ranks: int, strategy: str, seed: int) -> dict:
    """Per rank: pres, remote pres, sources, synapses, layout bytes (built here, rank by rank)."""
    part = make_partition(net, n_ranks, strategy)
    est = rank_estimated_bytes(net, part)
    pre_gids, layout_bytes, n_syn = [], [], []
    for r in range(n_ranks):
        g = build_local(net, part, r, seed=seed, n_workers=os.cpu_count() or 1)
        pre_gids.append(g.layout.pre_gids.copy())
        layout_bytes.append(int(g.layout.nbytes))
        n_syn.append(int(g.layout.n_synapses))
        del g
    remote = remote_pre_counts(part, pre_gids)
    sources = [np.unique(o[(o >= 0) & (o != r)]) for r, o in enumerate(part.owner(p) for p in pre_gids)]
    return {"partition": part, "pre_gids": pre_gids, "sources": sources,
            "pres": [int(p.size) for p in pre_gids], "remote_pres": remote.tolist(),
            "n_sources": [int(s.size) for s in sources], "synapses": n_syn, "layout_bytes": layout_bytes,
            "estimated_bytes": [int(b) for b in est]}


def mpi_run(n_ranks: int, strategy: str, args, out: Path) -> dict:
    """``cortex-gpu run macaque_multi_area`` on ``n_ranks`` ranks; its summary.json."""
    cmd = [_mpiexec(), "-n", str(n_ranks), sys.executable, "-m", "cortex_gpu.cli", "run", "macaque_multi_area",
           "--scale", str(args.N_scaling), "--K-scaling", str(args.K_scaling), "--t-sim", str(args.t_sim),
           "--t-presim", str(args.t_presim), "--partition", strategy, "--threads", "1", "--seed", str(args.seed),
           "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "NUMBA_NUM_THREADS": "1"})
    if proc.returncode:
        raise SystemExit(f"macaque_partition: {' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return json.loads((out / "summary.json").read_text())


def _traffic(graph: dict, spikes: dict, t0_ms: float, t1_ms: float) -> dict:
    """Spikes sent and received per rank per second of model time, in the measured window."""
    part, n_ranks = graph["partition"], len(graph["pres"])
    keep = (spikes["times"] > t0_ms) & (spikes["times"] <= t1_ms)
    senders = spikes["senders"][keep]
    own = np.bincount(part.owner(senders), minlength=n_ranks).astype(float)
    targets = np.zeros(n_ranks)
    for r, src in enumerate(graph["sources"]):
        targets[src] += 1
    per_gid = np.bincount(senders, minlength=int(part.tile_stop.max()))
    seconds = (t1_ms - t0_ms) * 1e-3
    received = [float(own[src].sum()) for src in graph["sources"]]
    useful = []
    for r, pre in enumerate(graph["pre_gids"]):
        o = part.owner(pre)
        useful.append(float(per_gid[pre[(o >= 0) & (o != r)]].sum()))
    return {"own_spikes_per_s": (own / seconds).tolist(), "sent_per_s": (own * targets / seconds).tolist(),
            "received_per_s": [x / seconds for x in received],
            "received_useful_per_s": [x / seconds for x in useful]}


def _stats(x) -> dict:
    a = np.asarray(x, float)
    return {"max": float(a.max()), "mean": float(a.mean()), "max_over_mean": float(a.max() / a.mean())}


def benchmark(args) -> dict:
    net, info = macaque_multi_area(args.N_scaling, args.K_scaling, record_spikes=False)
    result = {"benchmark": "area_processes vs round_robin on the multi-area macaque model",
              "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
              "git": git_commit(), "machine": machine_info(),
              "model": {"name": "macaque_multi_area", "N_scaling": args.N_scaling, "K_scaling": args.K_scaling,
                        "n_neurons": int(info["n_neurons"]), "n_synapses": int(info["n_synapses"]),
                        "inter_area_share": info["n_synapses_inter_area"] / info["n_synapses"]},
              "t_presim_ms": args.t_presim, "t_sim_ms": args.t_sim, "seed": args.seed, "runs": []}
    for n_ranks in args.ranks:
        for strategy in STRATEGIES:
            t = time.perf_counter()
            graph = rank_graph(net, n_ranks, strategy, args.seed)
            with tempfile.TemporaryDirectory() as tmp:
                s = mpi_run(n_ranks, strategy, args, Path(tmp))
                traffic = _traffic(graph, read_spikes(tmp), args.t_presim, args.t_presim + args.t_sim)
            ranks = sorted(s["ranks"], key=lambda r: r["rank"])
            run = {"n_ranks": n_ranks, "strategy": strategy,
                   **{k: v for k, v in graph.items() if k not in ("partition", "pre_gids", "sources")},
                   **traffic,
                   "build_s": [r["build_s"] for r in ranks], "sim_s": [r["sim_s"] for r in ranks],
                   "step_ms": [1e3 * r["sim_s"] / (args.t_sim / s["resolution_ms"]) for r in ranks],
                   "peak_rss_mb": [r["peak_rss_mb"] for r in ranks],
                   "remote_pre_engine": [r["remote_pre"] for r in ranks],
                   "n_spikes": s["n_spikes"],
                   "seconds": round(time.perf_counter() - t, 1)}
            run["summary"] = {k: _stats(run[k]) for k in ("pres", "remote_pres", "n_sources", "layout_bytes",
                                                          "sent_per_s", "received_per_s", "received_useful_per_s",
                                                          "build_s", "step_ms", "peak_rss_mb")}
            result["runs"].append(run)
            sm = run["summary"]
            print(f"{n_ranks:3d} ranks {strategy:15s} pres max {sm['pres']['max']:8.0f} mean {sm['pres']['mean']:8.0f}"
                  f"  bytes max/mean {sm['layout_bytes']['max_over_mean']:.2f}  recv/s mean "
                  f"{sm['received_per_s']['mean']:9.0f}  step ms max {sm['step_ms']['max']:.2f}"
                  f"  build s max {sm['build_s']['max']:.1f}", flush=True)
    return result


def plot(result: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    keys = [("pres", "distinct pres per rank"), ("layout_bytes", "layout bytes per rank"),
            ("received_per_s", "spikes received per rank per s (model time)"), ("step_ms", "step time per rank (ms)"),
            ("build_s", "build time per rank (s)"), ("n_sources", "ranks received from")]
    fig, axes = plt.subplots(2, 3, figsize=(12, 7), constrained_layout=True)
    for ax, (key, title) in zip(axes.ravel(), keys):
        for k, strategy in enumerate(STRATEGIES):
            runs = [r for r in result["runs"] if r["strategy"] == strategy]
            ranks = [r["n_ranks"] for r in runs]
            ax.plot(ranks, [r["summary"][key]["mean"] for r in runs], "o-", color=f"C{k}", label=f"{strategy} mean")
            ax.plot(ranks, [r["summary"][key]["max"] for r in runs], "s--", color=f"C{k}", alpha=0.6,
                    label=f"{strategy} max")
        if key == "received_per_s":   # of which the spikes of the rank's own pres
            for k, strategy in enumerate(STRATEGIES):
                runs = [r for r in result["runs"] if r["strategy"] == strategy]
                ax.plot([r["n_ranks"] for r in runs], [r["summary"]["received_useful_per_s"]["mean"] for r in runs],
                        "^:", color=f"C{k}", label=f"{strategy} mean, of own pres")
            ax.legend(fontsize="x-small")
        ax.set_xscale("log", base=2)
        ax.set_xticks(ranks, [str(r) for r in ranks])
        ax.set_xlabel("ranks")
        ax.set_title(title)
    axes[0, 0].legend(fontsize="small")
    m = result["model"]
    fig.suptitle(f"macaque multi-area model, N_scaling {m['N_scaling']:g}, K_scaling {m['K_scaling']:g} "
                 f"({m['n_neurons']} neurons, {m['n_synapses']:.3g} synapses)")
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--N-scaling", dest="N_scaling", type=float, default=0.005)
    ap.add_argument("--K-scaling", dest="K_scaling", type=float, default=0.02)
    ap.add_argument("--ranks", type=int, nargs="+", default=[4, 8, 16])
    ap.add_argument("--t-sim", type=float, default=200.0)
    ap.add_argument("--t-presim", type=float, default=100.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    ap.add_argument("--plot-only", type=Path, default=None, metavar="JSON", help="redraw the PNG of a result")
    args = ap.parse_args(argv)
    if args.plot_only is not None:
        plot(json.loads(args.plot_only.read_text()), args.plot_only.with_suffix(".png"))
        return 0
    result = benchmark(args)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"macaque_partition_N{args.N_scaling:g}_K{args.K_scaling:g}_cpu{os.cpu_count()}"
    (args.out / f"{stem}.json").write_text(json.dumps(result, indent=1) + "\n")
    plot(result, args.out / f"{stem}.png")
    print(f"wrote {args.out / stem}.json and .png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
