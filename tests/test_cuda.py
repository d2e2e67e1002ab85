"""The CUDA backend on a GPU: bit identity with the CPU backend, determinism, memory refusal (I3, I8).

Marker ``gpu``; skipped, with the reason :func:`cortex_gpu.backends.cuda_available`
gives, where CuPy sees no GPU. ``pytest -m gpu -x -q`` runs them all; the same
cases run without a GPU through the kernel emulation in test_cuda_emulated.py.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cortex_gpu import Network, Simulation
from cortex_gpu.backends import cuda_available
from cuda_cases import (assert_same, assert_same_as_cpu, assert_same_layouts, build_zoo, delta_network, hpc_small,
                        pd14_small, ranks_command, run_case, single_neuron, small_network, stdp_parrots)

_OK, _WHY = cuda_available()
pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not _OK, reason=_WHY or "no usable GPU")]
ROOT = Path(__file__).resolve().parents[1]


def test_philox_header_on_the_gpu():
    """kernels/philox.cuh on the device gives numba's words (tests/test_philox.py's reference)."""
    import cupy
    from cortex_gpu.backends import cuda
    from test_philox import selftest_reference
    want = selftest_reference()
    mod = cupy.RawModule(code=cuda.kernel_source("philox_selftest.cu"), options=cuda.nvrtc_options())
    out = cupy.zeros(len(want), cupy.uint64)
    mod.get_function("cg_philox_selftest")((1,), (1,), (out,))
    assert [int(x) for x in out.get()] == want


@pytest.mark.parametrize("case, kw", [(build_zoo, {}), (build_zoo, {"section_size": 37}), (stdp_parrots, {}),
                                      (hpc_small, {}), (lambda: pd14_small(0.05, 0.1), {})])
def test_construction_on_the_gpu_equals_the_cpu_build(case, kw):
    """Every layout array drawn and sorted on the device equals the CPU build's, bit for bit (CuPy's sort,
    the kernels' draws in device arithmetic)."""
    from cortex_gpu.backends.cuda_build import build_local_device
    from cortex_gpu.build import build_local
    from cortex_gpu.partition import make_partition
    net = case()
    part = make_partition(net, 1, "round_robin")
    assert_same_layouts(build_local(net, part, 0, 7, n_workers=os.cpu_count() or 1, **kw),
                        build_local_device(net, part, 0, 7, **kw))


@pytest.mark.parametrize("model", ["iaf_psc_exp", "iaf_psc_alpha"])
def test_single_neuron_dc_and_poisson(model):
    cpu = run_case(single_neuron(model), "cpu", runs=(200.0,))
    gpu = run_case(single_neuron(model), "cuda", runs=(200.0,))
    assert cpu["spike_gids"].size > 5
    assert_same(cpu, gpu)


def test_iaf_psc_delta_network():
    """iaf_psc_delta (jumps, V_min, refractory_input's buffer) on the GPU equals the CPU bit for bit."""
    cpu = run_case(delta_network(), "cpu", runs=(150.0, 50.0))
    gpu = run_case(delta_network(), "cuda", runs=(150.0, 50.0))
    assert cpu["spike_gids"].size > 100
    assert_same(cpu, gpu)


@pytest.mark.parametrize("kw", [{}, {"section_size": 37}, {"weight_dtype": "float64"}])
def test_small_random_network(kw):
    cpu = run_case(small_network(), "cpu", runs=(150.0, 0.0, 100.0), **kw)
    gpu = run_case(small_network(), "cuda", runs=(150.0, 0.0, 100.0), **kw)
    assert cpu["spike_gids"].size > 100
    assert_same(cpu, gpu)


def test_pd14_reduced_one_second():
    cpu = run_case(pd14_small(0.05, 0.1), "cpu", runs=(1000.0,), threads=os.cpu_count() or 1)
    gpu = run_case(pd14_small(0.05, 0.1), "cuda", runs=(1000.0,))
    assert cpu["spike_gids"].size > 10_000
    assert_same(cpu, gpu)


