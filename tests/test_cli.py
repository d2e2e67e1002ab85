"""Tests of the cortex-gpu command line, run in a subprocess as a user would run it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cortex_gpu.backends import cuda_available
from cortex_gpu.io import read_spikes, read_spikes_metadata
from cortex_gpu.models.microcircuit import POPULATIONS, microcircuit_parameters

ROOT = Path(__file__).resolve().parents[1]
SCALE, T_SIM_MS, T_PRESIM_MS, SEED = 0.02, 100.0, 20.0, 4242
TINY = ["--scale", str(SCALE), "--t-sim", str(T_SIM_MS), "--t-presim", str(T_PRESIM_MS),
        "--threads", "1", "--seed", str(SEED)]


def run_cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``python -m cortex_gpu.cli ARGS`` with this checkout first on the path.

    Output is decoded by hand: text mode would turn the progress bar's
    carriage returns into newlines.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    proc = subprocess.run([sys.executable, "-m", "cortex_gpu.cli", *args], capture_output=True,
                          timeout=timeout, env=env, stdin=subprocess.DEVNULL)
    return subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode(), proc.stderr.decode())


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "mc"
    proc = run_cli("run", "microcircuit", *TINY, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return out, proc


def test_summary_fields_and_types(recorded):
    out, _ = recorded
    s = json.loads((out / "summary.json").read_text())
    types = {"model": str, "backend": str, "version": str, "date": str, "drive": str,
             "n_neurons": int, "n_synapses": int, "seed": int, "threads": int, "n_spikes": int,
             "build_s": float, "sim_s": float, "rtf": float, "bytes_per_synapse": float,
             "peak_rss_mb": float, "scale": float, "t_sim_ms": float, "t_presim_ms": float,
             "resolution_ms": float, "rates_hz": dict, "host": dict}
    for key, typ in types.items():
        assert isinstance(s[key], typ), (key, s.get(key))
    p = microcircuit_parameters(SCALE, SCALE)
    assert s["model"] == "microcircuit" and s["backend"] == "cpu"
    assert s["n_neurons"] == p.n_neurons
    assert s["n_synapses"] == p.n_synapses
    assert (s["seed"], s["threads"], s["scale"], s["drive"]) == (SEED, 1, SCALE, "poisson")
    assert (s["t_sim_ms"], s["t_presim_ms"], s["resolution_ms"]) == (T_SIM_MS, T_PRESIM_MS, 0.1)
    assert list(s["rates_hz"]) == list(POPULATIONS)
    assert s["build_s"] > 0 and s["sim_s"] > 0 and s["peak_rss_mb"] > 0
    assert s["rtf"] == pytest.approx(s["sim_s"] / (T_SIM_MS * 1e-3))
    assert 0 < s["bytes_per_synapse"] < 100
    assert {"hostname", "platform", "python", "cpu_count"} <= set(s["host"])


def test_spikes_agree_with_summary_rates(recorded):
    out, proc = recorded
    s = json.loads((out / "summary.json").read_text())
    spikes = read_spikes(out)
    senders, times = spikes["senders"], spikes["times"]
    assert senders.size == s["n_spikes"] > 0
    assert senders.min() >= 0 and senders.max() < s["n_neurons"]
    assert times.min() > 0 and times.max() <= T_PRESIM_MS + T_SIM_MS + 1e-9
    steps = times / 0.1
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-6)     # on the time grid
    # Recompute the rates over the t-sim part from the file and the model's sizes.
    sizes = microcircuit_parameters(SCALE, SCALE).num_neurons
    first = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    window = (times > T_PRESIM_MS) & (times <= T_PRESIM_MS + T_SIM_MS)
    for k, name in enumerate(POPULATIONS):
        mine = window & (senders >= first[k]) & (senders < first[k] + sizes[k])
        rate = np.count_nonzero(mine) / (sizes[k] * T_SIM_MS * 1e-3)
        assert s["rates_hz"][name] == pytest.approx(rate, rel=1e-12, abs=1e-12), name
        assert f"{rate:.3f}" in proc.stdout      # the printed table shows the same rate
    # A network in its asynchronous state: some but not all populations silent is fine,
    # a silent network or a runaway one is not.
    mean_rate = np.count_nonzero(window) / (sizes.sum() * T_SIM_MS * 1e-3)
    assert 0.1 < mean_rate < 50
    meta = read_spikes_metadata(out)
    assert meta["n_ranks"] == 1 and meta["seed"] == SEED
    assert meta["gid_ranges"][0] == [0, int(sizes[0])]


def test_spike_file_matches_an_in_process_run(recorded):
    """The file holds exactly what the engine records for the same seed (sorted by time, sender)."""
    from cortex_gpu import Simulation
    from cortex_gpu.models.microcircuit import microcircuit
    out, _ = recorded
    net, info = microcircuit(SCALE, SCALE, drive="poisson")
    sim = Simulation(net, seed=SEED, threads=1, backend="cpu")
    sim.run(T_PRESIM_MS + T_SIM_MS)
    ev = sim.spike_events(info["recorder"])
    order = np.lexsort((ev["senders"], ev["times"]))
    got = read_spikes(out)
    np.testing.assert_array_equal(got["senders"], ev["senders"][order])
    np.testing.assert_array_equal(got["times"], ev["times"][order])


def test_progress_and_raster(recorded):
    out, proc = recorded
    assert "\r" in proc.stderr and "RTF" in proc.stderr
    assert f"{T_SIM_MS:.1f}/{T_SIM_MS:.1f} ms" in proc.stderr
    png = (out / "raster.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_record_none_writes_no_spikes(tmp_path):
    out = tmp_path / "none"
    out.mkdir()
    for stale in ("spikes.json", "spikes-rank00003.bin", "raster.png"):   # left by an earlier run
        (out / stale).write_text("old")
    proc = run_cli("run", "microcircuit", *TINY, "--drive", "dc", "--record", "none", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert not list(out.glob("spikes*")) and not (out / "raster.png").exists()
    s = json.loads((out / "summary.json").read_text())
    assert s["record"] == "none" and s["drive"] == "dc"
    assert s["sim_s"] > 0


def test_record_none_rates_from_counters_equal_recorded_rates(tmp_path):
    """Without recording, rates come from the engine's spike counters: equal to the recorded ones."""
    runs = {}
    for record in ("none", "spikes"):
        out = tmp_path / record
        proc = run_cli("run", "microcircuit", *TINY, "--drive", "poisson", "--record", record, "--out", str(out))
        assert proc.returncode == 0, proc.stderr
        runs[record] = json.loads((out / "summary.json").read_text())["rates_hz"]
    assert runs["none"].keys() == runs["spikes"].keys()
    assert sum(runs["spikes"].values()) > 0
    for name, rate in runs["spikes"].items():
        assert runs["none"][name] == pytest.approx(rate, rel=1e-12, abs=0.0), name


