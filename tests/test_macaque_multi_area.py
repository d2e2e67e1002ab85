"""The multi-area model of macaque visual cortex (Schmidt et al. 2018): packaged data, derived numbers,
drawn structure, the NEST twin (bench/nest_macaque_multi_area.py) and rank-count invariance.

Reference values are the model data themselves (``mam_full_scale.json``, the instantiation of the
reference implementation) and NEST 3.10 running the twin in a subprocess (NEST and Numba's OpenMP
runtimes cannot share a process, see tests/validation/conftest.py). Tiny scales keep this CI-sized:
N_scaling 0.002 and K_scaling 0.02 give 8,139 neurons and 961,776 synapses.
"""
from __future__ import annotations

import copy
import importlib.util
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from cortex_gpu.engine import Simulation
from cortex_gpu.models.macaque_multi_area import (AREA_SIDE_MM, DATA_FILE, check_data, load_data,
                                                  macaque_multi_area, macaque_parameters)

REPO = Path(__file__).resolve().parents[1]
TWIN = REPO / "bench" / "nest_macaque_multi_area.py"
N_SCALING, K_SCALING = 0.002, 0.02
SHARED_JSON = REPO.parent.parent / "shared" / "reference" / "mam" / "mam_full_scale.json"


def _nest_twin(*args: str, timeout_s: float = 900.0) -> dict:
    """Run the NEST twin in a fresh process; returns its JSON record."""
    if importlib.util.find_spec("nest") is None:
        pytest.skip("nest-simulator is not installed")
    env = {**os.environ, "OMP_WAIT_POLICY": "passive",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, str(TWIN), *args], env=env, capture_output=True, text=True,
                          timeout=timeout_s)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads([ln for ln in proc.stdout.splitlines() if ln.startswith("{")][-1])


# ------------------------------------------------------------------------------------------------ data
def test_data_ships_in_the_package():
    cfg = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "data/*.json.xz" in cfg["tool"]["setuptools"]["package-data"]["cortex_gpu.models"]
    assert (REPO / "cortex_gpu" / "models" / "data" / DATA_FILE).is_file()
    if SHARED_JSON.is_file():   # the packaged copy is the reference file, losslessly
        assert load_data() == json.loads(SHARED_JSON.read_text())


def test_full_scale_counts_weights_delays_and_drive_are_the_data():
    d = load_data()
    p = macaque_parameters()
    assert p.n_neurons == d["totals"]["neurons_created_sum_floor_per_population"] == 4_129_924
    assert p.n_synapses == d["totals"]["recurrent_synapses_created_sum_floor_per_pair"] == 24_126_516_728
    np.testing.assert_array_equal(p.num_neurons, d["populations"]["N_created"])
    np.testing.assert_array_equal(p.num_synapses, d["connectivity"]["synapse_numbers_created"])
    inter = p.area_of_population[:, None] != p.area_of_population[None, :]
    senders = {p.populations[j].split("-")[1] for j in np.flatnonzero((p.num_synapses * inter).sum(axis=0))}
    assert senders == {"23E", "5E", "6E"}          # MAM.md section 3: only these project to other areas
    for state in ("ground", "metastable"):
        q = macaque_parameters(state=state)
        np.testing.assert_allclose(q.weight_mean, d["weights"]["states"][state]["W_mean_pA"], rtol=1e-14)
        np.testing.assert_allclose(q.weight_ext, d["weights"]["states"][state]["W_ext_pA"], rtol=1e-14)
    area_delay = np.asarray(d["delays"]["inter_area_mean_delay_ms"])
    for i, j in [(0, 8), (8, 0), (253, 0), (20, 250)]:   # between areas: the area pair's mean
        assert p.delay_mean[i, j] == area_delay[p.area_of_population[i], p.area_of_population[j]]
    intra = ~inter
    assert set(p.delay_mean[intra & p.is_excitatory[None, :]]) == {d["delays"]["intra_area_mean_E_source_ms"]}
    assert set(p.delay_mean[intra & ~p.is_excitatory[None, :]]) == {d["delays"]["intra_area_mean_I_source_ms"]}
    np.testing.assert_allclose(p.poisson_rate, d["populations"]["poisson_rate_per_neuron_Hz"], rtol=1e-14)
    assert np.all(p.I_e == 0.0)


