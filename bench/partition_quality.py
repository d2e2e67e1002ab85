"""partition_quality: how much spike traffic and memory imbalance each partition strategy causes.

Builds every rank of the synthetic multi-area model (``cortex_gpu.models.multi_area``)
for each strategy and rank count, one rank after the other in this process,
and records per rank: the remote pres (pre-synaptic neurons it reads that
another rank owns, i.e. gids it must receive each exchange), the number of
ranks it receives from, all pres, the estimated bytes the partition balanced
(``partition.rank_estimated_bytes``) and the bytes the delivery layout really
took. Writes ``<out>/partition_quality_multi_area_cpu<cores>.json``::

    python bench/partition_quality.py --areas 4 --scale 0.1 --ranks 2 4 8 16 --out bench/results
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
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from bench.microcircuit import git_commit, machine_info  # noqa: E402
from cortex_gpu.build import build_local  # noqa: E402
from cortex_gpu.models import multi_area  # noqa: E402
from cortex_gpu.partition import (BYTES_PER_NEURON, BYTES_PER_SYNAPSE, STRATEGIES, make_partition,  # noqa: E402
                                  rank_estimated_bytes, remote_pre_counts)

__all__ = ["partition_quality"]


def partition_quality(n_areas: int = 4, scale: float = 0.1, ranks=(2, 4, 8, 16), tile_size: int = 256,
                      strategies=STRATEGIES, seed: int = 1) -> dict:
    """Per strategy and rank count, per-rank remote pres, peers, pres and bytes (estimated and built)."""
    net, info = multi_area(n_areas, scale=scale, record_spikes=False)
    out = {"model": {"name": "multi_area", "n_areas": n_areas, "scale": scale,
                     "n_neurons": int(info["n_neurons"]), "n_synapses_expected": int(info["n_synapses"]),
                     "inter_area_share": float(info["inter_area_share"])},
           "tile_size": tile_size, "seed": seed,
           "memory_model": {"bytes_per_synapse": BYTES_PER_SYNAPSE, "bytes_per_neuron": BYTES_PER_NEURON},
           "runs": []}
    for n_ranks in ranks:
        for strategy in strategies:
            t0 = time.perf_counter()
            part = make_partition(net, n_ranks, strategy, tile_size=tile_size)
            est = rank_estimated_bytes(net, part)
            pre_gids, layout_bytes, n_syn = [], [], []
            for r in range(n_ranks):
                g = build_local(net, part, r, seed=seed, n_workers=os.cpu_count() or 1)
                pre_gids.append(g.layout.pre_gids.copy())
                layout_bytes.append(int(g.layout.nbytes))
                n_syn.append(int(g.layout.n_synapses))
                del g
            remote = remote_pre_counts(part, pre_gids)
            peers = [int(np.unique(o[(o >= 0) & (o != r)]).size)
                     for r, o in enumerate(part.owner(p) for p in pre_gids)]
            run = {"strategy": strategy, "n_ranks": n_ranks,
                   "remote_pres": remote.tolist(), "remote_pres_mean": float(remote.mean()),
                   "remote_pres_max": int(remote.max()),
                   "peers": peers, "pres": [int(p.size) for p in pre_gids],
                   "estimated_bytes": [int(b) for b in est],
                   "estimated_bytes_max_over_mean": float(est.max() / est.mean()),
                   "layout_bytes": layout_bytes, "synapses": n_syn,
                   "seconds": round(time.perf_counter() - t0, 2)}
            out["runs"].append(run)
            print(f"{n_ranks:3d} ranks  {strategy:15s} remote pres mean {run['remote_pres_mean']:9.1f} "
                  f"max {run['remote_pres_max']:7d}  peers max {max(peers):3d}  "
                  f"est. bytes max/mean {run['estimated_bytes_max_over_mean']:.3f}", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--areas", type=int, default=4)
    ap.add_argument("--scale", type=float, default=0.1)
    ap.add_argument("--ranks", type=int, nargs="+", default=[2, 4, 8, 16])
    ap.add_argument("--tile-size", type=int, default=256)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    args = ap.parse_args(argv)
    result = {"benchmark": "partition quality (remote pres and memory per rank)",
              "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
              "git": git_commit(), "machine": machine_info()}
    result.update(partition_quality(args.areas, args.scale, tuple(args.ranks), args.tile_size, seed=args.seed))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"partition_quality_multi_area_cpu{os.cpu_count()}.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