def test_stdp_through_parrots():
    """Plastic synapses from parrots with multiplicity and from a spike_generator with repeated times
    (a synapse due twice in a step: __match_any_sync on the synapse, peers applied in lane order)."""
    cpu = run_case(stdp_parrots(), "cpu", runs=(150.0, 100.0))
    gpu = run_case(stdp_parrots(), "cuda", runs=(150.0, 100.0))
    assert cpu["spike_gids"].size > 500 and np.ptp(cpu["plastic_weights"]) > 50.0
    assert_same(cpu, gpu)


def test_hpc_benchmark_small():
    """hpc_benchmark at scale 0.05 for 300 ms: spikes, state and every plastic weight bit for bit."""
    cpu = run_case(hpc_small(0.05), "cpu", runs=(100.0, 200.0), threads=os.cpu_count() or 1)
    gpu = run_case(hpc_small(0.05), "cuda", runs=(100.0, 200.0))
    assert cpu["spike_gids"].size > 1000 and np.ptp(cpu["plastic_weights"]) > 0.1
    assert_same(cpu, gpu)


def test_hpc_benchmark_lost_history_raises_as_on_the_cpu():
    """post_history=2: the GPU stops with the message of a CPU run of one step per call (see the
    emulated test of the same name for why one step)."""
    msgs = []
    for backend, step_ms in (("cuda", 200.0), ("cpu", 0.1)):
        sim = Simulation(hpc_small(0.05), seed=11, backend=backend, post_history=2)
        with pytest.raises(RuntimeError, match="post_history=2") as err:
            for _ in range(round(200.0 / step_ms)):
                sim.run(step_ms)
        msgs.append(str(err.value))
    assert msgs[0] == msgs[1]


def test_parrot_over_max_copies_raises():
    net = Network(0.1)
    g = net.add_population("spike_generator", 1, spike_times_ms=[[5.0] * 17])
    parrot = net.add_population("parrot_neuron", 1)
    net.connect(g.gids, parrot.gids, weight=1.0, delay=0.1)
    net.connect(parrot.gids, net.add_population("iaf_psc_exp", 1).gids, weight=1.0, delay=1.0)
    with pytest.raises(ValueError, match="more spikes in one step than it can repeat"):
        Simulation(net, backend="cuda").run(10.0)


def test_same_seed_twice_identical():
    a = run_case(pd14_small(), "cuda", runs=(300.0,))
    b = run_case(pd14_small(), "cuda", runs=(300.0,))
    assert_same(a, b)
    c = run_case(pd14_small(), "cuda", seed=12, runs=(300.0,))
    assert not np.array_equal(a["spike_steps"], c["spike_steps"])


def test_graph_replay_equals_kernel_by_kernel():
    """The captured graphs and the per-kernel timed path are the same computation."""
    a = run_case(small_network(), "cuda", runs=(100.0,))
    sim = Simulation(small_network(), seed=11, backend="cuda")
    sim.build()
    split = sim._cuda.run(1000, timed_steps=1000)
    assert split["steps"] == 1000 and split["deliver_ms"] > 0 and split["update_ms"] > 0
    assert np.array_equal(sim.all_spikes()[0], a["spike_gids"])
    assert np.array_equal(sim.state("V_m"), a["state_V_m"])


def test_model_larger_than_device_memory_is_refused():
    """~4e10 synapses (~240 GB) fail before anything is drawn or allocated, naming needed and free bytes."""
    import cupy
    from cortex_gpu.backends.cuda import DeviceMemoryError
    net = Network(0.1)
    pop = net.add_population("iaf_psc_exp", 200_000)
    net.connect(pop.gids, pop.gids, "fixed_indegree", indegree=200_000, weight=1.0, delay=1.0)
    free_before = cupy.cuda.runtime.memGetInfo()[0]
    sim = Simulation(net, backend="cuda")
    with pytest.raises(DeviceMemoryError, match=r"needs [\d,]+ bytes of GPU memory .* but [\d,]+ bytes are free"):
        sim.build()
    assert sim.graph is None
    assert cupy.cuda.runtime.memGetInfo()[0] >= free_before - (64 << 20)


