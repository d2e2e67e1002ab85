"""The multi-area macaque model at a tiny scale: our population and area rates lie where NEST 3.10's do.

Model: ``macaque_multi_area(N_scaling=0.002, K_scaling=0.02)``, ground state: 8,139 neurons in 254
populations (1 to 140 neurons each) and 961,776 synapses, weights x 1/sqrt(0.02) with the DC
compensation. NEST runs the twin (``bench/nest_macaque_multi_area.py``, same parameters) in
subprocesses with 4 seeds; we run 3 seeds. 200 ms are discarded, rates are measured over 1,000 ms.
Each simulator draws its own random numbers, so only statistics can agree.

At this K_scaling the network is noisy: the mean rate over all neurons differs by up to ~1.4 spikes/s
(7.4-8.8) between two NEST seeds, and a population rate by 2.5 spikes/s on average (up to 12) between
two seeds. So the criteria are relative to the NEST ensemble's own spread:

1. Both simulators fire every population at finite rates, with a network mean of 2-20 spikes/s.
2. Populations: ``z = (mean_ours - mean_nest) / sqrt(s_nest^2/4 + s_ours^2/3)`` with each
   seed-to-seed sd floored at the counting noise ``sqrt(rate / (N T))``; at least 95% of the 254
   populations have ``|z| < 4``.
3. No systematic bias: the mean of z over populations is within +-0.75 (seed-to-seed network-wide
   fluctuations move all populations together, so this is looser than 4/sqrt(254)).
4. Areas: the 32 size-weighted area means, likewise; at least 90% have ``|z| < 4``.

Measured when this test was written (2 shared cores, 1 thread each), for explanation only:
per-population |z| < 3 for 99.2% of populations, mean z -0.14, largest |z| 3.2; area means
|z| < 4 for 31 of 32 (LIP -4.9 with 4 and 3 seeds). Each of our seeds against the NEST ensemble
looks like a held-out NEST seed against the others: fraction of populations within 3 ensemble sds
0.94-0.97 (NEST's held-out seeds 0.93-0.96), rms of that z 1.2-1.5 (NEST's 1.4-1.7). NEST takes
30-80 s per seed (RTF 30-80 on the shared cores), ours 20-30 s with the build.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from cortex_gpu.engine import Simulation
from cortex_gpu.models.macaque_multi_area import macaque_multi_area, macaque_parameters

pytestmark = [pytest.mark.nest, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
TWIN = REPO / "bench" / "nest_macaque_multi_area.py"
N_SCALING, K_SCALING = 0.002, 0.02
T_PRESIM_MS, T_SIM_MS = 200.0, 1000.0
NEST_SEEDS = (1, 2, 3, 4)
OUR_SEEDS = (1, 2, 3)
Z = 4.0


def _nest_rates(seed: int) -> np.ndarray:
    env = {**os.environ, "OMP_WAIT_POLICY": "passive",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, str(TWIN), "--N-scaling", str(N_SCALING), "--K-scaling", str(K_SCALING),
                           "--t-presim", str(T_PRESIM_MS), "--t-sim", str(T_SIM_MS), "--threads", "1",
                           "--seed", str(seed), "--record"], env=env, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return np.array(json.loads([ln for ln in proc.stdout.splitlines() if ln.startswith("{")][-1])["rates_hz"])


def _our_rates(seed: int) -> np.ndarray:
    from bench.report import population_rates_hz
    net, info = macaque_multi_area(N_SCALING, K_SCALING, record_spikes=True)
    sim = Simulation(net, seed=seed, threads=1)
    sim.run(T_PRESIM_MS + T_SIM_MS)
    ev = sim.spike_events(info["recorder"])
    return np.array(population_rates_hz(ev["senders"], ev["times"], info["gid_ranges"],
                                        T_PRESIM_MS, T_PRESIM_MS + T_SIM_MS))


def _z(ours: np.ndarray, nest: np.ndarray, counting_sd: np.ndarray) -> np.ndarray:
    s_n = np.maximum(nest.std(axis=0, ddof=1), counting_sd)
    s_o = np.maximum(ours.std(axis=0, ddof=1), counting_sd)
    return (ours.mean(axis=0) - nest.mean(axis=0)) / np.sqrt(s_n ** 2 / len(nest) + s_o ** 2 / len(ours))


def test_population_and_area_rates_match_the_nest_ensemble() -> None:
    if __import__("importlib").util.find_spec("nest") is None:
        pytest.skip("nest-simulator is not installed")
    p = macaque_parameters(N_SCALING, K_SCALING)
    with ThreadPoolExecutor(max_workers=1) as pool:   # NEST's seeds one after the other, ours meanwhile
        nest_runs = pool.submit(lambda: [_nest_rates(s) for s in NEST_SEEDS])
        ours = np.array([_our_rates(s) for s in OUR_SEEDS])
        nest = np.array(nest_runs.result())
    n = p.num_neurons.astype(float)
    T = T_SIM_MS * 1e-3
    for who, r in (("NEST", nest), ("ours", ours)):
        assert np.all(np.isfinite(r)), who
        overall = (r * n).sum(axis=1) / n.sum()
        assert np.all((overall > 2) & (overall < 20)), f"{who}: network mean rates {overall}"

    counting_sd = np.sqrt(np.maximum(nest.mean(axis=0), 0.1) / (n * T))
    z = _z(ours, nest, counting_sd)
    worst = np.argsort(-np.abs(z))[:8]
    table = "\n".join(f"{p.populations[i]:9s} NEST {nest[:, i].mean():7.3f} +- {nest[:, i].std(ddof=1):6.3f}  "
                      f"ours {ours[:, i].mean():7.3f} +- {ours[:, i].std(ddof=1):6.3f}  z {z[i]:+.2f}"
                      for i in worst)
    print(f"\npopulations: |z| < {Z:g} for {np.mean(np.abs(z) < Z):.3f}, mean z {z.mean():+.3f}; worst:\n{table}")
    assert np.mean(np.abs(z) < Z) >= 0.95, table
    assert abs(z.mean()) <= 0.75, table

    def by_area(r: np.ndarray) -> np.ndarray:
        w = np.bincount(p.area_of_population, weights=n)
        return np.array([np.bincount(p.area_of_population, weights=x * n) / w for x in r])
    n_area = np.bincount(p.area_of_population, weights=n)
    area_sd = np.sqrt(np.maximum(by_area(nest).mean(axis=0), 0.1) / (n_area * T))
    za = _z(by_area(ours), by_area(nest), area_sd)
    print("areas z: " + " ".join(f"{a} {x:+.1f}" for a, x in zip(p.areas, za)))
    assert np.mean(np.abs(za) < Z) >= 0.9, za
    assert abs(za.mean()) <= 0.75, za
