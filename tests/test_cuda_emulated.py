"""The CUDA backend without a GPU: its Python code and its kernels' logic, run on the CPU.

``cortex_gpu/backends/cuda.py`` runs unchanged against a stand-in for CuPy
(``tests/cuda_emulator/fake_cupy.py``) whose kernel launches are checked
against the kernels' signatures and executed by a serial emulation of each
kernel (``tests/cuda_emulator/emulator.cpp``) built from the kernels' own
host+device helpers. Results must equal the CPU backend's bit for bit.

Not covered here (see tests/test_cuda.py, marker gpu): warp shuffles,
ballots, __match_any_sync, block scans, memory ordering, CuPy and NVRTC.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

from cortex_gpu import Network, Simulation
from cortex_gpu.backends import cuda
from cuda_cases import (assert_same, delta_network, generator_network, hpc_small, pd14_small, run_case, single_neuron,
                        small_network,
                        stdp_parrots)


@pytest.mark.parametrize("model", ["iaf_psc_exp", "iaf_psc_alpha"])
def test_single_neuron_dc_and_poisson(fake_cupy, model):
    cpu = run_case(single_neuron(model), "cpu", runs=(150.0,))
    gpu = run_case(single_neuron(model), "cuda", runs=(150.0,))
    assert cpu["spike_gids"].size > 5
    assert_same(cpu, gpu)
    assert fake_cupy._env.launches > 4 * 1500           # the kernels really ran, step by step


def test_iaf_psc_delta_network(fake_cupy):
    """iaf_psc_delta: jumps, V_min, refractory_input's buffer (kept in the I_ex slot) bit for bit."""
    cpu = run_case(delta_network(), "cpu", runs=(60.0, 40.0))
    gpu = run_case(delta_network(), "cuda", runs=(60.0, 40.0))
    assert cpu["spike_gids"].size > 100
    assert_same(cpu, gpu)


@pytest.mark.parametrize("kw", [{}, {"section_size": 37}, {"weight_dtype": "float64"}])
def test_small_network(fake_cupy, kw):
    """Sections of 37 posts: delivery blocks end at section ends, several runs per spike."""
    cpu = run_case(small_network(), "cpu", runs=(60.0, 0.0, 40.0), **kw)
    gpu = run_case(small_network(), "cuda", runs=(60.0, 0.0, 40.0), **kw)
    assert cpu["spike_gids"].size > 100
    assert_same(cpu, gpu)


def test_small_network_posts_per_warp(fake_cupy, monkeypatch):
    """Blocks of 5 posts: many warps, blocks that cut runs in the middle (binary searches at both ends)."""
    monkeypatch.setattr(cuda, "default_posts_per_warp", lambda n, n_sm: 5)
    cpu = run_case(small_network(), "cpu", runs=(80.0,))
    gpu = run_case(small_network(), "cuda", runs=(80.0,))
    assert gpu["_sim"]._cuda.posts_per_warp == 5
    assert_same(cpu, gpu)


def test_pd14_reduced(fake_cupy):
    cpu = run_case(pd14_small(), "cpu", runs=(300.0,))
    gpu = run_case(pd14_small(), "cuda", runs=(300.0,))
    assert cpu["spike_gids"].size > 500
    assert_same(cpu, gpu)


@pytest.mark.parametrize("model, sign", [("stdp_pl_synapse_hom", 1.0), ("stdp_synapse", 1.0),
                                         ("stdp_synapse_hom", 1.0), ("stdp_synapse", -1.0)])
def test_stdp_through_parrots(fake_cupy, monkeypatch, model, sign):
    """Plastic synapses from parrots that repeat spikes with multiplicity, and from a spike_generator
    with repeated times: spikes, final weights and state bit for bit; two runs (the device state
    kept, the host's copied back in between), chunks of 256 steps. Every rule; the pair rule
    also with inhibitory (negative) Wmax and weights."""
    monkeypatch.setattr(cuda, "CHUNK_STEPS", 256)
    cpu = run_case(stdp_parrots(model=model, sign=sign), "cpu", runs=(150.0, 100.0))
    gpu = run_case(stdp_parrots(model=model, sign=sign), "cuda", runs=(150.0, 100.0))
    assert cpu["spike_gids"].size > (500 if sign > 0 else 300)     # inhibitory plastic input: fewer
    assert np.ptp(cpu["plastic_weights"]) > 50.0              # the weights learned
    assert_same(cpu, gpu)
    for name in ("kplus", "tlast", "hist_t", "hist_k", "hist_n", "last_t", "last_k"):   # the traces too
        a, b = getattr(cpu["_sim"]._S, name), getattr(gpu["_sim"]._S, name)
        assert np.array_equal(a.view(np.int64) if a.dtype == np.float64 else a,
                              b.view(np.int64) if b.dtype == np.float64 else b), name
    launched = fake_cupy._env.launched
    assert launched["deliver_count_u16"] == launched["deliver_stdp_u16"] == launched["merge_step"] == 2500


