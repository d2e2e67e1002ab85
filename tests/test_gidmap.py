"""Rank-local gid tables: the hash index (cortex_gpu.gidmap) and a rank that keeps nothing sized by the network."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from cortex_gpu import Network, build
from cortex_gpu.engine import Simulation
from cortex_gpu.gidmap import GidIndex, table_shift
from cortex_gpu.partition import make_partition


def test_index_finds_every_gid_and_only_those():
    rng = np.random.default_rng(3)
    gids = np.unique(rng.integers(0, 2 ** 40, 5000))          # beyond int32: cortex-scale gids
    index = GidIndex.of(gids)
    np.testing.assert_array_equal(index[gids], np.arange(gids.size))
    others = np.setdiff1d(rng.integers(0, 2 ** 40, 5000), gids)
    assert np.all(index[others] == -1)
    # a run of consecutive gids
    run = np.arange(10 ** 9, 10 ** 9 + 4096, dtype=np.int64)
    np.testing.assert_array_equal(GidIndex.of(run)[run[::-1]], np.arange(4096)[::-1])
    # gids dense in their span: a direct table over the span, no larger than the hash table
    dense = GidIndex.of(run[::2])
    assert dense.keys.size == 0 and dense.vals.size == 4095
    assert dense[np.array([run[0] - 1, run[1], run[2], run[-1] + 1, 0])].tolist() == [-1, -1, 1, -1, -1]
    # sized by the gids it holds: at most half full, 12 bytes a slot
    cap, _ = table_shift(gids.size)
    assert 2 * gids.size <= cap < 4 * gids.size and index.nbytes == 12 * cap
    assert GidIndex.of(np.zeros(0, np.int64))[np.array([0, 7])].tolist() == [-1, -1]


def _small_share_network(n: int = 300_000) -> tuple[Network, int]:
    """``n`` neurons, each with 4 random pres, recorded, and 5 recorded spike sources; returns the
    network and its size in gids."""
    net = Network(0.1)
    pop = net.add_population("iaf_psc_exp", n)
    src = net.add_population("spike_generator", 5, spike_times_ms=[np.array([1.0, 2.0])] * 5)
    net.connect(pop, pop, "fixed_indegree", indegree=4, weight=20.0, delay=1.5)
    net.connect(src, pop.gids[:2000], "fixed_indegree", indegree=1, weight=5.0, delay=1.0)
    g = net.add_generator("poisson_generator", {"rate": 8000.0})
    net.drive(g, pop.gids[::1000], 10.0, 0.1)
    net.record_spikes(np.concatenate([pop.gids, src.gids]))
    return net, net.n_nodes


def _arrays(obj, path: str, seen: set):
    """Every NumPy array reachable from ``obj`` through dataclasses, named tuples, tuples, lists, dicts."""
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        yield path, obj
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            yield from _arrays(getattr(obj, f.name), f"{path}.{f.name}", seen)
    elif isinstance(obj, tuple) and hasattr(obj, "_fields"):
        for name in obj._fields:
            yield from _arrays(getattr(obj, name), f"{path}.{name}", seen)
    elif isinstance(obj, (tuple, list)):
        for i, v in enumerate(obj):
            yield from _arrays(v, f"{path}[{i}]", seen)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _arrays(v, f"{path}[{k!r}]", seen)


def test_a_rank_keeps_no_table_sized_by_the_network():
    """Rank 0 of 100 owns 3,000 of 300,005 gids: every array its build and engine keep follows its
    own neurons, pres, synapses and the spike sources, none the network's gid count (pre index,
    recording mask and the build's counts once were int32/bool per gid)."""
    net, n_nodes = _small_share_network()
    sim = Simulation(net, n_ranks=100, rank=0, tile_size=1000, seed=5)
    sim.build()
    g = sim.graph
    assert g.neurons.gids.size == 3000 and g.layout.n_pre <= 12_000
    kept = list(_arrays(g, "graph", set()))
    for name, value in vars(sim).items():
        if name.startswith("_") and name not in ("_cdf_parts",):
            kept += list(_arrays(value, f"sim.{name}", set()))
    assert len(kept) > 50
    too_big = [(path, a.shape) for path, a in kept if max(a.shape, default=0) >= n_nodes // 4]
    assert not too_big, too_big
    # the pre index answers for every gid of the network, from its rank-local table
    idx = g.layout.pre_index[np.arange(n_nodes)]
    np.testing.assert_array_equal(np.flatnonzero(idx >= 0), g.layout.pre_gids)


def test_recording_flags_are_local_and_record_the_same_spikes():
    net = Network(0.1)
    pop = net.add_population("iaf_psc_exp", 40, {"I_e": 400.0})
    src = net.add_population("spike_generator", 3, spike_times_ms=[np.array([0.5, 1.5])] * 3)
    net.connect(src, pop, "all_to_all", weight=100.0, delay=1.0)
    rec = net.record_spikes(np.concatenate([pop.gids[::3], src.gids[1:]]))
    sim = Simulation(net, seed=1)
    sim.run(50.0)
    assert sim._spikes.rec_local.size == 40 and sim._spikes.rec_sources.tolist() == src.gids[1:].tolist()
    ev = sim.spike_events(rec)
    assert set(np.unique(ev["senders"]).tolist()) == set(pop.gids[::3].tolist()) | set(src.gids[1:].tolist())
    # each source spikes twice, each recorded neuron at least once
    assert np.count_nonzero(np.isin(ev["senders"], src.gids)) == 4


def test_pass_one_tables_that_overflow_are_drawn_again(monkeypatch):
    """Chunks whose pres overflow their first hash table are counted again in larger ones:
    the same layout as when every table is large enough from the start."""
    net = Network(0.1)
    pop = net.add_population("iaf_psc_exp", 3000)
    net.connect(pop, pop, "fixed_indegree", indegree=60, weight=20.0, delay=1.5)
    part = make_partition(net, 1)
    ref = build.build_local(net, part, 0, seed=9, n_workers=2)
    monkeypatch.setattr(build, "COUNT_TABLE_START", 16)
    small = build.build_local(net, part, 0, seed=9, n_workers=2)
    for name in ("pre_gids", "seg_off", "delay_off", "syn_post", "syn_weight"):
        np.testing.assert_array_equal(getattr(small.layout, name), getattr(ref.layout, name))
    np.testing.assert_array_equal(small.indegree, ref.indegree)
    assert small.indegree.sum() == 3000 * 60