def test_cli_cuda_run_matches_cpu(tmp_path):
    """`cortex-gpu run --backend cuda` writes the same spikes as the CPU backend."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    outs = {}
    for backend in ("cpu", "cuda"):
        out = tmp_path / backend
        proc = subprocess.run([sys.executable, "-m", "cortex_gpu.cli", "run", "microcircuit", "--scale", "0.02",
                               "--t-sim", "200", "--t-presim", "50", "--seed", "5", "--backend", backend,
                               "--out", str(out)], capture_output=True, text=True, env=env, timeout=900)
        assert proc.returncode == 0, proc.stderr
        outs[backend] = out
    s = json.loads((outs["cuda"] / "summary.json").read_text())
    assert s["backend"] == "cuda"
    assert "construction on the GPU is not built" in proc.stderr
    a = (outs["cpu"] / "spikes-rank00000.bin").read_bytes()
    b = (outs["cuda"] / "spikes-rank00000.bin").read_bytes()
    assert len(a) > 0 and a == b


# ------------------------------------------------------------------ many ranks (backends/cuda_ranks.py)
_MPIEXEC = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which("mpiexec")
needs_mpiexec = pytest.mark.skipif(_MPIEXEC is None, reason="no mpiexec (pip install mpich)")


def _mpi_env() -> dict:
    return dict(os.environ, NUMBA_NUM_THREADS="1",
                PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))


@needs_mpiexec
@pytest.mark.mpi
@pytest.mark.parametrize("case, n_ranks, runs", [("windowed", 2, "333.3,0,200"), ("windowed", 4, "333.3"),
                                                 ("pd14", 2, "1000"), ("pd14", 4, "500")])
def test_many_ranks_sharing_the_gpu_match_the_cpu_on_one_rank(tmp_path, case, n_ranks, runs):
    """2 and 4 ranks on this machine's GPU(s) (local rank % devices), host-staged or CUDA-aware as
    'auto' finds the MPI library: spikes, V_m and counts equal the CPU backend's on one rank."""
    out = tmp_path / "r.npz"
    proc = subprocess.run(ranks_command(_MPIEXEC, n_ranks, out, case, runs), capture_output=True, text=True,
                          env=_mpi_env(), timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = assert_same_as_cpu(out, case, runs)
    import cupy
    n_dev = cupy.cuda.runtime.getDeviceCount()
    assert all(i["runner"] == "CudaWindowRunner" and i["device"] == i["local_rank"] % n_dev for i in info)
    print([(i["rank"], i["device"], i["mode_note"]) for i in info])


@needs_mpiexec
@pytest.mark.mpi
def test_explicit_cuda_aware_follows_the_library(tmp_path):
    """--comm cuda-aware runs (and matches the CPU) where the MPI library says it is CUDA-aware, and
    fails naming the library's answer where it says no (the mpich wheel)."""
    code = ("from mpi4py import MPI; from cortex_gpu.comm import mpi_cuda_support; "
            "print(repr(mpi_cuda_support(MPI)))")      # in its own process: MPI_Init stays out of pytest's
    query = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_mpi_env(), timeout=120)
    assert query.returncode == 0, query.stderr
    ok, how = eval(query.stdout)
    out = tmp_path / "r.npz"
    proc = subprocess.run(ranks_command(_MPIEXEC, 2, out, "windowed", "100", "--comm", "cuda-aware"),
                          capture_output=True, text=True, env=_mpi_env(), timeout=900)
    if ok:
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert all(i["mode"] == "cuda-aware" for i in assert_same_as_cpu(out, "windowed", "100"))
    else:
        assert proc.returncode != 0 and "the MPI library is not CUDA-aware" in proc.stderr, how