def test_parrot_copies_enter_the_ring(fake_cupy):
    """Coinciding and repeated generator spikes make parrot spikes of multiplicity > 1: the pre
    appears that many times in its ring slot, as on the CPU."""
    net = stdp_parrots()
    sims = {b: Simulation(net, seed=11, backend=b) for b in ("cpu", "cuda")}
    parrot_pres = sims["cpu"].graph.layout.pre_index[net.populations[1].gids] if sims["cpu"].build() else None
    most = {}
    for b, sim in sims.items():
        most[b] = 0
        for _ in range(250):
            sim.run(0.1)
            R = sim._R
            slot = (sim.step - 1) % R.count.size
            entries = R.pre[slot, :R.count[slot]]
            most[b] = max(most[b], max((int(np.count_nonzero(entries == p)) for p in parrot_pres), default=0))
    assert most["cpu"] >= 2 and most["cuda"] == most["cpu"]


def test_parrot_over_max_copies_raises_as_on_the_cpu(fake_cupy):
    """A parrot asked to repeat more than PARROT_MAX_COPIES spikes in one step: the same ValueError."""
    net = Network(0.1)
    g = net.add_population("spike_generator", 1, spike_times_ms=[[5.0] * 17])
    parrot = net.add_population("parrot_neuron", 1)
    post = net.add_population("iaf_psc_exp", 1)
    net.connect(g.gids, parrot.gids, weight=1.0, delay=0.1)
    net.connect(parrot.gids, post.gids, weight=1.0, delay=1.0)
    for backend in ("cpu", "cuda"):
        with pytest.raises(ValueError, match=r"more spikes in one step than it can repeat"):
            Simulation(net, backend=backend).run(10.0)


def test_hpc_benchmark_tiny(fake_cupy):
    """hpc_benchmark at scale 0.05 (450 E, 112 I, 11,250 synapses per neuron, E->E plastic) for 200 ms:
    every spike and every final plastic weight bit for bit."""
    cpu = run_case(hpc_small(0.05), "cpu", runs=(200.0,))
    gpu = run_case(hpc_small(0.05), "cuda", runs=(200.0,))
    assert cpu["spike_gids"].size > 1000
    assert np.ptp(cpu["plastic_weights"]) > 0.1        # some weights moved
    assert_same(cpu, gpu)


def test_hpc_benchmark_lost_history_raises_as_on_the_cpu(fake_cupy):
    """A post history of 2 spikes is too short: the cuda backend stops with the CPU's message.

    Which neuron is named first can depend on the window: the CPU appends a window's post spikes
    after its m steps (15 here), the GPU after every step, and the extra newer spikes can push a
    needed one out of a history of 2 earlier. Run one step per call (m = 1), the CPU names the
    neuron the GPU names; in windows of m steps the CPU notices at most one window later."""
    def stop(backend, step_ms):
        sim = Simulation(hpc_small(0.05), seed=11, backend=backend, post_history=2)
        with pytest.raises(RuntimeError, match=r"spiked more than post_history=2 times") as err:
            for _ in range(round(200.0 / step_ms)):
                sim.run(step_ms)
        return str(err.value), sim._m * sim.h

    gpu, _ = stop("cuda", 200.0)
    assert gpu == stop("cpu", 0.1)[0]
    cpu, window_ms = stop("cpu", 200.0)
    t_gpu, t_cpu = (float(re.search(r"checked at ([\d.]+) ms", m).group(1)) for m in (gpu, cpu))
    assert t_gpu <= t_cpu < t_gpu + window_ms


def test_short_chunks_and_timed_steps(fake_cupy, monkeypatch):
    """Chunks cut short by the recording budget, a remainder chunk, and the per-kernel timed path
    continue the simulation exactly."""
    monkeypatch.setattr(cuda, "CHUNK_STEPS", 64)
    monkeypatch.setattr(cuda, "RECORD_BUDGET_BYTES", 16 * 200 * 5)
    cpu = run_case(small_network(), "cpu", runs=(33.3, 50.0))
    sim = run_case(small_network(), "cuda", runs=(33.3,))["_sim"]
    assert sim._cuda._chunk_steps() < 64
    split = sim._cuda.run(500, timed_steps=20)
    assert split["steps"] == 20 and set(split) >= {"gather_ms", "deliver_ms", "update_ms", "merge_ms"}
    gids, steps = sim.all_spikes()
    assert np.array_equal(gids, cpu["spike_gids"]) and np.array_equal(steps, cpu["spike_steps"])
    assert np.array_equal(sim.state("V_m").view(np.int64), cpu["state_V_m"].view(np.int64))


def test_generators_equal_the_cpu(fake_cupy):
    """step_current, ac, noise and sinusoidal_poisson (both trains) bit for bit; runs of 30, 0 and 25 ms
    carry the rows already emitted (longest delay 2 ms) into the next run's table."""
    cpu = run_case(generator_network(), "cpu", runs=(30.0, 0.0, 25.0))
    gpu = run_case(generator_network(), "cuda", runs=(30.0, 0.0, 25.0))
    assert cpu["spike_gids"].size > 100
    assert_same(cpu, gpu)


