"""gpu_microcircuit: the PD14 microcircuit on the cuda backend, timed, with energy per synaptic event.

One command on a machine with a GPU (CuPy, and nvidia-ml-py for energy)::

    python bench/gpu_microcircuit.py --out bench/results

runs full-scale PD14 with Poisson drive (77,169 neurons, ~3e8 synapses),
discards ``--t-presim`` ms (default 500), then times ``--t-sim`` ms
(default 10,000) with nothing recorded, and writes
``gpu_microcircuit_N<N>_K<K>_<date>_<commit>.json`` with:

- ``device``: GPU name, memory, multiprocessors, compute capability, driver
  and CUDA runtime/driver versions, CuPy version (NVML's driver string too);
- ``git`` (commit, branch, dirty), ``date``, ``machine`` (the host), ``parameters``;
- ``result`` (bench.report.RunResult): ``build_s`` (network description +
  ``Simulation.build``: construction on the GPU, upload of the other
  tables, kernel compilation or cache load),
  ``presim_s``, ``sim_s``, ``rtf`` = sim_s / model seconds, rates;
  ``extra``: ``construction`` (seconds: the graph build on the device with
  its phases and the layout's copy to the host, tables, upload, compile;
  ``warm_device_build_s``, a second construction of the same rank with the
  kernels compiled, the figure to hold against NEST GPU's 0.53 s),
  ``device_bytes`` and ``device_bytes_per_synapse`` (every device
  array of the backend; ``layout_device_bytes_per_synapse`` for the delivery
  layout alone), ``step_us`` (per-step time split, see below),
  ``synaptic_events`` and ``energy`` (NVML).

Per-step split (microseconds per step): ``wall`` = sim_s / steps;
``graph_gpu`` = GPU time of the CUDA-graph replays of the timed part (events
around each replay) / steps; after the timed part, ``--split-steps`` steps
(default 2,000) run kernel by kernel with CUDA events between the kernels:
``delivery`` (gather_due + deliver), ``update`` (drive and neuron update,
multimeter sampling), ``merge`` (spikes into the ring); ``overhead`` =
``graph_gpu`` - delivery - update - merge (gaps between graph nodes), and
``host`` = ``wall`` - ``graph_gpu`` (Python, flushes, waits per chunk).

Energy: NVML's total-energy counter (mJ, Volta and newer) read before and
after the timed part, and the board power sampled every ``--power-interval``
s and integrated (trapezoid) as a cross-check; energy per synaptic event =
joules / synaptic events of the timed part, where synaptic events = sum
over neurons of (spikes in the timed part x that neuron's outgoing
synapses). Generator (Poisson) input is not counted as synaptic events.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import sys
import threading
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.microcircuit import git_commit, machine_info  # noqa: E402
from bench.report import RunResult, write_record  # noqa: E402
from cortex_gpu.engine import Simulation, peak_rss_mb  # noqa: E402
from cortex_gpu.models.microcircuit import microcircuit  # noqa: E402

__all__ = ["device_info", "PowerMeter", "out_degrees", "run_gpu_microcircuit", "main"]


def device_info() -> dict:
    """The GPU and its software: name, memory, multiprocessors, capability, driver and CUDA versions."""
    import cupy
    rt = cupy.cuda.runtime
    dev = cupy.cuda.Device()
    props = rt.getDeviceProperties(dev.id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    info = {"name": name, "index": dev.id, "pci_bus_id": dev.pci_bus_id,
            "compute_capability": dev.compute_capability, "memory_bytes": int(props["totalGlobalMem"]),
            "multiprocessors": int(props["multiProcessorCount"]), "l2_bytes": int(props.get("l2CacheSize", 0)),
            "cuda_driver_version": rt.driverGetVersion(), "cuda_runtime_version": rt.runtimeGetVersion(),
            "cupy": cupy.__version__}
    try:
        import pynvml
        pynvml.nvmlInit()
        info["driver"] = pynvml.nvmlSystemGetDriverVersion()
        h = pynvml.nvmlDeviceGetHandleByPciBusId(dev.pci_bus_id)
        info["power_limit_w"] = pynvml.nvmlDeviceGetEnforcedPowerLimit(h) / 1000.0
    except Exception as exc:          # no NVML: the rest still identifies the machine
        info["driver"] = None
        info["nvml_error"] = f"{type(exc).__name__}: {exc}"
    return info


class PowerMeter:
    """NVML energy of one GPU over a span: the total-energy counter and integrated power samples."""

    def __init__(self, pci_bus_id: str, interval_s: float = 0.02):
        import pynvml
        self.nv = pynvml
        pynvml.nvmlInit()
        self.h = pynvml.nvmlDeviceGetHandleByPciBusId(pci_bus_id)
        self.interval_s = interval_s
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()

    def _counter_mj(self) -> float | None:
        try:
            return float(self.nv.nvmlDeviceGetTotalEnergyConsumption(self.h))
        except Exception:
            return None

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.perf_counter(), self.nv.nvmlDeviceGetPowerUsage(self.h) / 1000.0))
            self._stop.wait(self.interval_s)

    def __enter__(self):
        self.e0 = self._counter_mj()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.e1 = self._counter_mj()

    def result(self) -> dict:
        t = np.array([s[0] for s in self.samples])
        p = np.array([s[1] for s in self.samples])
        integral = float(np.sum((p[1:] + p[:-1]) * np.diff(t)) / 2.0) if t.size > 1 else None
        counter = (self.e1 - self.e0) * 1e-3 if self.e0 is not None and self.e1 is not None else None
        return {"counter_j": counter, "power_integral_j": integral, "mean_power_w": float(p.mean()) if p.size else None,
                "samples": int(p.size), "interval_s": self.interval_s}


def out_degrees(sim) -> np.ndarray:
    """Outgoing synapses on this rank of each local neuron (int64), from the layout's segment table."""
    L = sim.graph.layout
    per_pre = np.diff(L.seg_off).reshape(L.n_sections, max(L.n_pre, 1)).sum(axis=0) if L.n_pre else np.zeros(0)
    pre = sim._pre_of_local
    out = np.zeros(pre.size, np.int64)
    out[pre >= 0] = per_pre[pre[pre >= 0]]
    return out