def test_chi_overrides_the_state():
    p = macaque_parameters(state="ground", chi=1.9, chi_I=2.0)
    np.testing.assert_allclose(p.weight_mean, macaque_parameters(state="metastable").weight_mean, rtol=1e-14)


@pytest.mark.parametrize("N, K", [(0.01, 1.0), (0.002, 0.02), (1.0, 0.3)])
def test_scaling_keeps_indegrees_or_the_mean_input(N, K):
    """N_scaling: counts scale, indegrees stay. K_scaling: indegrees scale, the mean input at the
    reference rates stays (weights / sqrt(K) plus the DC current)."""
    d = load_data()
    full, p = macaque_parameters(), macaque_parameters(N, K)
    np.testing.assert_array_equal(p.num_neurons, np.floor(np.asarray(d["populations"]["N"]) * N))
    np.testing.assert_array_equal(p.num_synapses,
                                  np.floor(np.asarray(d["connectivity"]["synapse_numbers"]) * (N * K)))
    K_full = np.asarray(d["connectivity"]["K_indegree"])
    indegree = p.num_synapses.sum(axis=1) / p.num_neurons
    big = p.num_neurons >= 50
    np.testing.assert_allclose(indegree[big], K * K_full.sum(axis=1)[big], rtol=0.05)
    tau_s = p.neuron_params["tau_syn_ex"]

    def mean_current(q, k):   # pA: the time-averaged input at the reference rates
        return (1e-3 * tau_s * ((q.weight_mean * k * K_full) @ q.fullscale_rates
                                + q.weight_ext * q.poisson_rate) + q.I_e)
    np.testing.assert_allclose(mean_current(p, K), mean_current(full, 1.0), rtol=1e-12)
    # and the variance of the input (sum of w^2 K nu) is kept by the 1/sqrt(K) weights
    np.testing.assert_allclose((p.weight_mean ** 2 * K * K_full) @ p.fullscale_rates,
                               (full.weight_mean ** 2 * K_full) @ full.fullscale_rates, rtol=1e-12)


def _corrupt(path: str, value):
    d = copy.deepcopy(load_data())
    *head, last = path.split("/")
    x = d
    for k in head:
        x = x[k]
    x[last] = value(x[last])
    return d


@pytest.mark.parametrize("path, value, message", [
    ("connectivity/K_indegree", lambda m: m[:-1], "connectivity/K_indegree' has shape"),
    ("populations/N", lambda v: [-1.0] + v[1:], "populations/N' is negative at (0,)"),
    ("connectivity/synapse_numbers", lambda m: [[float("nan")] + m[0][1:]] + m[1:], "non-finite"),
    ("populations/area", lambda v: ["V99"] + v[1:], "names an area not in 'areas'"),
    ("connectivity/synapse_numbers_created", lambda m: [[0.5] + m[0][1:]] + m[1:], "non-integer"),
])
def test_bad_model_data_fail_before_building_naming_the_entry(path, value, message):
    bad = _corrupt(path, value)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_data(bad)
    with pytest.raises(ValueError, match=path):
        macaque_parameters(0.01, data=bad)


def test_bad_scales_and_states_are_refused():
    with pytest.raises(ValueError, match="leaves population MIP-5I"):
        macaque_parameters(0.0005)
    with pytest.raises(ValueError, match="state must be"):
        macaque_parameters(state="awake")
    with pytest.raises(ValueError, match="K_scaling"):
        macaque_parameters(1.0, 0.0)


# ------------------------------------------------------------------------------------------- structure
@pytest.fixture(scope="module")
def built():
    net, info = macaque_multi_area(N_SCALING, K_SCALING, record_spikes=False)
    sim = Simulation(net, seed=7, threads=1)
    sim.build()
    return net, info, sim.connections()


def _pair_index(info, conns):
    first = np.array([a for a, _ in info["gid_ranges"]])
    pre = np.searchsorted(first, conns["source"], side="right") - 1
    post = np.searchsorted(first, conns["target"], side="right") - 1
    return post, pre


