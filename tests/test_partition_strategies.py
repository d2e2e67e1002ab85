"""Partition strategies: cover every tile once, area_processes' rank groups, multisection balance,
determinism, the same synapses on any partition, and fewer remote pres than round_robin."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import synapse_table

from cortex_gpu.build import build_local
from cortex_gpu.models import multi_area
from cortex_gpu.network import ModelError, Network
from cortex_gpu.partition import (STRATEGIES, _factor_2d, _largest_remainder, _linear_partition,
                                  estimated_tile_bytes, make_partition, rank_estimated_bytes,
                                  remote_pre_counts)

TILE = 32


@pytest.fixture(scope="module")
def four_areas():
    """4 PD14 columns at scale 0.02: 6,176 neurons, ~550k synapses, ~200 tiles of <= 32."""
    net, info = multi_area(4, scale=0.02, record_spikes=False)
    return net, info


def _area_of_tile(net, part) -> np.ndarray:
    return np.array([net.populations[i].area for i in net.population_of(part.tile_start)])


def _mixed_network() -> Network:
    """Unequal areas, one population without area, one without positions, a spike source."""
    net = Network(0.1)
    rng = np.random.default_rng(0)
    big = net.add_population("iaf_psc_exp", 600, area="V1", positions=rng.random((600, 2)))
    small = net.add_population("iaf_psc_exp", 100, area="V2", positions=rng.random((100, 3)) + 2.0)
    plain = net.add_population("iaf_psc_exp", 150, area="V4")                 # no positions
    sg = net.add_population("spike_generator", 3, spike_times_ms=[[1.0]] * 3)
    loose = net.add_population("iaf_psc_alpha", 80)                            # no area
    for pre in (big, small, plain, loose):
        for post in (big, small, plain, loose):
            net.connect(pre, post, "fixed_indegree", indegree=10, weight=1.0, delay=1.0)
    net.connect(sg, big, "all_to_all", weight=5.0, delay=1.0)
    return net


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("n_ranks", [1, 2, 3, 4, 5, 8, 13])
def test_every_tile_once(four_areas, strategy, n_ranks):
    net, _ = four_areas
    part = make_partition(net, n_ranks, strategy, tile_size=TILE)
    assert part.strategy == strategy and part.n_ranks == n_ranks
    assert part.tile_rank.shape == part.tile_start.shape
    assert np.all((part.tile_rank >= 0) & (part.tile_rank < n_ranks))
    # tiles: consecutive, inside one population, at most TILE long, cover every neuron once
    assert np.all(part.tile_stop - part.tile_start <= TILE)
    np.testing.assert_array_equal(net.population_of(part.tile_start), net.population_of(part.tile_stop - 1))
    gids = np.sort(np.concatenate([part.local_gids(r) for r in range(n_ranks)]))
    np.testing.assert_array_equal(gids, np.arange(net.n_neurons))
    # nobody idles while there are enough tiles
    assert np.unique(part.tile_rank).size == n_ranks


@pytest.mark.parametrize("n_ranks", [4, 5, 8, 12, 16])
def test_area_processes_groups_and_balance(four_areas, n_ranks):
    net, _ = four_areas
    part = make_partition(net, n_ranks, "area_processes", tile_size=TILE)
    areas = _area_of_tile(net, part)
    bytes_ = rank_estimated_bytes(net, part)
    for r in range(n_ranks):   # a rank serves one area
        assert np.unique(areas[part.tile_rank == r]).size == 1
    for a in np.unique(areas):
        ranks = np.unique(part.tile_rank[areas == a])
        assert ranks.size >= 1
        np.testing.assert_array_equal(ranks, np.arange(ranks[0], ranks[-1] + 1))  # consecutive ranks
        b = bytes_[ranks]
        assert b.max() <= 1.15 * b.min(), (a, b)
    # equal areas: equal rank counts up to one
    counts = [np.unique(part.tile_rank[areas == a]).size for a in np.unique(areas)]
    assert max(counts) - min(counts) <= 1
    total = estimated_tile_bytes(net, part.tile_start, part.tile_stop).sum()
    assert bytes_.sum() == pytest.approx(total)
    print(f"area_processes, {n_ranks} ranks: estimated kB per rank {np.round(bytes_ / 1e3).astype(int).tolist()}")


def test_multisection_domains_are_spatial(four_areas):
    """4 ranks in one area form a 2 x 2 grid: x slabs, then y inside each slab."""
    net, _ = four_areas
    part = make_partition(net, 16, "area_processes", tile_size=TILE)
    first = net.populations[0]
    cen = []
    for r in range(4):   # area A0 has ranks 0..3
        own = part.tile_rank == r
        xy = [first.positions[0:0]]
        for s, e in zip(part.tile_start[own], part.tile_stop[own]):
            p = net.populations[net.population_of(s)]
            xy.append(p.positions[s - p.first:e - p.first].mean(axis=0, keepdims=True))
        cen.append(np.concatenate(xy))
    assert _factor_2d(4) == (2, 2)
    assert max(c[:, 0].max() for c in cen[:2]) <= min(c[:, 0].min() for c in cen[2:])   # x slabs
    assert cen[0][:, 1].max() <= cen[1][:, 1].min() and cen[2][:, 1].max() <= cen[3][:, 1].min()


@pytest.mark.parametrize("n_ranks", [2, 3])
def test_fewer_ranks_than_areas_packs_whole_areas(four_areas, n_ranks):
    net, _ = four_areas
    part = make_partition(net, n_ranks, "area_processes", tile_size=TILE)
    areas = _area_of_tile(net, part)
    rank_of_area = []
    for a in ("A0", "A1", "A2", "A3"):
        ranks = np.unique(part.tile_rank[areas == a])
        assert ranks.size == 1                      # an area is never split
        rank_of_area.append(int(ranks[0]))
    assert rank_of_area == sorted(rank_of_area)     # areas in order, contiguous groups
    assert set(rank_of_area) == set(range(n_ranks))
    b = rank_estimated_bytes(net, part)
    if n_ranks == 2:
        assert b.max() <= 1.05 * b.min()


def test_area_processes_mixed_network():
    """Ranks follow memory: V1 (600 neurons) gets most; areas without positions split contiguously;
    populations without area form an area; spike sources belong to no tile."""
    net = _mixed_network()
    part = make_partition(net, 8, "area_processes", tile_size=16)
    areas = _area_of_tile(net, part)
    n = {a: np.unique(part.tile_rank[areas == a]).size for a in ("V1", "V2", "V4", None)}
    assert n == {"V1": 5, "V2": 1, "V4": 1, None: 1}
    assert np.all(part.owner(np.arange(850, 853)) == -1)   # the spike generator
    assert not np.any((part.tile_start >= 850) & (part.tile_start < 853))
    # V1's 5 ranks are balanced by the multisection
    b = rank_estimated_bytes(net, part)[np.unique(part.tile_rank[areas == "V1"])]
    assert b.max() <= 1.2 * b.min()
    # more ranks: the area without positions falls back to contiguous runs
    part = make_partition(net, 20, "area_processes", tile_size=16)
    areas = _area_of_tile(net, part)
    v4 = part.tile_rank[areas == "V4"]
    assert np.unique(v4).size >= 2 and np.all(np.diff(v4) >= 0)


def test_area_processes_is_deterministic(four_areas):
    net, _ = four_areas
    a = make_partition(net, 12, "area_processes", tile_size=TILE)
    net2, _ = multi_area(4, scale=0.02, record_spikes=False)   # built afresh
    b = make_partition(net2, 12, "area_processes", tile_size=TILE)
    np.testing.assert_array_equal(a.tile_rank, b.tile_rank)
    np.testing.assert_array_equal(a.tile_start, b.tile_start)


def test_apportionment_helpers():
    assert _largest_remainder(np.array([1.0, 1.0, 6.0]), 4).tolist() == [1, 1, 2]
    assert _largest_remainder(np.array([1.0, 100.0, 1.0]), 3).tolist() == [1, 1, 1]
    assert _largest_remainder(np.array([3.0, 1.0]), 8).tolist() == [6, 2]
    assert _largest_remainder(np.array([0.0, 0.0]), 3).sum() == 3
    assert _linear_partition(np.array([4.0, 4.0, 1.0, 1.0, 1.0, 1.0]), 3).tolist() == [0, 1, 2, 2, 2, 2]
    assert _linear_partition(np.array([1.0, 1.0, 1.0]), 3).tolist() == [0, 1, 2]
    assert [_factor_2d(g) for g in (1, 2, 6, 9, 12, 7)] == [(1, 1), (2, 1), (3, 2), (3, 3), (4, 3), (7, 1)]


# ---------------------------------------------------------------- same synapses
@pytest.fixture(scope="module")
def two_areas():
    net, _ = multi_area(2, scale=0.02, record_spikes=False)
    return net, synapse_table([build_local(net, make_partition(net, 1), 0, seed=5)])


@pytest.mark.parametrize("n_ranks", [3, 6])
def test_area_processes_gives_same_synapses(two_areas, n_ranks):
    net, table1 = two_areas
    part = make_partition(net, n_ranks, "area_processes", tile_size=TILE)
    graphs = [build_local(net, part, r, seed=5) for r in range(n_ranks)]
    for r, g in enumerate(graphs):
        np.testing.assert_array_equal(g.neurons.gids, part.local_gids(r))
        assert np.all(part.owner(g.layout.synapses(g.neurons.gids)["target"]) == r)
    np.testing.assert_array_equal(synapse_table(graphs), table1)


# ---------------------------------------------------------------- partition quality
@pytest.mark.parametrize("n_ranks", [2, 4])
def test_area_processes_reads_fewer_remote_pres(four_areas, n_ranks):
    net, _ = four_areas
    remote = {}
    for strategy in ("round_robin", "area_processes"):
        part = make_partition(net, n_ranks, strategy, tile_size=TILE)
        graphs = [build_local(net, part, r, seed=1) for r in range(n_ranks)]
        remote[strategy] = remote_pre_counts(part, graphs)
        # the counts agree with the raw pre gid arrays
        np.testing.assert_array_equal(remote_pre_counts(part, [g.layout.pre_gids for g in graphs]),
                                      remote[strategy])
    print(f"{n_ranks} ranks, remote pres per rank: round_robin {remote['round_robin'].tolist()}, "
          f"area_processes {remote['area_processes'].tolist()}")
    assert remote["area_processes"].max() < remote["round_robin"].min()


def test_remote_pre_counts_small():
    net = Network(0.1)
    sg = net.add_population("spike_generator", 2)
    a = net.add_population("iaf_psc_exp", 4)
    b = net.add_population("iaf_psc_exp", 4)
    net.connect(sg, a, "all_to_all", weight=1.0, delay=1.0)
    part = make_partition(net, 2, "contiguous", tile_size=4)   # a on rank 0, b on rank 1
    # rank 0 reads both sources, one of its own and two of b; rank 1 reads a gid of a
    np.testing.assert_array_equal(remote_pre_counts(part, [np.array([0, 1, 2, 7, 8]), np.array([3])]), [2, 1])
    with pytest.raises(ValueError, match="all 2 ranks"):
        remote_pre_counts(part, [np.array([0])])
    del b


# ---------------------------------------------------------------- bad input
def test_bad_partition_input(four_areas):
    net, _ = four_areas
    with pytest.raises(ValueError, match="unknown partition strategy 'areas'"):
        make_partition(net, 2, "areas")
    for n in (0, -1, 1.5):
        with pytest.raises(ValueError, match="at least one rank"):
            make_partition(net, n, "area_processes")
    with pytest.raises(ValueError, match="tile_size"):
        make_partition(net, 2, "area_processes", tile_size=0)


def test_empty_network_partitions():
    part = make_partition(Network(0.1), 3, "area_processes")
    assert part.tile_start.size == 0 and rank_estimated_bytes(Network(0.1), part).tolist() == [0, 0, 0]


@pytest.mark.parametrize("positions, match", [
    (np.zeros((5, 2)), r"shape \(4, 2\) or \(4, 3\)"),
    (np.zeros((4, 4)), r"shape \(4, 2\) or \(4, 3\)"),
    (np.zeros(4), r"shape \(4, 2\) or \(4, 3\)"),
    (np.array([[0.0, 1.0], [np.nan, 0.0], [0.0, 0.0], [1.0, 1.0]]), "finite"),
])
def test_bad_positions(positions, match):
    with pytest.raises(ModelError, match=match):
        Network(0.1).add_population("iaf_psc_exp", 4, positions=positions)


def test_bad_area_label():
    with pytest.raises(ModelError, match="area must be a string"):
        Network(0.1).add_population("iaf_psc_exp", 4, area=3)
