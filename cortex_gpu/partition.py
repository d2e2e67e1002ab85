"""Partition of post-synaptic neurons into tiles, and of tiles onto ranks.

A tile is a run of at most ``tile_size`` consecutive gids inside one neuron
population. A rank owns whole tiles, hence every synapse onto their neurons
(indegree sub-graph decomposition, I1). Spike sources (spike_generator) have
no incoming synapses and belong to no tile; every rank knows their spikes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .network import Network, locate

__all__ = ["Partition", "make_partition", "expected_tile_synapses", "estimated_tile_bytes",
           "rank_estimated_bytes", "remote_pre_counts", "STRATEGIES", "DEFAULT_TILE_SIZE",
           "BYTES_PER_SYNAPSE", "BYTES_PER_NEURON"]

DEFAULT_TILE_SIZE = 1024
STRATEGIES = ("round_robin", "contiguous", "area_processes")

#: Memory model of the partition (bytes). A synapse costs a uint16 post index
#: and a float32 weight in the delivery layout (I5); a neuron costs its state,
#: parameters, ring buffer rows and tables, about 100 bytes at PD14 delays.
BYTES_PER_SYNAPSE = 6.0
BYTES_PER_NEURON = 100.0


@dataclass(frozen=True)
class Partition:
    """Tiles ``[tile_start[i], tile_stop[i])`` of gids, owned by ``tile_rank[i]``."""

    n_ranks: int
    strategy: str
    tile_start: np.ndarray
    tile_stop: np.ndarray
    tile_rank: np.ndarray

    def local_gids(self, rank: int) -> np.ndarray:
        """Sorted gids of the neurons owned by ``rank``."""
        own = np.flatnonzero(self.tile_rank == rank)
        if own.size == 0:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate([np.arange(self.tile_start[i], self.tile_stop[i]) for i in own]).astype(np.int64)

    def owner(self, gids: np.ndarray) -> np.ndarray:
        """Rank owning each neuron gid (-1 for gids in no tile)."""
        i = np.searchsorted(self.tile_start, gids, side="right") - 1
        ok = (i >= 0) & (gids < self.tile_stop[np.maximum(i, 0)])
        return np.where(ok, self.tile_rank[np.maximum(i, 0)], -1)


def _tiles(net: Network, tile_size: int) -> tuple[np.ndarray, np.ndarray]:
    starts, stops = [], []
    for pop in net.populations:
        if pop.is_source:
            continue
        s = np.arange(pop.first, pop.stop, tile_size)
        starts.append(s)
        stops.append(np.minimum(s + tile_size, pop.stop))
    if not starts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(starts).astype(np.int64), np.concatenate(stops).astype(np.int64)


def expected_tile_synapses(net: Network, tile_start: np.ndarray, tile_stop: np.ndarray) -> np.ndarray:
    """Expected incoming synapses of each tile ``[tile_start[i], tile_stop[i])`` (float64).

    From the connection rules alone, without drawing: ``fixed_indegree`` K per
    post, ``pairwise_bernoulli`` p per (pre, post) pair, ``fixed_total_number``
    N spread evenly over the posts, ``all_to_all`` every pair, ``one_to_one``
    one per listed post. Pairs excluded as autapses are left out. The
    partition balances ranks and the planner predicts memory with it.
    """
    start = np.asarray(tile_start, np.int64)
    stop = np.asarray(tile_stop, np.int64)
    out = np.zeros(start.size, np.float64)
    for proj in net.projections:
        post = np.sort(proj.post) if proj.rule == "one_to_one" else proj.post
        # posts of the projection inside each tile
        n_in = (np.searchsorted(post, stop) - np.searchsorted(post, start)).astype(np.float64)
        n_pre = float(proj.pre.size)
        if proj.rule == "one_to_one":
            out += n_in
            continue
        if proj.rule == "fixed_indegree":
            per_post = float(proj.indegree)
        elif proj.rule == "fixed_total_number":
            per_post = proj.total / max(proj.post.size, 1)
        else:
            pairs = n_pre
            if not proj.allow_autapses:
                # a post that is also a pre loses its autapse: expected share of such posts
                pairs -= _shared_fraction(proj.pre, proj.post)
            per_post = pairs * (proj.p if proj.rule == "pairwise_bernoulli" else 1.0)
        out += n_in * per_post
    return out


def _shared_fraction(pre: np.ndarray, post: np.ndarray) -> float:
    """Fraction of ``post`` gids that are also in ``pre`` (both sorted, unique)."""
    if post.size == 0:
        return 0.0
    return float(locate(pre, post)[1].mean())


def estimated_tile_bytes(net: Network, tile_start: np.ndarray, tile_stop: np.ndarray) -> np.ndarray:
    """Estimated memory (bytes, float64) of each tile's neurons and incoming synapses.

    ``expected_tile_synapses * BYTES_PER_SYNAPSE + neurons * BYTES_PER_NEURON``.
    """
    n = (np.asarray(tile_stop, np.int64) - np.asarray(tile_start, np.int64)).astype(np.float64)
    return expected_tile_synapses(net, tile_start, tile_stop) * BYTES_PER_SYNAPSE + n * BYTES_PER_NEURON


def rank_estimated_bytes(net: Network, partition: Partition) -> np.ndarray:
    """Estimated memory (bytes, float64[n_ranks]) of each rank's tiles, before any build."""
    b = estimated_tile_bytes(net, partition.tile_start, partition.tile_stop)
    return np.bincount(partition.tile_rank, weights=b, minlength=partition.n_ranks)


