"""checkpoint: size and speed of checkpoints (issue 19) for PD14 and the hpc_benchmark.

Per model: build time, a short run, then ``save_checkpoint`` (time, bytes,
write throughput), ``read_checkpoint`` (time with sha256 verification, read
throughput), ``Simulation.restore`` (time, against the build time) and a
check that the restored run continues bit for bit (spikes of a further
stretch compared with the uninterrupted run). Reports bytes per neuron and
per plastic synapse, and the size of a full-scale checkpoint extrapolated
from them. Writes ``<out>/checkpoint_<model>_S<scale>_cpu<cores>.json``::

    python bench/checkpoint.py --model microcircuit --scale 0.1 --out bench/results
    python bench/checkpoint.py --model hpc_benchmark --scale 0.1 --out bench/results
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from bench.microcircuit import git_commit, machine_info  # noqa: E402
from cortex_gpu import Simulation  # noqa: E402
from cortex_gpu.io import read_checkpoint  # noqa: E402
from cortex_gpu.models.registry import make_model  # noqa: E402

def bench(model: str, scale: float, t_ms: float, threads: int, seed: int = 1) -> dict:
    def net():
        return make_model(model, scale)[0]
    sim = Simulation(net(), seed=seed, threads=threads)
    rep = sim.build()
    sim.run(t_ms)
    out = {"model": model, "scale": scale, "threads": threads, "t_run_ms": t_ms, "n_neurons": rep.n_neurons,
           "n_synapses": rep.n_synapses, "build_s": rep.build_s}
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as d:
        c0 = time.perf_counter()
        sim.save_checkpoint(d)
        out["write_s"] = time.perf_counter() - c0
        nbytes = sum(f.stat().st_size for f in Path(d).iterdir())
        c0 = time.perf_counter()
        ck = read_checkpoint(d)
        out["read_s"] = time.perf_counter() - c0
        n_plastic = int(ck.state.plastic["weight"].size) if ck.state.plastic else 0
        arrays = ck.parts[0].arrays()
        plastic_bytes = sum(v.nbytes for k, v in arrays.items() if k.startswith("plastic/"))
        neuron_bytes = sum(v.nbytes for k, v in arrays.items() if k.startswith("neurons/"))
        c0 = time.perf_counter()
        r = Simulation.restore(d, net(), threads=threads)
        out["restore_s"] = time.perf_counter() - c0
    out.update({"bytes": nbytes, "bytes_per_neuron_state": neuron_bytes / rep.n_neurons,
                "n_plastic": n_plastic, "bytes_per_plastic_synapse": plastic_bytes / n_plastic if n_plastic else None,
                "in_flight_spikes": int(ck.state.spikes["gid"].size), "recorded_spikes": int(ck.state.recorded["gid"].size),
                "write_MB_s": nbytes / out["write_s"] / 1e6, "read_MB_s": nbytes / out["read_s"] / 1e6,
                "restore_minus_build_s": out["restore_s"] - rep.build_s})
    sim.run(20.0)
    r.run(20.0)
    same = np.array_equal(np.column_stack(sim.all_spikes()), np.column_stack(r.all_spikes())) and \
        np.array_equal(sim.state("V_m").view(np.int64), r.state("V_m").view(np.int64))
    out["continues_bit_identical"] = bool(same)
    # both models scale their neurons with the scale; hpc_benchmark keeps its indegrees, so its plastic
    # synapses scale too (PD14's scale here shrinks indegrees as well, but it has no plastic synapses)
    out["scale_1_estimate_bytes_without_recordings"] = (neuron_bytes + plastic_bytes) / scale
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=("microcircuit", "hpc_benchmark"), default="microcircuit")
    ap.add_argument("--scale", type=float, default=0.1)
    ap.add_argument("--t-ms", type=float, default=100.0)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", type=Path, default=Path("bench/results"))
    a = ap.parse_args()
    res = bench(a.model, a.scale, a.t_ms, a.threads)
    res.update({"date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), "commit": git_commit(),
                "machine": machine_info()})
    a.out.mkdir(parents=True, exist_ok=True)
    path = a.out / f"checkpoint_{a.model}_S{a.scale:g}_cpu{os.cpu_count()}.json"
    path.write_text(json.dumps(res, indent=1) + "\n")
    print(json.dumps({k: v for k, v in res.items() if k != "machine"}, indent=1))


if __name__ == "__main__":
    main()
