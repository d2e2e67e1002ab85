"""Construction on the GPU without a GPU: the device builder's layouts equal the CPU build's, bit for bit.

``cortex_gpu/backends/cuda_build.py`` runs unchanged against the CuPy stand-in
(tests/cuda_emulator/fake_cupy.py); its kernels (kernels/construct.cu) run
serially through their host+device helpers (kernels/construct.cuh,
distributions.cuh, philox.cuh). Every array of every synapse group's layout
(pre gids, segment and delay tables, post indices, weights), the indegrees
and the build errors are compared with :func:`cortex_gpu.build.build_local`.
The same comparison on a real GPU is tests/test_cuda.py's (marker gpu).
"""
from __future__ import annotations

import numpy as np
import pytest

from cortex_gpu import Network, Simulation
from cortex_gpu.build import build_local
from cortex_gpu.distributions import Normal, Redraw, Uniform
from cortex_gpu.models import ModelError
from cortex_gpu.partition import make_partition
from cuda_cases import assert_same_layouts, build_zoo, hpc_small, pd14_small, run_case, small_network, stdp_parrots


def _both(net, n_ranks=1, rank=0, **kw):
    from cortex_gpu.backends.cuda_build import build_local_device
    part = make_partition(net, n_ranks, "round_robin")
    host = build_local(net, part, rank, 7, n_workers=2, **kw)
    device = build_local_device(net, part, rank, 7, **kw)
    return host, device


def test_rule_zoo_bit_identical(fake_cupy):
    """Every rule, with and without autapses and multapses, every distribution (bounded too), grid and
    per-connection delays, arrays of weights: one static group."""
    host, device = _both(build_zoo())
    assert host.n_synapses > 20_000
    assert_same_layouts(host, device)
    assert fake_cupy._env.launched["draw_entries"] >= 3       # count, pass A, pass B
    # the first projection's normal weights reach the ziggurat's tail (|z| > 3.654, the slow path)
    w = host.layout.syn_weight.astype(np.float64)
    assert np.count_nonzero(np.abs(w[w > 500.0] - 1000.0) > 365.4) >= 1


@pytest.mark.parametrize("kw", [{"section_size": 37}, {"weight_dtype": np.float64}])
def test_sections_and_float64_weights(fake_cupy, kw):
    host, device = _both(build_zoo(), **kw)
    assert host.layout.n_sections == (6 if "section_size" in kw else 1)
    assert_same_layouts(host, device)


def test_every_group_shares_one_pre_index(fake_cupy):
    """Static, count (onto parrots) and plastic groups; the union of their pres indexes all three."""
    host, device = _both(stdp_parrots())
    assert host.count_layout is not None and host.plastic_layout is not None
    assert_same_layouts(host, device)


@pytest.mark.parametrize("case, n_ranks", [(pd14_small, 1), (pd14_small, 3), (hpc_small, 1)])
def test_model_scale_cases(fake_cupy, case, n_ranks):
    """PD14 (fixed_total_number, one rank and the last of three) and hpc_benchmark (plastic E->E)."""
    host, device = _both(case(), n_ranks=n_ranks, rank=n_ranks - 1)
    assert host.n_synapses > 10_000
    assert_same_layouts(host, device)


def test_delays_drawn_without_a_grid_table(fake_cupy):
    """A delay distribution too wide for a grid table is drawn value by value and rounded, as on the
    CPU; its spread of tens of thousands of steps also takes 32-bit delay-run offsets."""
    net = Network(0.1)
    a = net.add_population("iaf_psc_exp", 60)
    net.connect(a.gids, a.gids, "fixed_indegree", indegree=30, weight=Normal(20.0, 5.0),
                delay=Redraw(Normal(3000.0, 500.0), low=0.1))
    net.connect(a.gids, a.gids, "pairwise_bernoulli", p=0.1, weight=-5.0, delay=Uniform(0.2, 0.9))
    assert net.projections[0].delay.row()[0] == 1.0   # drawn, not a constant
    host, device = _both(net)
    assert host.layout.max_delay - host.layout.min_delay > 20_000
    assert_same_layouts(host, device)


