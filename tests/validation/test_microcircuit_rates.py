"""PD14 at 1/10 scale: our population rates lie where NEST 3.10's lie for the same model.

Model: ``microcircuit(N_scaling=0.1, K_scaling=0.1, drive='poisson')``, 7,717
neurons and 2,988,807 synapses, weights scaled by 1/sqrt(0.1) with the DC
compensation of the missing input. 200 ms are simulated and discarded (the
onset transient), then the mean rate of each population is measured over
1,000 ms. NEST runs live, in a subprocess (the benchmark's NEST peer,
``bench/nest_microcircuit.py``), with several seeds; we run several seeds
too. Each simulator draws its own random numbers, so only the statistics
can agree.

Criteria
--------
1. Every rate of both simulators is finite and within 0.1 .. 30 spikes/s
   (a silent or runaway network fails).
2. L23E is the slowest excitatory population in both (PD14's signature low
   layer 2/3 activity; a wrong weight or drive moves it).
3. Per population, our seed-mean differs from NEST's seed-mean by at most
   ``Z = 4`` standard errors of the difference,
   ``sqrt(s_nest**2 / n_nest + s_ours**2 / n_ours)``, a two-sample (Welch)
   comparison of the seed-to-seed distributions. Each seed-to-seed sd ``s``
   is floored at the counting noise of the population's spike count,
   ``sqrt(rate / (N * T))``: with 3-4 seeds an sd estimate can come out
   several times too small by chance (chi-square with 2-3 degrees of
   freedom), and no simulator can resolve a population rate better than its
   spike count allows. At 4 standard errors a correct simulator fails one of
   the 8 comparisons with probability ~5e-4.

Measured when this test was written (2 shared cores, single-threaded runs;
for explanation only, nothing below is used by the test), mean +- sd over
seeds, spikes/s:

=====  ===============  ===============
pop    NEST seeds 1-4   ours seeds 1-3
=====  ===============  ===============
L23E   0.483 +- 0.018   0.483 +- 0.036
L23I   2.131 +- 0.024   2.087 +- 0.098
L4E    3.997 +- 0.041   3.946 +- 0.121
L4I    5.030 +- 0.046   5.007 +- 0.073
L5E    6.710 +- 0.190   6.394 +- 0.428
L5I    7.785 +- 0.030   7.786 +- 0.061
L6E    0.856 +- 0.040   0.825 +- 0.018
L6I    7.025 +- 0.022   6.965 +- 0.097
=====  ===============  ===============

The largest difference (L5E, -4.7 %) is 1.2 standard errors. Our
seed-to-seed sds came out larger than NEST's in several populations; with 3
and 4 seeds that is not significant across all eight, but worth a look with
more seeds.

Cost: NEST ~15 s and ours ~12-20 s per seed at 1 s of model time; NEST's
seeds run in a subprocess while ours run here, one core each.
"""
from __future__ import annotations

import os
import resource
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from cortex_gpu.engine import Simulation
from cortex_gpu.models.microcircuit import POPULATIONS, microcircuit, microcircuit_parameters

pytestmark = [pytest.mark.nest, pytest.mark.slow]

SCALE = 0.1
T_PRESIM_MS = 200.0
T_SIM_MS = 1000.0
NEST_SEEDS = (1, 2, 3, 4)
OUR_SEEDS = (1, 2, 3)
#: Standard errors of the difference allowed between the two seed-means.
Z = 4.0
EXCITATORY = (0, 2, 4, 6)
REPO = Path(__file__).resolve().parents[2]
#: Address space allowed to the Poisson-table check (Python, NumPy and Numba need < 1 GB).
CHECK_MEMORY_BYTES = 2 << 30


def _our_rates(seed: int) -> np.ndarray:
    from bench.report import population_rates_hz
    net, info = microcircuit(SCALE, SCALE, "poisson", record_spikes=True)
    sim = Simulation(net, seed=seed, threads=1)
    sim.run(T_PRESIM_MS + T_SIM_MS)
    ev = sim.spike_events(info["recorder"])
    return np.array(population_rates_hz(ev["senders"], ev["times"], info["gid_ranges"],
                                        T_PRESIM_MS, T_PRESIM_MS + T_SIM_MS))