def test_populations_areas_and_positions(built):
    net, info, _ = built
    p = info["params"]
    assert len(net.populations) == len(info["populations"]) == 254
    assert [pop.n for pop in net.populations] == [int(n) for n in p.num_neurons] == info["sizes"]
    for pop, a in zip(net.populations, info["area_of_population"]):
        assert pop.area == info["areas"][a] == pop.name.split("-")[0]
        assert np.all(np.abs(pop.positions - info["area_centres_mm"][a]) <= AREA_SIDE_MM / 2)
    # the centres come from the fibre distances: near areas are near
    c = info["area_centres_mm"]
    dist = np.asarray(load_data()["delays"]["distance_mm"])
    assert np.corrcoef(np.linalg.norm(c[:, None] - c[None], axis=2).ravel(), dist.ravel())[0, 1] > 0.9


def test_drawn_counts_signs_and_laws(built):
    """Exact counts per pair; no synapse with the sign its source forbids; delays >= dt; weights and
    delays follow the stated laws (KS and chi-square at a fixed seed, pooled over pairs)."""
    stats = pytest.importorskip("scipy.stats")
    net, info, conns = built
    p = info["params"]
    post, pre = _pair_index(info, conns)
    counts = np.bincount(post * 254 + pre, minlength=254 * 254).reshape(254, 254)
    np.testing.assert_array_equal(counts, p.num_synapses)
    assert counts.sum() == info["n_synapses"] == 961_776
    w, dl = conns["weight"], conns["delay"]
    exc = p.is_excitatory[pre]
    assert np.all(w[exc] >= 0) and np.all(w[~exc] <= 0)
    assert dl.min() >= p.delay_min - 1e-12
    # weights: (w - mean) / sd is standard normal (the sign bound lies 10 sd away)
    m = p.weight_mean[post, pre]
    z = (w - m) / (np.abs(m) * p.weight_rel_sd)
    assert stats.kstest(z, "norm").pvalue > 1e-3
    # delays of E sources within areas: Normal(1.5, 0.75) redrawn below dt, then rounded to the grid
    h = p.resolution_ms
    sel = (p.area_of_population[post] == p.area_of_population[pre]) & exc
    mu = 1.5
    steps = np.round(dl[sel] / h).astype(int)
    k = np.arange(1, steps.max() + 1)
    law = stats.norm(mu, 0.5 * mu)
    lo = np.maximum((k - 0.5) * h, p.delay_min)
    prob = (law.cdf((k + 0.5) * h) - law.cdf(lo)) / law.sf(p.delay_min)
    observed = np.bincount(steps, minlength=k.size + 1)[1:]
    expected = prob * steps.size
    keep = expected >= 20
    chi2 = ((observed[keep] - expected[keep]) ** 2 / expected[keep]).sum()
    assert stats.chi2.sf(chi2, keep.sum() - 1) > 1e-3
    # inter-area delays: Normal(distance / 3.5 mm/ms, half that) truncated at dt, synapse by synapse
    inter = p.area_of_population[post] != p.area_of_population[pre]
    mu, which = np.unique(p.delay_mean[post, pre][inter], return_inverse=True)   # one law per area pair
    truncated = stats.truncnorm((p.delay_min - mu) / (0.5 * mu), np.inf, loc=mu, scale=0.5 * mu)
    z = (dl[inter] - truncated.mean()[which]) / truncated.std()[which]
    assert abs(z.mean()) < 5 / np.sqrt(z.size) and 0.97 < z.std() < 1.03


