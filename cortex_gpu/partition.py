"""Partition of post-synaptic neurons into tiles, and of tiles onto ranks.

A tile is a run of at most ``tile_size`` consecutive gids inside one neuron
population. A rank owns whole tiles, hence every synapse onto their neurons
(indegree sub-graph decomposition, I1). Spike sources (spike_generator) have
no incoming synapses and belong to no tile; every rank knows their spikes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .network import Network

__all__ = ["Partition", "make_partition", "expected_tile_synapses", "STRATEGIES", "DEFAULT_TILE_SIZE"]

DEFAULT_TILE_SIZE = 1024
STRATEGIES = ("round_robin", "contiguous", "area_processes")


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
    i = np.searchsorted(pre, post)
    hit = (i < pre.size) & (pre[np.minimum(i, max(pre.size - 1, 0))] == post) if pre.size else np.zeros(post.size, bool)
    return float(hit.mean())


def make_partition(net: Network, n_ranks: int = 1, strategy: str = "round_robin",
                   tile_size: int = DEFAULT_TILE_SIZE) -> Partition:
    """Assign the network's tiles to ``n_ranks`` ranks.

    ``round_robin`` deals tiles out in turn; ``contiguous`` gives each rank
    one run of tiles with about the same number of neurons.
    """
    if n_ranks < 1:
        raise ValueError(f"need at least one rank, got {n_ranks}")
    if not 1 <= tile_size <= 65536:
        raise ValueError(f"tile_size must be in [1, 65536], got {tile_size}")
    start, stop = _tiles(net, tile_size)
    if strategy == "round_robin":
        rank = np.arange(start.size) % n_ranks
    elif strategy == "contiguous":
        cum = np.cumsum(stop - start)
        total = cum[-1] if cum.size else 0
        rank = np.minimum((cum - (stop - start)) * n_ranks // max(total, 1), n_ranks - 1)
    elif strategy == "area_processes":
        raise NotImplementedError("the area_processes partition is not built yet (many-rank issue); "
                                  "use round_robin or contiguous")
    else:
        raise ValueError(f"unknown partition strategy '{strategy}' (known: {', '.join(STRATEGIES)})")
    return Partition(n_ranks, strategy, start, stop, rank.astype(np.int32))