@pytest.mark.skipif(cuda_available()[0], reason="a usable GPU is present")
def test_cuda_without_gpu_fails_clearly(tmp_path):
    proc = run_cli("run", "microcircuit", *TINY, "--backend", "cuda", "--out", str(tmp_path / "c"))
    assert proc.returncode != 0
    assert "GPU" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "c" / "summary.json").exists()


@pytest.mark.parametrize("args, message", [
    (["--scale", "2"], "--scale: must be in (0, 1]"),
    (["--scale", "x"], "--scale: not a number"),
    (["--t-sim", "-5"], "--t-sim: must be > 0"),
    (["--drive", "ac"], "--drive: invalid choice"),
    (["--backend", "tpu"], "--backend: invalid choice"),
    (["--threads", "0"], "--threads: must be >= 1"),
    (["--seed", "-1"], "--seed: must be in [0, 2**32)"),
])
def test_bad_arguments_exit_2(args, message):
    proc = run_cli("run", "microcircuit", *args)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_unknown_model_and_off_grid_time(tmp_path):
    proc = run_cli("run", "brunel")
    assert proc.returncode == 2 and "invalid choice" in proc.stderr
    proc = run_cli("run", "microcircuit", "--t-sim", "10.05", "--out", str(tmp_path / "g"))
    assert proc.returncode == 1
    assert "not a multiple of the resolution" in proc.stderr and "Traceback" not in proc.stderr


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "cortex-gpu"
    if not script.exists():
        pytest.skip("cortex-gpu is not installed in this environment (pip install -e .)")
    proc = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.startswith("cortex_gpu ")


HPC = ["--scale", "0.05", "--t-presim", "50", "--t-sim", "60", "--threads", "1", "--seed", "3"]