@pytest.mark.nest
def test_same_structure_as_the_nest_twin(built):
    """Sizes, counts per pair, I_e and Poisson rates equal NEST's; weight and delay means agree."""
    net, info, conns = built
    p = info["params"]
    theirs = _nest_twin("--N-scaling", str(N_SCALING), "--K-scaling", str(K_SCALING), "--threads", "1",
                        "--seed", "3", "--structure")
    assert theirs["sizes"] == info["sizes"]
    counts = np.asarray(theirs["counts"]).reshape(254, 254)
    np.testing.assert_array_equal(counts, p.num_synapses)
    np.testing.assert_allclose(theirs["I_e"], p.I_e, rtol=1e-12)
    np.testing.assert_allclose(theirs["poisson_rates"], p.poisson_rate, rtol=1e-12)
    post, pre = _pair_index(info, conns)
    flat = post * 254 + pre
    for key in ("weight", "delay"):
        x = conns[key].astype(float)
        ours_sum = np.bincount(flat, weights=x, minlength=254 * 254)
        ours_sq = np.bincount(flat, weights=x * x, minlength=254 * 254)
        n = counts.ravel().astype(float)
        big = n >= 200
        m_o, m_n = ours_sum[big] / n[big], np.asarray(theirs[f"{key}_sum"])[big] / n[big]
        var = np.asarray(theirs[f"{key}_sum_sq"])[big] / n[big] - m_n ** 2
        var_o = ours_sq[big] / n[big] - m_o ** 2
        se = np.sqrt((var + var_o) / n[big]) + 1e-12
        z = (m_o - m_n) / se
        assert np.mean(np.abs(z) < 3) > 0.99, f"{key}: {np.sum(np.abs(z) >= 3)} of {z.size} pairs off"
        assert abs(z.mean()) < 4 / np.sqrt(z.size)                 # no bias over the pairs
        np.testing.assert_allclose(np.sqrt(var_o), np.sqrt(var), rtol=0.25, atol=1e-9)


# ----------------------------------------------------------------------------------------------- ranks
MPIEXEC = None
if importlib.util.find_spec("mpi4py") is not None:
    import shutil
    MPIEXEC = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which("mpiexec")
CLI_ARGS = ["--scale", str(N_SCALING), "--K-scaling", str(K_SCALING), "--t-sim", "100", "--t-presim", "0",
            "--threads", "1"]


def _cli(n_ranks: int, out: Path, *extra: str) -> dict:
    """``cortex-gpu run multi-area-macaque`` on ``n_ranks`` ranks; returns its summary."""
    cmd = [sys.executable, "-m", "cortex_gpu.cli", "run", "multi-area-macaque", *CLI_ARGS, "--out", str(out), *extra]
    if n_ranks > 1:
        cmd = [MPIEXEC, "-n", str(n_ranks), *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "NUMBA_NUM_THREADS": "1"},
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((out / "summary.json").read_text())


@pytest.fixture(scope="module")
def one_rank_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("mam1")
    return out, _cli(1, out)


def test_cli_summary_has_area_and_population_rates(one_rank_run):
    out, s = one_rank_run
    assert s["model"] == "macaque_multi_area" and len(s["rates_hz"]) == 254 and len(s["area_rates_hz"]) == 32
    assert (out / "raster.png").is_file()
    p = macaque_parameters(N_SCALING, K_SCALING)
    assert s["n_neurons"] == p.n_neurons and s["n_synapses"] == p.n_synapses
    sizes = dict(zip(p.populations, p.num_neurons))
    for area, rate in s["area_rates_hz"].items():   # the size-weighted mean of the area's populations
        names = [n for n in p.populations if n.split("-")[0] == area]
        expect = sum(s["rates_hz"][n] * sizes[n] for n in names) / sum(sizes[n] for n in names)
        assert rate == pytest.approx(expect, rel=1e-12)


@pytest.mark.mpi
@pytest.mark.skipif(MPIEXEC is None, reason="no mpi4py/mpiexec")
@pytest.mark.parametrize("n_ranks, strategy", [(2, "round_robin"), (2, "contiguous"), (2, "area_processes"),
                                               (4, "area_processes")])
def test_spikes_identical_on_more_ranks(one_rank_run, tmp_path, n_ranks, strategy):
    from cortex_gpu.io import read_spikes
    out1, s1 = one_rank_run
    s = _cli(n_ranks, tmp_path, "--partition", strategy)
    a, b = read_spikes(out1, with_steps=True), read_spikes(tmp_path, with_steps=True)
    assert a["senders"].size > 1000
    np.testing.assert_array_equal(a["senders"], b["senders"])
    np.testing.assert_array_equal(a["t_steps"], b["t_steps"])
    assert s["rates_hz"] == s1["rates_hz"] and sum(r["n_synapses"] for r in s["ranks"]) == s1["n_synapses"]