def remote_pre_counts(partition: Partition, pre_gids) -> np.ndarray:
    """Per rank, the pre-synaptic neurons it reads that another rank owns (int64[n_ranks]).

    ``pre_gids`` holds one entry per rank, in rank order: a gid array (the
    rank's ``LocalGraph.layout.pre_gids``) or the ``LocalGraph`` itself.
    Spike sources belong to no rank and are never remote. The counts measure
    how much spike traffic a partition causes: each remote pre is a gid some
    other rank must send here.
    """
    if len(pre_gids) != partition.n_ranks:
        raise ValueError(f"need the pre gids of all {partition.n_ranks} ranks, got {len(pre_gids)}")
    out = np.zeros(partition.n_ranks, np.int64)
    for r, g in enumerate(pre_gids):
        gids = np.asarray(g.layout.pre_gids if hasattr(g, "layout") else g, np.int64)
        owner = partition.owner(gids)
        out[r] = np.count_nonzero((owner >= 0) & (owner != r))
    return out


def make_partition(net: Network, n_ranks: int = 1, strategy: str = "round_robin",
                   tile_size: int = DEFAULT_TILE_SIZE) -> Partition:
    """Assign the network's tiles to ``n_ranks`` ranks.

    Strategies
    ----------
    ``round_robin``
        Deals tiles out in turn (the baseline; balanced, but every rank reads
        pres from every other).
    ``contiguous``
        Gives each rank one run of tiles with about the same number of neurons.
    ``area_processes``
        Areas (``Population.area``; populations without one form one area
        together) get groups of consecutive ranks in proportion to their
        estimated memory (:func:`estimated_tile_bytes`). With at least as many
        ranks as areas every area gets one or more ranks, by largest
        remainder; with fewer, areas in order are packed onto ranks as
        contiguous groups minimising the largest rank's memory. Inside an
        area with ``g`` ranks, tiles are placed by multisection division of
        the neuron positions (FDPS-style): ``g = gx * gy`` as square as
        possible; x is cut into ``gx`` slabs of equal memory at weighted
        quantiles of the tile centroids (mean neuron position), and each slab
        in y into ``gy`` domains; a tile goes to the domain holding its
        centroid. Tiles are spatially compact only if the model numbers
        neighbouring neurons consecutively (as ``multi_area`` does). Areas whose
        populations lack positions fall back to contiguous runs of equal
        memory. Only x and y of 3-d positions are used (a cortical sheet).

    The result depends on ``net``, ``n_ranks`` and ``tile_size`` alone.
    """
    if int(n_ranks) != n_ranks or n_ranks < 1:
        raise ValueError(f"need at least one rank, got {n_ranks}")
    n_ranks = int(n_ranks)
    if not 1 <= tile_size <= 65536:
        raise ValueError(f"tile_size must be in [1, 65536], got {tile_size}")
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown partition strategy '{strategy}' (known: {', '.join(STRATEGIES)})")
    start, stop = _tiles(net, tile_size)
    if strategy == "round_robin":
        rank = np.arange(start.size) % n_ranks
    elif strategy == "contiguous":
        rank = _contiguous(stop - start, n_ranks)
    else:
        rank = _area_processes(net, start, stop, n_ranks)
    return Partition(n_ranks, strategy, start, stop, rank.astype(np.int32))


