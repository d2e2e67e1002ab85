"""The CUDA backend on 2 and 4 MPI ranks without a GPU: kernels emulated on the CPU, real MPI (I3, I7).

Each rank runs ``cortex_gpu/backends/cuda_ranks.py`` against the stand-in
for CuPy (tests/cuda_emulator), launched by ``mpiexec -n N``
(tests/cuda_ranks_script.py); its spikes, final V_m and spike counts must
equal the CPU backend's on one rank bit for bit. Also here: how ``--comm``
is chosen from what the MPI library says, and which GPU each local rank
gets. What the emulation cannot show (CuPy, NVRTC, warp primitives, a real
CUDA-aware MPI) is for the ``gpu`` twins in tests/test_cuda.py.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from cortex_gpu import Network, Simulation
from cortex_gpu.comm import choose_mode, mpi_cuda_support
from cuda_cases import CASES, assert_same_as_cpu, ranks_command

pytest.importorskip("mpi4py", reason="mpi4py is not installed (pip install 'cortex_gpu[mpi]')")
MPIEXEC = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which("mpiexec")
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ENV = {**os.environ, "NUMBA_NUM_THREADS": "1",
       "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
needs_mpiexec = pytest.mark.skipif(MPIEXEC is None, reason="no mpiexec (pip install mpich)")


def run_ranks(n_ranks: int, out: Path, case: str, lib: Path, *extra: str, runs: str) -> None:
    proc = subprocess.run(ranks_command(MPIEXEC, n_ranks, out, case, runs, *extra, emulator=lib),
                          capture_output=True, text=True, env=ENV, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]


# ------------------------------------------------------------------ bit identity under mpiexec
@needs_mpiexec
@pytest.mark.mpi
@pytest.mark.parametrize("case, n_ranks, runs, extra, n_devices", [
    # windows of 5 steps, a 3-step window at the end of the first run, a run of 0 ms between
    ("windowed", 2, "33.3,0,20", (), 1),
    ("windowed", 4, "33.3,0,20", ("--exchange", "allgather", "--no-overlap"), 2),
    ("pd14", 2, "300", (), 1),
    ("delta", 2, "100", (), 1),    # iaf_psc_delta, 1-step windows
    ("generators", 2, "60,40", (), 1),   # every generator kind, 5-step windows
    ("pd14", 4, "300", (), 1),
])
def test_spikes_equal_the_cpu_on_one_rank(emulator_lib, tmp_path, case, n_ranks, runs, extra, n_devices):
    out = tmp_path / "r.npz"
    run_ranks(n_ranks, out, case, emulator_lib, "--devices", str(n_devices), *extra, runs=runs)
    info = assert_same_as_cpu(out, case, runs)
    assert [i["rank"] for i in info] == list(range(n_ranks))
    for i in info:
        assert i["runner"] == "CudaWindowRunner" and i["windows"] > 0
        assert i["device"] == i["local_rank"] % n_devices                  # local rank -> GPU, round robin
        assert f"on GPU {i['device']} of {n_devices}" in i["note"]
        assert i["mode"] == "host" and "MPIX_Query_cuda_support() = 0" in i["mode_note"]  # the mpich wheel
    if case == "windowed":
        assert info[0]["window"] == 5 and info[0]["windows"] == 66 + 1 + 40
    gaps = np.array(info[0]["launch_gaps"])
    assert gaps.size == info[0]["windows"]
    if "--no-overlap" in extra:          # each exchange completes as soon as it is posted
        assert np.all(gaps == 0)
    else:   # graph A (window_begin, gather_due and deliver per step) runs before the wait, except for the
            # exchange that completes at the end of each run
        n_runs = len([t for t in runs.split(",") if float(t) > 0])
        assert np.count_nonzero(gaps == 0) == n_runs
        assert gaps[gaps > 0].min() >= 1 + 2 * min(info[0]["window"], 3)


@needs_mpiexec
@pytest.mark.mpi
def test_cuda_aware_path_hands_device_arrays_to_mpi(emulator_lib, tmp_path):
    """With the library counted as CUDA-aware, send and receive buffers are (fake) device arrays that
    mpi4py reads through __cuda_array_interface__; the spikes stay the same."""
    out = tmp_path / "r.npz"
    run_ranks(2, out, "windowed", emulator_lib, "--comm", "cuda-aware", "--force-cuda-aware", runs="33.3,0,20")
    info = assert_same_as_cpu(out, "windowed", "33.3,0,20")
    assert all(i["mode"] == "cuda-aware" for i in info)


@needs_mpiexec
@pytest.mark.mpi
def test_explicit_cuda_aware_on_a_library_without_cuda_fails_naming_why(emulator_lib, tmp_path):
    cmd = [MPIEXEC, "-n", "2", sys.executable, str(HERE / "cuda_cli_script.py"), str(emulator_lib), "1", "run",
           "microcircuit", "--scale", "0.02", "--t-sim", "1", "--t-presim", "0", "--backend", "cuda",
           "--comm", "cuda-aware", "--out", str(tmp_path / "run")]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=300)
    assert proc.returncode != 0
    assert "--comm cuda-aware: the MPI library is not CUDA-aware" in proc.stderr
    assert "MPIX_Query_cuda_support() = 0" in proc.stderr and "use --comm host" in proc.stderr


@needs_mpiexec
@pytest.mark.mpi
def test_multi_area_cli_on_two_ranks(emulator_lib, tmp_path):
    """`cortex-gpu run multi_area --backend cuda` on 2 ranks (one shared fake GPU) writes the CPU's spikes
    and reports each rank's GPU and the comm mode."""
    from cortex_gpu.io import read_spikes
    args = ["run", "multi_area", "--areas", "4", "--scale", "0.02", "--t-sim", "200", "--t-presim", "0",
            "--threads", "1"]
    cpu = subprocess.run([sys.executable, "-m", "cortex_gpu.cli", *args, "--backend", "cpu", "--out",
                          str(tmp_path / "cpu")], capture_output=True, text=True, env=ENV, timeout=300)
    assert cpu.returncode == 0, cpu.stderr[-3000:]
    proc = subprocess.run([MPIEXEC, "-n", "2", sys.executable, str(HERE / "cuda_cli_script.py"), str(emulator_lib),
                           "1", *args, "--backend", "cuda", "--out", str(tmp_path / "gpu")],
                          capture_output=True, text=True, env=ENV, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    a, b = read_spikes(tmp_path / "cpu", with_steps=True), read_spikes(tmp_path / "gpu", with_steps=True)
    assert a["senders"].size > 300
    np.testing.assert_array_equal(a["senders"], b["senders"])
    np.testing.assert_array_equal(a["t_steps"], b["t_steps"])
    s = json.loads((tmp_path / "gpu" / "summary.json").read_text())
    assert s["backend"] == "cuda" and s["n_ranks"] == 2 and s["comm"] == "host"
    assert [r["device"] for r in s["ranks"]] == [f"rank {r} of 2 (local rank {r} of 2) on GPU 0 of 1, shared by up "
                                                 "to 2 ranks" for r in range(2)]
    assert "comm host-staged: the MPI library is not CUDA-aware" in proc.stderr


# ------------------------------------------------------------------ comm mode and device choice
def test_choose_mode():
    yes, no = (True, "asked"), (False, "asked")
    assert choose_mode("auto", "cuda", yes)[0] == "cuda-aware"
    assert choose_mode("auto", "cuda", no) == ("host", "host-staged: the MPI library is not CUDA-aware (asked)")
    assert choose_mode("auto", "cpu", yes)[0] == "host"
    assert choose_mode("host", "cuda", yes)[0] == "host"
    assert choose_mode("cuda-aware", "cuda", yes)[0] == "cuda-aware"
    with pytest.raises(RuntimeError, match=r"not CUDA-aware \(asked\), so it cannot read or write GPU memory"):
        choose_mode("cuda-aware", "cuda", no)
    with pytest.raises(ValueError, match="needs the cuda backend; this run uses the cpu backend"):
        choose_mode("cuda-aware", "cpu", yes)


def test_cuda_support_query_prefers_mpi4py_then_the_library():
    """mpi4py's Query_cuda_support when it has one; else MPIX_Query_cuda_support of the loaded library."""
    fake = types.SimpleNamespace(Get_library_version=lambda: "Some MPI 9.9\nmore", Query_cuda_support=lambda: True)
    assert mpi_cuda_support(fake) == (True, "Some MPI 9.9: MPI.Query_cuda_support() = True")
    code = ("from mpi4py import MPI; from cortex_gpu.comm import mpi_cuda_support; "
            "print(repr(mpi_cuda_support(MPI)))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=120)
    assert proc.returncode == 0, proc.stderr
    ok, how = eval(proc.stdout)
    assert ok is False and "MPIX_Query_cuda_support() = 0" in how     # the mpich wheel: no CUDA


def test_local_rank_maps_to_a_device_round_robin(fake_gpus):
    from cortex_gpu.backends.cuda_ranks import device_note, select_device
    for local_rank in range(7):
        assert select_device(local_rank) == (local_rank % 3, 3)
        assert fake_gpus._env.device == local_rank % 3 and fake_gpus.cuda.Device().id == local_rank % 3
    assert device_note(5, 8, 1, 4, 1, 3) == "rank 5 of 8 (local rank 1 of 4) on GPU 1 of 3, shared by up to 2 ranks"
    assert device_note(0, 2, 0, 2, 0, 3) == "rank 0 of 2 (local rank 0 of 2) on GPU 0 of 3"


def test_one_rank_keeps_the_current_device_and_reports_it(fake_gpus):
    from cortex_gpu.backends.cuda_ranks import select_device
    fake_gpus.cuda.Device(2).use()
    assert select_device(0, n_ranks=1) == (2, 3)
    sim = Simulation(CASES["small"](), backend="cuda")
    assert "rank 0 of 1 (local rank 0 of 1) on GPU 2 of 3" in str(sim.build())
    assert type(sim._cuda).__name__ == "CudaRunner"


class _StubComm:
    """Two ranks, CUDA-aware, as far as Simulation's constructor looks."""
    size, rank, local_rank, local_size, exchange = 2, 0, 0, 2, "neighbour"

    def __init__(self):
        self.mode, self.mode_note = "cuda-aware", "asked"

    def set_mode(self, mode, note=""):
        self.mode, self.mode_note = mode, note


def test_cuda_aware_comm_falls_back_to_host_with_the_cpu_backend():
    """A model that 'auto' runs on the CPU (plastic synapses on several ranks) gets host-staged MPI."""
    net = Network(0.1)
    a = net.add_population("iaf_psc_exp", 4)
    net.connect(a.gids, a.gids, weight=1.0, delay=1.0, synapse_model="stdp_pl_synapse_hom")
    comm = _StubComm()
    sim = Simulation(net, backend="auto", comm=comm)
    assert sim.backend == "cpu" and comm.mode == "host" and "cpu backend" in comm.mode_note