def warm_device_build_s(net, sim, seed: int) -> float | None:
    """Seconds of a second construction of rank 0 on the GPU (kernels compiled, CuPy's memory pool warm),
    the network description excluded; None when the simulation was built on the host."""
    if sim.construction != "device":
        return None
    from cortex_gpu.backends.cuda_build import build_local_device
    import cupy
    cupy.cuda.runtime.deviceSynchronize()
    t0 = time.perf_counter()
    g = build_local_device(net, sim.partition, 0, seed, weight_dtype=sim.weight_dtype)
    cupy.cuda.runtime.deviceSynchronize()
    seconds = time.perf_counter() - t0
    del g
    return seconds


def run_gpu_microcircuit(N_scaling: float = 1.0, K_scaling: float = 1.0, *, t_presim_ms: float = 500.0,
                         t_sim_ms: float = 10000.0, seed: int = 55, split_steps: int = 2000,
                         posts_per_warp: int | None = None, power_interval_s: float = 0.02) -> dict:
    """Build, pre-simulate, time and measure PD14 on the cuda backend; returns the JSON-ready record."""
    import cortex_gpu
    from cortex_gpu.backends import cuda
    if posts_per_warp is not None:
        cuda.default_posts_per_warp = lambda n, n_sm: posts_per_warp
    dev = device_info()
    t0 = time.perf_counter()
    net, info = microcircuit(N_scaling, K_scaling, "poisson", record_spikes=False)
    sim = Simulation(net, seed=seed, backend="cuda")
    report = sim.build()
    build_s = time.perf_counter() - t0
    runner = sim._cuda
    setup = {k: runner.timings[k] for k in ("tables_s", "upload_s", "compile_s")}
    t0 = time.perf_counter()
    if t_presim_ms > 0:
        sim.run(t_presim_ms)
    presim_s = time.perf_counter() - t0

    counts_before = sim.spike_counts()
    gpu_s_before, steps_before = runner.timings["graph_gpu_s"], runner.timings["graph_steps"]
    energy = {"error": "nvidia-ml-py (pynvml) is not installed"}
    meter = None
    try:
        meter = PowerMeter(dev["pci_bus_id"], power_interval_s)
    except Exception as exc:
        energy = {"error": f"{type(exc).__name__}: {exc}"}
    t0 = time.perf_counter()
    if meter is not None:
        with meter:
            sim.run(t_sim_ms)
    else:
        sim.run(t_sim_ms)
    sim_s = time.perf_counter() - t0
    counted = sim.spike_counts() - counts_before
    n_steps = int(round(t_sim_ms / net.resolution_ms))
    graph_gpu_s = runner.timings["graph_gpu_s"] - gpu_s_before
    graph_steps = runner.timings["graph_steps"] - steps_before
    syn_events = int(np.dot(counted, out_degrees(sim)))
    if meter is not None:
        energy = meter.result()
        joules = energy["counter_j"] if energy["counter_j"] is not None else energy["power_integral_j"]
        energy["joules"] = joules
        energy["nj_per_synaptic_event"] = joules / syn_events * 1e9 if joules and syn_events else None

    split = runner.run(split_steps, timed_steps=split_steps) if split_steps > 0 else None
    us = lambda ms: ms * 1e3 / split["steps"]  # noqa: E731
    step = {"wall": sim_s / n_steps * 1e6, "graph_gpu": graph_gpu_s / max(graph_steps, 1) * 1e6}
    if split is not None:
        step.update(delivery=us(split["gather_ms"] + split["deliver_ms"]), update=us(split["update_ms"]),
                    merge=us(split["merge_ms"]), split_steps=split["steps"])
        step["overhead"] = step["graph_gpu"] - step["delivery"] - step["update"] - step["merge"]
    step["host"] = step["wall"] - step["graph_gpu"]

    gids = sim.local_gids
    rates = [float(counted[(gids >= a) & (gids < b)].sum() / ((b - a) * t_sim_ms * 1e-3))
             for a, b in info["gid_ranges"]]
    n_syn = report.n_synapses
    result = RunResult(
        simulator="cortex_gpu", version=getattr(cortex_gpu, "__version__", "unknown"), threads=1, seed=int(seed),
        n_neurons=report.n_neurons, n_synapses=n_syn, build_s=build_s, presim_s=presim_s, sim_s=sim_s,
        t_presim_ms=float(t_presim_ms), t_sim_ms=float(t_sim_ms), rtf=sim_s / (t_sim_ms * 1e-3),
        peak_rss_mb=peak_rss_mb(), recorded=False, rates_hz=rates, bytes_per_synapse=float(report.bytes_per_synapse),
        extra={"backend": "cuda", "construction": {"engine_build_s": float(report.build_s),
                                                   "graph_build_s": float(sim.graph.build_s),
                                                   "graph_phases_s": dict(sim.graph.timings),
                                                   "warm_device_build_s": warm_device_build_s(net, sim, seed), **setup},
               "construction_on": sim.construction,
               "device_bytes": runner.device_bytes, "device_bytes_per_synapse": runner.device_bytes / max(n_syn, 1),
               "layout_device_bytes_per_synapse": runner.layout_device_bytes / max(n_syn, 1),
               "posts_per_warp": runner.posts_per_warp, "step_us": step, "synaptic_events": syn_events,
               "synaptic_events_per_s_model": syn_events / (t_sim_ms * 1e-3), "energy": energy,
               "min_delay_steps": int(report.min_delay_steps), "max_delay_steps": int(report.max_delay_steps)})
    git = git_commit()
    if git["commit"] is None:   # in the Docker image (no .git): the commit given at build time
        git["commit"] = os.environ.get("CORTEX_GPU_COMMIT")
    return {"benchmark": "microcircuit (Potjans & Diesmann 2014), cuda backend",
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), "git": git,
            "device": dev, "machine": machine_info(),
            "parameters": {"N_scaling": N_scaling, "K_scaling": K_scaling, "drive": "poisson",
                           "t_presim_ms": t_presim_ms, "t_sim_ms": t_sim_ms, "seed": seed, "record": False,
                           "split_steps": split_steps, "resolution_ms": net.resolution_ms},
            "result": result.to_dict()}


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0, help="N_scaling = K_scaling (default 1: full scale)")
    ap.add_argument("--N-scaling", type=float, default=None)
    ap.add_argument("--K-scaling", type=float, default=None)
    ap.add_argument("--t-sim", type=float, default=10000.0, help="timed model time, ms (default 10000)")
    ap.add_argument("--t-presim", type=float, default=500.0, help="discarded model time, ms (default 500)")
    ap.add_argument("--seed", type=int, default=55)
    ap.add_argument("--split-steps", type=int, default=2000, help="steps timed kernel by kernel (default 2000)")
    ap.add_argument("--posts-per-warp", type=int, default=None, help="delivery block size (default: backend's)")
    ap.add_argument("--power-interval", type=float, default=0.02, help="NVML power sampling period, s")
    ap.add_argument("--out", type=Path, default=None, help="directory for the JSON (default: stdout)")
    return ap


def main(argv: list[str] | None = None) -> int:
    a = _parser().parse_args(argv)
    N = a.scale if a.N_scaling is None else a.N_scaling
    K = a.scale if a.K_scaling is None else a.K_scaling
    rec = run_gpu_microcircuit(N, K, t_presim_ms=a.t_presim, t_sim_ms=a.t_sim, seed=a.seed,
                               split_steps=a.split_steps, posts_per_warp=a.posts_per_warp,
                               power_interval_s=a.power_interval)
    r = rec["result"]
    e = r["extra"]["energy"]
    print(f"[bench] {rec['device']['name']}: build {r['build_s']:.2f} s, RTF {r['rtf']:.3f}, "
          f"{r['extra']['device_bytes_per_synapse']:.2f} device bytes/synapse, step us "
          + ", ".join(f"{k} {v:.1f}" for k, v in r["extra"]["step_us"].items() if isinstance(v, float))
          + (f", {e['nj_per_synaptic_event']:.3f} nJ/synaptic event" if e.get("nj_per_synaptic_event") else ""),
          file=sys.stderr)
    write_record(rec, a.out, f"gpu_microcircuit_N{N:g}_K{K:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
