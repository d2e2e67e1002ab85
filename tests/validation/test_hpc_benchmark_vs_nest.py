"""hpc_benchmark at scale 0.1: our E rate and plastic weights lie where NEST 3.10's lie for the same model.

Configuration and why
---------------------
Scale 0.1: 900 E + 225 I neurons, 12,656,250 synapses (8.1 M plastic). Indegrees
stay 9,000 and 2,250 at every scale, so at this size every E neuron gets ~10
synapses from each other E neuron; inputs are almost fully shared and the
network bursts synchronously every ~35 ms (NEST's example warns that the model
needs scale > 10 for its asynchronous state). Bursts potentiate the E->E
weights, and from ~150-250 ms on the rates run away to 400-1000 spikes/s, where
NEST needs ~60 s per 100 ms. So: 50 ms are simulated and discarded, then the
mean E rate is measured over (50, 150] ms and the E->E weights are read at
150 ms. NEST builds this in 1.5-6 s and runs it in 3-22 s per seed on one core;
scale 0.2 is the same regime at 2-4 times the cost. NEST reads weights at ~75,000
per second (a status dictionary per connection), so both sides report the
weights of the synapses from the first 50 E neurons (~450,000; their mean
differs from that of all E->E synapses by at most 0.15 pA in our runs).

Each simulator draws its own random numbers, so only statistics can agree. Four
seeds on each side: NEST's in a subprocess (NEST and Numba bring different
OpenMP runtimes), ours here meanwhile, one core each.

Criterion
---------
For the mean E rate, the weight mean and the weight std: our seed-median lies
in NEST's min..max over its seeds, widened by a margin of half NEST's
seed-to-seed standard deviation measured over 10 seeds (below). The bursts
make every statistic vary widely from seed to seed; with 4 seeds per side a
correct simulator's seed-mean falls outside NEST's plain min..max with
probability 0.23, outside the widened range with 0.07 per statistic (Monte
Carlo with equal normal seed-to-seed spreads; the median is a little wider).
The median, not the mean: in this regime a run can run away before 150 ms
(ours: seeds 2 and 8 of 1-10 after the poisson_generator's window moved one
step to NEST's, none of 1-10 before; NEST: none of seeds 1-14), and one such
seed would carry the mean. Besides, every run but at most one per side must be
alive and learning: E rate 1..300 spikes/s, weight std > 0.
Result with seeds 1-4 (after the window change): E rate NEST 25.3..67.0, ours
51.9, 350.6, 63.0, 69.0 (median 66.0, allowed up to 80.8); weight mean NEST
46.10..48.56 pA, ours' median 48.34; weight std NEST 0.338..0.733 pA, ours'
median 0.642.
Measured when this test was written (seeds 1-10, one thread each, spikes/s and
pA, mean +- sd over seeds; nothing below is used by the test except the
margins):

===============  ===============  ===============
statistic        NEST 3.10        cortex_gpu
===============  ===============  ===============
E rate           54.74 +- 27.65   57.00 +- 16.84
weight mean      47.674 +- 1.691  47.598 +- 1.116
weight std       0.586 +- 0.272   0.560 +- 0.142
===============  ===============  ===============

Two-sample t-tests: p = 0.83, 0.91, 0.79. The static network (E->E made
static) agrees as closely over 28 seeds per side (E rate over 0-150 ms
23.7 +- 4.2 against 24.3 +- 5.1 spikes/s, burst period 35 ms in both).
Cost of this test: ~1.5-2 min on 2 cores.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.nest, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
SCALE = 0.1
T_PRESIM_MS = 50.0
T_SIM_MS = 100.0
SEEDS = (1, 2, 3, 4)
WEIGHT_SOURCES = 50
#: Half of NEST's seed-to-seed sd over seeds 1-10 (module docstring).
MARGIN = {"E rate (1/s)": 0.5 * 27.65, "weight mean (pA)": 0.5 * 1.691, "weight std (pA)": 0.5 * 0.272}


def _statistics(run: dict) -> list[float]:
    x = run["extra"]
    return [run["rates_hz"][0], x["weight_sources_mean_pA"], x["weight_sources_std_pA"]]


def _nest_runs() -> list[dict]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env.setdefault("OMP_WAIT_POLICY", "passive")
    cmd = [sys.executable, str(REPO / "bench" / "nest_hpc_benchmark.py"), "--scale", str(SCALE), "--t-presim",
           str(T_PRESIM_MS), "--t-sim", str(T_SIM_MS), "--seed", ",".join(map(str, SEEDS)), "--threads", "1",
           "--record", "all", "--weights", "--weight-sources", str(WEIGHT_SOURCES)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"NEST peer failed:\n{proc.stderr[-3000:]}"
    return [json.loads(ln) for ln in proc.stdout.splitlines() if ln.startswith("{")]


def test_hpc_benchmark_statistics_match_nest():
    if importlib.util.find_spec("nest") is None:
        pytest.skip("nest-simulator is not installed")
    from bench.hpc_benchmark import run_cortex_hpc
    with ThreadPoolExecutor(max_workers=1) as pool:
        nest_future = pool.submit(_nest_runs)
        ours = np.array([_statistics(run_cortex_hpc(SCALE, t_presim_ms=T_PRESIM_MS, t_sim_ms=T_SIM_MS, seed=s,
                                                    threads=1, weight_sources=WEIGHT_SOURCES).to_dict())
                         for s in SEEDS])
        nest_runs = nest_future.result()
    nest = np.array([_statistics(r) for r in nest_runs])
    assert nest.shape == ours.shape == (len(SEEDS), 3)
    names = list(MARGIN)
    table = "\n".join(f"{name:17s} NEST {np.round(nest[:, i], 3).tolist()}  ours {np.round(ours[:, i], 3).tolist()}"
                      f"  (ours' median {np.median(ours[:, i]):.3f}, "
                      f"NEST {nest[:, i].min():.3f}..{nest[:, i].max():.3f}"
                      f" +- {MARGIN[name]:.3f})" for i, name in enumerate(names))
    print(f"\nhpc_benchmark scale {SCALE}, ({T_PRESIM_MS:g}, {T_PRESIM_MS + T_SIM_MS:g}] ms, seeds {SEEDS}\n{table}")
    for who, r in (("NEST", nest), ("ours", ours)):
        alive = (r[:, 0] > 1.0) & (r[:, 0] < 300.0) & (r[:, 2] > 0.0)
        assert np.count_nonzero(~alive) <= 1, f"{who}: more than one silent, runaway or unlearning run\n{table}"
    for i, name in enumerate(names):
        low, high = nest[:, i].min() - MARGIN[name], nest[:, i].max() + MARGIN[name]
        assert low <= np.median(ours[:, i]) <= high, f"{name}: ours outside NEST's spread\n{table}"