@pytest.mark.parametrize("weight, delay, message", [
    (Redraw(Normal(10.0, 1.0), low=100.0), 1.0, "no value inside its bounds"),
    (10.0, Uniform(6000.0, 7000.0), "exceeds the largest supported delay"),
])
def test_build_errors_are_the_cpu_builds(fake_cupy, weight, delay, message):
    net = Network(0.1)
    a = net.add_population("iaf_psc_exp", 20)
    net.connect(a.gids, a.gids, "fixed_indegree", indegree=5, weight=weight, delay=delay)
    part = make_partition(net, 1, "round_robin")
    from cortex_gpu.backends.cuda_build import build_local_device
    with pytest.raises(ModelError, match=message) as cpu_error:
        build_local(net, part, 0, 7)
    with pytest.raises(ModelError, match=message) as gpu_error:
        build_local_device(net, part, 0, 7)
    assert str(gpu_error.value) == str(cpu_error.value)


def test_device_layout_feeds_the_runner_without_upload(fake_cupy):
    """The cuda backend draws on the device by default; the runner takes the layout's device arrays as
    they are, and the run equals the CPU backend's with the host build."""
    cpu = run_case(small_network(), "cpu", runs=(40.0,))
    gpu = run_case(small_network(), "cuda", runs=(40.0,))
    sim = gpu["_sim"]
    assert sim.construction == "device"
    L = sim.graph.layout
    assert L.device is not None and sim._cuda.d["syn_weight"] is L.device["syn_weight"]
    assert np.array_equal(cpu["spike_gids"], gpu["spike_gids"])
    assert L.host_stale                  # post indices and weights not copied to the host by the run
    conn_gpu, conn_cpu = sim.connections(), cpu["_sim"].connections()
    assert not L.host_stale
    for k in ("source", "target", "weight", "delay"):
        assert np.array_equal(conn_gpu[k], conn_cpu[k]), k
    host = Simulation(small_network(), backend="cuda", construction="host")
    host.build()
    assert host.graph.layout.device is None


def test_construction_option_checks(fake_cupy):
    with pytest.raises(ValueError, match="construction must be one of"):
        Simulation(small_network(), backend="cuda", construction="gpu")
    with pytest.raises(ValueError, match="needs the cuda backend"):
        Simulation(small_network(), backend="cpu", construction="device")


def test_scratch_larger_than_the_device_is_refused(fake_cupy):
    """Before the section scratch is allocated: bytes needed and bytes free in the message."""
    from cortex_gpu.backends.cuda import DeviceMemoryError
    from cortex_gpu.backends.cuda_build import build_local_device
    fake_cupy._env.free_bytes = 1 << 20
    net = build_zoo()
    need = r"construction \(scratch .* needs [\d,]+ bytes .* but 1,048,576 bytes are free"
    with pytest.raises(DeviceMemoryError, match=need):
        build_local_device(net, make_partition(net, 1, "round_robin"), 0, 7)


def _layout_digest(g) -> str:
    import hashlib
    h = hashlib.sha1()
    for lay in g.layouts:
        lay.fetch_host()
        for name in ("pre_gids", "seg_off", "delay_off", "syn_post", "syn_weight"):
            h.update(np.ascontiguousarray(getattr(lay, name)).tobytes())
    h.update(g.indegree.tobytes())
    return h.hexdigest()


@pytest.mark.slow
def test_full_scale_pd14_layout_bit_identical(fake_cupy):
    """Full-scale PD14 (77,169 neurons, ~3e8 synapses, two sections): the device construction's layout
    hashes as the CPU build's. ~2.5 minutes and ~10 GB, most of it the emulated kernels' serial draws
    and NumPy's sort standing in for CuPy's."""
    from cortex_gpu.backends.cuda_build import build_local_device
    from cortex_gpu.models import microcircuit
    net, _ = microcircuit(1.0, 1.0, "poisson", record_spikes=False)
    part = make_partition(net, 1, "round_robin")
    device = build_local_device(net, part, 0, 12345)
    n_syn, want = device.n_synapses, _layout_digest(device)
    del device
    assert n_syn > 2.9e8
    assert _layout_digest(build_local(net, part, 0, 12345, n_workers=2)) == want


def test_memory_checks_count_the_pools_free_blocks(fake_cupy):
    """Blocks CuPy's pool caches free (the construction's scratch after the build) count as free: the
    driver alone reports too little for the scratch, the pool makes up the difference."""
    from cortex_gpu.backends.cuda import RESERVE_BYTES, DeviceMemoryError
    from cortex_gpu.backends.cuda_build import build_local_device
    net = build_zoo()
    part = make_partition(net, 1, "round_robin")
    fake_cupy._env.free_bytes = RESERVE_BYTES + 1000
    with pytest.raises(DeviceMemoryError):
        build_local_device(net, part, 0, 7)
    fake_cupy._env.pool_free_bytes = 1 << 30
    assert build_local_device(net, part, 0, 7).n_synapses > 20_000