def _check_poisson_tables_finish(rates_hz: np.ndarray, resolution_ms: float) -> None:
    """Fail fast if our Poisson drive tables cannot be built for these rates.

    Runs in a subprocess limited in time and address space: a table
    computation that does not terminate grows a list without bound and
    would otherwise take the machine's memory before anything fails.
    """
    lams = [float(r) * resolution_ms * 1e-3 for r in rates_hz]
    code = f"from cortex_gpu import philox\nfor lam in {lams!r}:\n    philox.poisson_cdf(lam)\n"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (CHECK_MEMORY_BYTES, CHECK_MEMORY_BYTES))

    try:
        proc = subprocess.run([sys.executable, "-c", code], env=env, preexec_fn=limit_memory,
                              capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"cortex_gpu.philox.poisson_cdf did not finish in 60 s for the per-step means {lams}")
    if proc.returncode != 0:
        pytest.fail(f"cortex_gpu.philox.poisson_cdf failed for the per-step means {lams} of the PD14 "
                    f"drive at scale {SCALE} (a table that never terminates ends in MemoryError):\n"
                    f"{proc.stderr[-1500:]}")


def _sd_floored(x: np.ndarray, counting_sd: np.ndarray) -> np.ndarray:
    return np.maximum(x.std(axis=0, ddof=1), counting_sd)


def test_population_rates_match_nest(nest_worker) -> None:
    p = microcircuit_parameters(SCALE, SCALE, "poisson")
    _check_poisson_tables_finish(p.poisson_rate, p.resolution_ms)
    args = ("--scale", str(SCALE), "--drive", "poisson", "--t-presim", str(T_PRESIM_MS), "--t-sim",
            str(T_SIM_MS), "--threads", "1", "--record")
    with ThreadPoolExecutor(max_workers=1) as pool:
        # NEST's seeds run one after the other in a subprocess, ours meanwhile here.
        nest_runs = pool.submit(lambda: [nest_worker(*args, "--seed", str(s)) for s in NEST_SEEDS])
        ours = np.array([_our_rates(s) for s in OUR_SEEDS])
        nest = np.array([r["rates_hz"] for r in nest_runs.result()])

    table = "\n".join(f"{name:5s} NEST {nest[:, i].mean():7.3f} +- {nest[:, i].std(ddof=1):6.3f}   "
                      f"ours {ours[:, i].mean():7.3f} +- {ours[:, i].std(ddof=1):6.3f}"
                      for i, name in enumerate(POPULATIONS))
    print("\nrates (spikes/s), mean +- sd over seeds\n" + table)

    for who, r in (("NEST", nest), ("ours", ours)):
        assert np.all(np.isfinite(r)), f"{who}: non-finite rates\n{table}"
        assert np.all((r >= 0.1) & (r <= 30.0)), f"{who}: a rate outside 0.1..30 spikes/s\n{table}"
        slowest = EXCITATORY[int(np.argmin(r.mean(axis=0)[list(EXCITATORY)]))]
        assert POPULATIONS[slowest] == "L23E", f"{who}: slowest excitatory is {POPULATIONS[slowest]}\n{table}"

    counting_sd = np.sqrt(nest.mean(axis=0) / (p.num_neurons * T_SIM_MS * 1e-3))
    se = np.sqrt(_sd_floored(nest, counting_sd) ** 2 / len(NEST_SEEDS)
                 + _sd_floored(ours, counting_sd) ** 2 / len(OUR_SEEDS))
    diff = ours.mean(axis=0) - nest.mean(axis=0)
    bad = [f"{POPULATIONS[i]}: ours - NEST = {diff[i]:+.3f} spikes/s, allowed +-{Z * se[i]:.3f}"
           for i in range(len(POPULATIONS)) if abs(diff[i]) > Z * se[i]]
    assert not bad, "rates differ from NEST's:\n" + "\n".join(bad) + "\n" + table