def _contiguous(weight: np.ndarray, n_groups: int) -> np.ndarray:
    """Group of each item when items in order form ``n_groups`` runs of about equal weight."""
    cum = np.cumsum(weight)
    total = cum[-1] if cum.size else 0
    if np.issubdtype(cum.dtype, np.integer):
        return np.minimum((cum - weight) * n_groups // max(total, 1), n_groups - 1)
    # float weights: a run ends where its items' midpoints pass the group boundary
    mid = (cum - 0.5 * weight) / (total if total > 0 else 1.0)
    return np.minimum(np.floor(mid * n_groups).astype(np.int64), n_groups - 1)


# ------------------------------------------------------------------ area_processes
def _area_processes(net: Network, start: np.ndarray, stop: np.ndarray, n_ranks: int) -> np.ndarray:
    rank = np.zeros(start.size, np.int64)
    if start.size == 0:
        return rank
    tile_bytes = estimated_tile_bytes(net, start, stop)
    pop_of_tile = net.population_of(start)
    # areas in order of first appearance; None (no area) is an area of its own
    labels: list = []
    for i in np.unique(pop_of_tile):
        a = net.populations[i].area
        if a not in labels:
            labels.append(a)
    area_of_pop = {i: labels.index(net.populations[i].area) for i in np.unique(pop_of_tile)}
    area_of_tile = np.array([area_of_pop[i] for i in pop_of_tile], np.int64)
    area_bytes = np.bincount(area_of_tile, weights=tile_bytes, minlength=len(labels))
    if n_ranks < len(labels):
        group = _linear_partition(area_bytes, n_ranks)
        return group[area_of_tile]
    n_of_area = _largest_remainder(area_bytes, n_ranks)
    first = np.concatenate([[0], np.cumsum(n_of_area)[:-1]])
    for a in range(len(labels)):
        tiles = np.flatnonzero(area_of_tile == a)
        g = int(n_of_area[a])
        if g == 1:
            local = np.zeros(tiles.size, np.int64)
        else:
            pops = [net.populations[i] for i in np.unique(pop_of_tile[tiles])]
            if all(p.positions is not None for p in pops):
                local = _multisection(net, start[tiles], stop[tiles], tile_bytes[tiles], g)
            else:
                local = _contiguous(tile_bytes[tiles], g)
        rank[tiles] = first[a] + local
    return rank


def _largest_remainder(weight: np.ndarray, n: int) -> np.ndarray:
    """``n`` seats over ``weight.size >= 1`` parties in proportion to weight, each at least one.

    Largest-remainder (Hamilton) apportionment; a party lifted to its one
    seat takes it from the most over-served party. Ties go to the first party.

    >>> _largest_remainder(np.array([1.0, 1.0, 6.0]), 4).tolist()
    [1, 1, 2]
    """
    total = weight.sum()
    quota = n * (weight / total if total > 0 else np.full(weight.size, 1.0 / weight.size))
    seats = np.maximum(np.floor(quota).astype(np.int64), 1)
    while seats.sum() < n:
        seats[np.argmax(quota - seats)] += 1
    while seats.sum() > n:
        over = np.where(seats > 1, seats - quota, -np.inf)
        seats[np.argmax(over)] -= 1
    return seats


def _linear_partition(weight: np.ndarray, n_groups: int) -> np.ndarray:
    """Group of each item when items in order form ``n_groups`` non-empty runs with the
    smallest possible heaviest run (dynamic programme; ``weight.size >= n_groups``).

    >>> _linear_partition(np.array([4.0, 4.0, 1.0, 1.0, 1.0, 1.0]), 3).tolist()
    [0, 1, 2, 2, 2, 2]
    """
    m = weight.size
    cum = np.concatenate([[0.0], np.cumsum(weight)])
    # cost[k, i]: heaviest run when the first i items form k runs; cut[k, i]: where the last run starts
    cost = np.full((n_groups + 1, m + 1), np.inf)
    cut = np.zeros((n_groups + 1, m + 1), np.int64)
    cost[0, 0] = 0.0
    for k in range(1, n_groups + 1):
        for i in range(k, m - (n_groups - k) + 1):
            j = np.arange(k - 1, i)
            c = np.maximum(cost[k - 1, j], cum[i] - cum[j])
            best = int(np.argmin(c))
            cost[k, i], cut[k, i] = c[best], j[best]
    group = np.empty(m, np.int64)
    i = m
    for k in range(n_groups, 0, -1):
        group[cut[k, i]:i] = k - 1
        i = cut[k, i]
    return group


def _factor_2d(g: int) -> tuple[int, int]:
    """``g = gx * gy`` with ``gx >= gy`` and the two as close as possible.

    >>> _factor_2d(12), _factor_2d(7), _factor_2d(16)
    ((4, 3), (7, 1), (4, 4))
    """
    gy = int(np.floor(np.sqrt(g)))
    while g % gy:
        gy -= 1
    return g // gy, gy


def _multisection(net: Network, start: np.ndarray, stop: np.ndarray, tile_bytes: np.ndarray,
                  g: int) -> np.ndarray:
    """Domain (0..g-1) of each tile by multisection division of the tile centroids.

    The cuts are weighted quantiles of the tiles themselves (centroid, bytes):
    x into ``gx`` slabs, each slab in y into ``gy`` domains, each of about
    equal memory. FDPS cuts at quantiles of a random sample of its particles
    because it has billions; the partition's units are tiles, a few thousand
    at most, so it takes all of them, exactly and without randomness, and
    the cuts balance the tiles as they are assigned (a population smaller than
    a tile has its centroid mid-patch, whatever its neurons' spread).
    """
    n = stop - start
    gids = np.concatenate([np.arange(a, b) for a, b in zip(start, stop)])
    xy = np.empty((gids.size, 2))
    pop = net.population_of(gids)
    for i in np.unique(pop):
        sel = pop == i
        p = net.populations[i]
        xy[sel] = p.positions[gids[sel] - p.first, :2]
    centroid = np.add.reduceat(xy, np.concatenate([[0], np.cumsum(n)[:-1]]), axis=0) / n[:, None]
    gx, gy = _factor_2d(g)
    domain = np.empty(start.size, np.int64)
    by_x = np.lexsort((np.arange(start.size), centroid[:, 0]))    # ties broken by tile order
    slab = np.empty(start.size, np.int64)
    slab[by_x] = _contiguous(tile_bytes[by_x], gx)
    for s in range(gx):
        tiles = np.flatnonzero(slab == s)
        by_y = tiles[np.lexsort((tiles, centroid[tiles, 1]))]
        domain[by_y] = s * gy + _contiguous(tile_bytes[by_y], gy)
    return domain