def test_hpc_benchmark_reports_rates_and_plastic_weights(tmp_path):
    """``run hpc_benchmark``: E and I rates and the learned weights' mean and std, as an in-process run has them."""
    from cortex_gpu import Simulation
    from cortex_gpu.models.hpc_benchmark import hpc_benchmark, hpc_parameters
    out = tmp_path / "hpc"
    proc = run_cli("run", "hpc_benchmark", *HPC, "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    s = json.loads((out / "summary.json").read_text())
    p = hpc_parameters(0.05)
    assert (s["model"], s["n_neurons"], s["n_synapses"]) == ("hpc_benchmark", p.n_neurons, p.n_synapses)
    assert s["t_presim_ms"] == 50.0 and list(s["rates_hz"]) == ["E", "I"]
    pw = s["plastic_weights"]
    assert (pw["synapse_model"], pw["n_synapses"]) == ("stdp_pl_synapse_hom_hpc", p.n_plastic)
    assert pw["initial_pA"] == p.JE_pA and pw["std_pA"] > 0
    assert f"mean {pw['mean_pA']:.4f} pA, std {pw['std_pA']:.4f} pA" in proc.stdout
    net, info = hpc_benchmark(0.05, record_spikes=False)
    sim = Simulation(net, seed=3, threads=1)
    sim.run(50.0)
    before = sim.spike_counts()
    sim.run(60.0)
    counts, gids = sim.spike_counts() - before, sim.local_gids
    for name, (a, b) in zip(("E", "I"), info["gid_ranges"]):
        rate = counts[(gids >= a) & (gids < b)].sum() / ((b - a) * 0.06)
        assert s["rates_hz"][name] == pytest.approx(rate, rel=1e-12, abs=1e-12)
        assert f"{rate:.3f}" in proc.stdout
    c = sim.connections()
    w = c["weight"][c["synapse_model"] == "stdp_pl_synapse_hom_hpc"]
    assert pw["mean_pA"] == pytest.approx(w.mean(), rel=1e-12) and pw["std_pA"] == pytest.approx(w.std(), rel=1e-8)
    assert s["rates_hz"]["E"] > 0


def test_hpc_benchmark_scales_beyond_one_and_rejects_bad_ones(tmp_path):
    proc = run_cli("plan", "hpc_benchmark", "--scale", "10", "--ranks", "1", "--threads", "2", "--record", "none",
                   "--memory-per-rank", "24", "--json", str(tmp_path / "plan.json"))
    assert proc.returncode == 0, proc.stderr
    plan = json.loads((tmp_path / "plan.json").read_text())
    total_gb = plan["ranks"][0]["total_bytes"] / 1e9
    # 8.1e8 plastic synapses at 10 bytes and 4.6e8 static ones at 6, plus the build's transients
    assert 10.8 < total_gb < 20 and plan["fits"], total_gb
    proc = run_cli("run", "hpc_benchmark", "--scale", "0")
    assert proc.returncode == 2 and "--scale: must be > 0" in proc.stderr
    proc = run_cli("run", "microcircuit", "--scale", "10")
    assert proc.returncode == 2 and "must be in (0, 1] for microcircuit" in proc.stderr
    proc = run_cli("run", "hpc_benchmark", *HPC, "--drive", "dc", "--out", str(tmp_path / "dc"))
    assert proc.returncode == 1 and "Poisson drive only" in proc.stderr and "Traceback" not in proc.stderr
    proc = run_cli("run", "hpc_benchmark", *HPC, "--post-history", "2", "--out", str(tmp_path / "ph"))
    assert proc.returncode == 1 and "raise post_history" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.mpi
def test_hpc_benchmark_weights_are_the_same_on_two_ranks(tmp_path):
    """Each rank sums its own plastic weights and the sums are reduced: rates and statistics match one rank."""
    import shutil
    mpiexec = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which("mpiexec")
    if mpiexec is None:
        pytest.skip("no mpiexec (pip install mpich)")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    summaries = []
    for n in (1, 2):
        out = tmp_path / f"r{n}"
        cmd = [sys.executable, "-m", "cortex_gpu.cli", "run", "hpc_benchmark", *HPC, "--record", "none",
               "--out", str(out)]
        proc = subprocess.run(([mpiexec, "-n", "2"] if n == 2 else []) + cmd, capture_output=True, text=True,
                              env=env, timeout=600, stdin=subprocess.DEVNULL)
        assert proc.returncode == 0, proc.stderr[-2000:]
        summaries.append(json.loads((out / "summary.json").read_text()))
    one, two = summaries
    assert two["n_ranks"] == 2 and one["rates_hz"] == two["rates_hz"]
    for key in ("n_synapses", "mean_pA", "std_pA"):
        assert two["plastic_weights"][key] == pytest.approx(one["plastic_weights"][key], rel=1e-12)