def test_set_generator_between_runs(fake_cupy):
    def run(backend):
        sim = Simulation(single_neuron(), seed=3, backend=backend)
        sim.run(40.0)
        sim.set_generator(0, {"rate": 30000.0})
        sim.set_generator(2, {"amplitude": -50.0})
        sim.run(40.0)
        return sim.all_spikes(), sim.state("V_m")
    (g1, s1), v1 = run("cpu")
    (g2, s2), v2 = run("cuda")
    assert np.array_equal(g1, g2) and np.array_equal(s1, s2) and np.array_equal(v1, v2)


def test_launch_options_and_interface(fake_cupy):
    """Every kernel file is compiled without FMA contraction, and every launch matched its signature
    (the stand-in raises on a wrong count, dtype or scalar width)."""
    run_case(small_network(), "cuda", runs=(5.0,))
    assert len(fake_cupy._env.modules) == len(cuda.KERNEL_FILES) + 1     # and construct.cu, for the build
    for m in fake_cupy._env.modules:
        assert "--fmad=false" in m.options
        assert not re.search(r'#include\s+"', m.code)          # headers pasted in (CuPy's cache key)


def test_device_memory_refused_before_build(fake_cupy):
    """A model whose planner estimate exceeds the free memory fails before any synapse is drawn (I8)."""
    fake_cupy._env.free_bytes = cuda.RESERVE_BYTES + 1000     # room for 1000 bytes beyond the reserve
    sim = Simulation(small_network(), backend="cuda")
    with pytest.raises(cuda.DeviceMemoryError, match=r"needs [\d,]+ bytes of GPU memory .* but [\d,]+ bytes are free"):
        sim.build()
    assert sim.graph is None


def test_device_memory_refused_after_host_build(fake_cupy, monkeypatch):
    """The exact check on the built arrays also refuses, before any device array exists (the device
    construction's own check: tests/test_cuda_build_emulated.py)."""
    monkeypatch.setattr(cuda, "precheck_device_memory", lambda *args, **kwargs: 0)
    fake_cupy._env.free_bytes = cuda.RESERVE_BYTES + 1000
    sim = Simulation(small_network(), backend="cuda", construction="host")
    n_before = len(fake_cupy._env.modules)
    with pytest.raises(cuda.DeviceMemoryError, match="the built model"):
        sim.build()
    assert len(fake_cupy._env.modules) == n_before     # nothing compiled or uploaded


def test_unsupported_models(fake_cupy):
    net = Network(0.1)
    net.add_population("iaf_cond_exp", 3)
    with pytest.raises(NotImplementedError, match="iaf_cond_exp is not built on the cuda backend"):
        Simulation(net, backend="cuda")
    assert Simulation(net, backend="auto").backend == "cpu"
    for model in ("iaf_cond_alpha", "iaf_cond_exp_sfa_rr", "aeif_cond_exp", "aeif_cond_alpha"):   # the other RKF45 models, alone, mixed
        for mixed in (False, True):
            net = Network(0.1)
            net.add_population(model, 3)
            if mixed:
                net.add_population("iaf_psc_exp", 2)
            with pytest.raises(NotImplementedError, match=f"{model} is not built on the cuda backend"):
                Simulation(net, backend="cuda")
            assert Simulation(net, backend="auto").backend == "cpu"
    # several ranks: static synapses run (tests/test_cuda_ranks_emulated.py); plastic ones and parrots do not
    assert cuda.unsupported_reason(small_network(), 4) is None
    plastic = Network(0.1)
    a = plastic.add_population("iaf_psc_exp", 4)
    plastic.connect(a.gids, a.gids, weight=1.0, delay=1.0, synapse_model="stdp_pl_synapse_hom")
    with pytest.raises(NotImplementedError, match=r"plastic synapses \(stdp_pl_synapse_hom\) on several ranks"):
        Simulation(plastic, backend="cuda", n_ranks=2)
    assert Simulation(plastic, backend="auto", n_ranks=2).backend == "cpu"
    parrots = Network(0.1)
    parrots.add_population("parrot_neuron", 2)
    assert "parrot_neuron on several ranks are not built" in cuda.unsupported_reason(parrots, 2)


def test_gpu_benchmark_runs_in_emulation(fake_cupy, monkeypatch, tmp_path):
    """bench/gpu_microcircuit.py end to end on a tiny PD14 (a GPU session must not find its bugs): the
    record names the device construction and its phases, the step split and the synaptic events."""
    from pathlib import Path
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1]))
    from bench.gpu_microcircuit import run_gpu_microcircuit
    rec = run_gpu_microcircuit(0.01, 0.05, t_presim_ms=10.0, t_sim_ms=20.0, split_steps=20)
    r = rec["result"]
    extra = r["extra"]
    assert extra["construction_on"] == "device"
    assert extra["construction"]["warm_device_build_s"] > 0
    assert {"count", "fill", "sort", "copy_back_s"} <= set(extra["construction"]["graph_phases_s"])
    assert {"delivery", "update", "merge", "overhead", "host"} <= set(extra["step_us"])
    assert r["rtf"] > 0 and extra["synaptic_events"] > 0
    assert extra["layout_device_bytes_per_synapse"] > 6.0   # post index + float32 weight + tables
