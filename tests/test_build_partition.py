"""Local construction (I1, I2, I3, I5, I6): the same synapses for any partition, worker count
and section size; each rank holds only synapses onto its own posts; layout invariants."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import synapse_table

from cortex_gpu.build import build_local
from cortex_gpu.distributions import Normal, Redraw, Uniform
from cortex_gpu.engine import Simulation
from cortex_gpu.network import Network
from cortex_gpu.partition import make_partition

H = 0.1


def _network() -> Network:
    """Every rule, several populations and models, drawn weights and delays, a spike source."""
    net = Network(H)
    e = net.add_population("iaf_psc_exp", 150, {"V_m": Uniform(-70.0, -60.0)}, name="E")
    i = net.add_population("iaf_psc_alpha", 37, {"V_m": -65.0, "I_e": 10.0}, name="I")
    sg = net.add_population("spike_generator", 5, spike_times_ms=[[1.0, 2.0]] * 5, name="SG")
    e2 = net.add_population("iaf_psc_exp", 53, {"V_m": -70.0}, name="E2")
    d_exc = Redraw(Normal(1.5, 0.75), low=0.1)
    net.connect(e, e, "fixed_indegree", indegree=12, weight=Normal(20.0, 2.0), delay=d_exc)
    net.connect(i, e, "fixed_indegree", indegree=9, allow_multapses=False, allow_autapses=False,
                weight=Redraw(Normal(-80.0, 8.0), high=0.0), delay=Redraw(Normal(0.75, 0.375), low=0.1))
    net.connect(e, i, "pairwise_bernoulli", p=0.2, weight=Uniform(5.0, 15.0), delay=2.0)
    net.connect(i, i, "pairwise_bernoulli", p=0.3, allow_autapses=False, weight=-3.0, delay=0.5)
    net.connect(i, e2, "fixed_total_number", N=700, weight=-5.0, delay=Uniform(0.1, 3.0))
    net.connect(sg, i, "all_to_all", weight=100.0, delay=1.0)
    net.connect(e.gids[:53][::-1], e2, "one_to_one", weight=np.linspace(1.0, 2.0, 53),
                delay=np.arange(1, 54) * H)
    return net


@pytest.fixture(scope="module")
def net():
    return _network()


@pytest.fixture(scope="module")
def reference(net):
    part = make_partition(net, 1)
    g = build_local(net, part, 0, seed=42)
    return g, synapse_table([g])


def test_reference_build_is_nontrivial(net, reference):
    g, table = reference
    n_neurons = 150 + 37 + 53
    assert g.neurons.gids.size == n_neurons
    assert table.shape[0] > 2500
    assert np.unique(table[:, 2]).size > 10  # many delays


@pytest.mark.parametrize("strategy", ["round_robin", "contiguous", "area_processes"])
@pytest.mark.parametrize("n_ranks", [2, 4])
@pytest.mark.parametrize("tile_size", [16, 1024])
def test_partition_gives_same_synapses(net, reference, strategy, n_ranks, tile_size):
    g1, table1 = reference
    part = make_partition(net, n_ranks, strategy, tile_size=tile_size)
    graphs = [build_local(net, part, r, seed=42) for r in range(n_ranks)]
    if tile_size == 16:  # tiles really interleave: some rank owns non-adjacent tiles
        assert any(np.any(np.diff(part.local_gids(r)) > 1) for r in range(n_ranks))
    all_gids = []
    for r, g in enumerate(graphs):
        np.testing.assert_array_equal(g.neurons.gids, part.local_gids(r))
        all_gids.append(g.neurons.gids)
        s = g.layout.synapses(g.neurons.gids)
        # each rank holds only synapses onto its own posts
        assert np.all(part.owner(s["target"]) == r)
        assert np.all(np.isin(s["target"], g.neurons.gids))
    all_gids = np.sort(np.concatenate(all_gids))
    np.testing.assert_array_equal(all_gids, g1.neurons.gids)
    # union over ranks == the one-rank build, as a multiset
    np.testing.assert_array_equal(synapse_table(graphs), table1)
    # initial state is keyed by gid too
    v = np.concatenate([g.neurons.V_m for g in graphs])[np.argsort(np.concatenate([g.neurons.gids
                                                                                  for g in graphs]))]
    np.testing.assert_array_equal(v, g1.neurons.V_m)


@pytest.mark.parametrize("n_workers", [1, 2, 3])
@pytest.mark.parametrize("section_size", [7, 64, None])
def test_workers_and_sections_give_same_synapses(net, reference, n_workers, section_size):
    _, table1 = reference
    part = make_partition(net, 1)
    g = build_local(net, part, 0, seed=42, n_workers=n_workers, section_size=section_size)
    if section_size is not None:
        assert g.layout.section_size == section_size
        assert g.layout.n_sections == -(-g.neurons.gids.size // section_size)
    _check_layout(g)
    np.testing.assert_array_equal(synapse_table([g]), table1)


def test_sections_and_ranks_combined(net, reference):
    _, table1 = reference
    part = make_partition(net, 3, "round_robin", tile_size=16)
    graphs = [build_local(net, part, r, seed=42, n_workers=2, section_size=5) for r in range(3)]
    for g in graphs:
        _check_layout(g)
    np.testing.assert_array_equal(synapse_table(graphs), table1)


def test_different_seed_gives_different_synapses(net, reference):
    _, table1 = reference
    g = build_local(net, make_partition(net, 1), 0, seed=43)
    t = synapse_table([g])
    assert t.shape != table1.shape or not np.array_equal(t, table1)


# -------------------------------------------------------------- layout invariants
def _check_layout(g) -> None:
    L = g.layout
    n_local = g.neurons.gids.size
    n_syn = L.n_synapses
    m, D = L.min_delay, L.max_delay
    n_seg = L.n_sections * L.n_pre
    # segment table: size, ends, monotone
    assert L.seg_off.size == n_seg + 1
    assert L.seg_off[0] == 0 and L.seg_off[-1] == n_syn
    assert np.all(np.diff(L.seg_off) >= 0)
    # relative run table: one entry per delay above the minimum, narrow when segments are short
    assert L.delay_off.size == n_seg * (D - m)
    longest = int(np.diff(L.seg_off).max()) if n_seg else 0
    assert L.delay_off.dtype == (np.uint16 if longest < 65536 else np.uint32)
    rel = L.delay_off.reshape(n_seg, D - m).astype(np.int64)
    assert np.all(np.diff(rel, axis=1) >= 0)
    assert np.all(rel[:, -1] <= np.diff(L.seg_off)) if D > m else True
    # pre table
    assert np.all(np.diff(L.pre_gids) > 0)
    np.testing.assert_array_equal(L.pre_index[L.pre_gids], np.arange(L.n_pre))
    others = np.setdiff1d(np.arange(int(L.pre_gids.max(initial=0)) + 100), L.pre_gids)
    assert np.all(L.pre_index[others] == -1)
    seg = np.repeat(np.arange(n_seg), np.diff(L.seg_off))
    pre = seg % L.n_pre
    section = seg // L.n_pre
    delay = L.synapse_delays()
    # every listed pre has at least one synapse here
    assert np.all(np.bincount(pre, minlength=L.n_pre) > 0)
    # run bounds agree with the expanded delays
    for s_ in range(0, n_seg, max(1, n_seg // 50)):
        for d in range(m, D + 1):
            a, b = L.run(s_ // L.n_pre, s_ % L.n_pre, d)
            assert L.seg_off[s_] <= a <= b <= L.seg_off[s_ + 1]
            assert np.all(delay[a:b] == d)
    # delays in [m, D], sorted inside each segment; min/max are the actual extremes
    if n_syn:
        assert delay.min() == m and delay.max() == D
        same_seg = seg[1:] == seg[:-1]
        assert not np.any(same_seg & (np.diff(delay) < 0))
    # posts inside each (section, pre, delay) run are sorted, and lie in their section
    post = L.syn_post.astype(np.int64)
    run_key = seg * (D + 1) + delay
    same_run = run_key[1:] == run_key[:-1]
    assert not np.any(same_run & (np.diff(post) < 0))
    assert np.all(post < L.section_size)
    assert np.all(section * L.section_size + post < n_local)
    # indegrees from the layout match the expanded synapses
    np.testing.assert_array_equal(L.indegrees(n_local),
                                  np.bincount(section * L.section_size + post, minlength=n_local))
    np.testing.assert_array_equal(g.indegree, L.indegrees(n_local))   # counted in pass 1


def test_layout_invariants_reference(reference):
    _check_layout(reference[0])


def test_layout_delays_match_network_bounds(net, reference):
    g, table = reference
    # all delays of the network lie in [0.1, inf) ms -> >= 1 step; the one_to_one goes to 5.3 ms
    assert table[:, 2].min() >= 1
    assert table[:, 2].max() >= 53
    assert g.layout.max_delay == int(table[:, 2].max())


def test_bytes_per_synapse_at_most_8_float32():
    """I5 on a 100k-synapse network with float32 weights (hpc_benchmark-like delays)."""
    net = Network(H)
    pop = net.add_population("iaf_psc_exp", 1000)
    net.connect(pop, pop, "fixed_indegree", indegree=100, weight=Normal(20.0, 2.0), delay=1.5)
    g = build_local(net, make_partition(net, 1), 0, seed=1, weight_dtype=np.float32)
    L = g.layout
    assert L.n_synapses >= 100_000
    assert L.syn_post.dtype == np.uint16 and L.syn_weight.dtype == np.float32
    expected = (L.syn_post.nbytes + L.syn_weight.nbytes + L.seg_off.nbytes + L.delay_off.nbytes
                + L.pre_index.nbytes + L.pre_gids.nbytes)
    assert L.nbytes == expected
    print(f"bytes/synapse (float32, 1000 x K=100, d=1.5 ms): {L.bytes_per_synapse:.3f}")
    assert L.bytes_per_synapse <= 8.0
    g64 = build_local(net, make_partition(net, 1), 0, seed=1, weight_dtype=np.float64)
    assert g64.layout.bytes_per_synapse == pytest.approx(L.bytes_per_synapse + 4.0)
    # the engine reports the same number after build
    rep = Simulation(net, seed=1).build()
    assert rep.bytes_per_synapse == pytest.approx(L.bytes_per_synapse)
    assert rep.n_synapses == L.n_synapses


def test_bytes_per_synapse_at_most_8_with_delay_spread():
    net = Network(H)
    pop = net.add_population("iaf_psc_exp", 2000)
    net.connect(pop, pop, "fixed_indegree", indegree=100, weight=Normal(20.0, 2.0),
                delay=Redraw(Normal(1.5, 0.75), low=H))
    L = build_local(net, make_partition(net, 1), 0, seed=1, weight_dtype=np.float32).layout
    assert L.n_synapses >= 100_000
    print(f"bytes/synapse (float32, 2000 x K=100, PD14 delays): {L.bytes_per_synapse:.3f}")
    assert L.bytes_per_synapse <= 8.0


# ------------------------------------------------------------- ownership map (I1)
@pytest.mark.parametrize("threads", [1, 2])
def test_worker_ranges_partition_local_posts(net, threads):
    sim = Simulation(net, seed=42, threads=threads)
    sim.build()
    lo, hi = sim._lo, sim._hi
    n = sim.graph.neurons.gids.size
    assert lo.size == hi.size == threads
    assert lo[0] == 0 and hi[-1] == n
    assert np.all(lo <= hi)
    np.testing.assert_array_equal(lo[1:], hi[:-1])   # contiguous and disjoint
    cover = np.zeros(n, np.int64)
    for a, b in zip(lo, hi):
        cover[a:b] += 1
    assert np.all(cover == 1)
    if threads > 1:  # work is actually shared
        assert np.all(hi - lo > 0)


def test_worker_ranges_tiny_network():
    net = Network(H)
    net.add_population("iaf_psc_exp", 1)
    sim = Simulation(net, seed=1, threads=2)
    sim.build()
    cover = np.zeros(1, np.int64)
    for a, b in zip(sim._lo, sim._hi):
        assert a <= b
        cover[a:b] += 1
    assert np.all(cover == 1)
    sim.run(1.0)


# ------------------------------------------------------ default initial state
def test_multi_rank_build_with_default_initial_state():
    net = Network(H)
    pop = net.add_population("iaf_psc_exp", 32, {"E_L": np.linspace(-75.0, -65.0, 32)})
    part = make_partition(net, 2, "round_robin", tile_size=16)
    for r in range(2):
        g = build_local(net, part, r, seed=1)
        np.testing.assert_array_equal(g.neurons.V_m, np.linspace(-75.0, -65.0, 32)[g.neurons.gids - pop.first])


def _vm_flags(address: int) -> list[str] | None:
    """VmFlags of the mapping holding ``address`` (Linux /proc/self/smaps), None elsewhere."""
    import re
    from pathlib import Path
    smaps = Path("/proc/self/smaps")
    if not smaps.exists():
        return None
    inside = False
    for line in smaps.read_text().splitlines():
        m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) ", line)
        if m:
            inside = int(m.group(1), 16) <= address < int(m.group(2), 16)
        elif inside and line.startswith("VmFlags:"):
            return line.split()[1:]
    return None


def test_small_page_arrays_opt_out_of_huge_pages():
    """The build's synapse arrays carry the no-huge-page hint (Linux) and behave as plain arrays."""
    from cortex_gpu.memory import empty_small_pages
    a = empty_small_pages(1 << 22, np.float32)
    assert a.shape == (1 << 22,) and a.dtype == np.float32 and a.flags.writeable and a.flags.c_contiguous
    flags = _vm_flags(a.ctypes.data + a.nbytes // 2)
    if flags is not None:
        assert "nh" in flags, flags
    a[:] = 1.5
    assert float(a.sum()) == 1.5 * (1 << 22)


def test_expected_tile_synapses_match_the_build(net, reference):
    """The rule-based estimate the partition and planner use agrees with the drawn synapses:
    exactly for fixed counts, within 4 standard deviations for pairwise_bernoulli."""
    from cortex_gpu.partition import expected_tile_synapses
    g, _ = reference
    part = make_partition(net, 1, tile_size=16)
    expected = expected_tile_synapses(net, part.tile_start, part.tile_stop)
    first = np.searchsorted(g.neurons.gids, part.tile_start)
    observed = np.add.reduceat(g.indegree, first)
    assert expected.sum() == pytest.approx(observed.sum(), abs=4 * np.sqrt(expected.sum()))
    # tiles of E (gids 0..149) get fixed indegrees only: 12 + 9 per post
    e_tiles = part.tile_stop <= 150
    np.testing.assert_array_equal(observed[e_tiles], expected[e_tiles])
