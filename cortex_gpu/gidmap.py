"""Rank-local maps from global neuron ids (gids) to dense indices, sized by the ids they hold.

A rank meets gids from the whole network (received spikes, drawn
pre-synaptic neurons) but keeps state for few of them: its pre-synaptic
neurons. A table indexed by gid would cost ``n_nodes`` entries on every rank
(80 GB of int32 at 2e10 neurons); these open-addressing hash tables cost
12 bytes per slot at a load of at most one half, i.e. 24 to 48 bytes per
gid held, whatever the network's size.

Probing is linear from a multiplicative (Fibonacci) hash of the gid, so the
consecutive gids of a population spread over the table and a lookup costs
one or two probes into memory that stays small enough for the cache.

Where the gids held are dense in their span (a rank whose pres are most of
a range, as in a microcircuit), a plain int32 table over ``[base, base +
span)`` is smaller than the hash table and costs one load: :class:`GidIndex`
takes it whenever it is no larger (at most 12 bytes per slot of the hash it
replaces, i.e. still sized by the gids held, not by the network).
"""
from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

__all__ = ["GidIndex", "gid_lookup", "gid_insert", "table_shift", "EMPTY"]

#: Key of an empty slot (gids are >= 0).
EMPTY = -1
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def table_shift(n_keys: int) -> tuple[int, int]:
    """``(capacity, shift)`` of a table for ``n_keys`` keys at a load of at most 1/2.

    Capacity is a power of two >= 2 ``n_keys`` (at least 2); ``shift`` is
    ``64 - log2(capacity)``, the right shift that turns the 64-bit hash into a slot.
    """
    cap = 2
    while cap < 2 * n_keys:
        cap *= 2
    return cap, 64 - (cap.bit_length() - 1)


@numba.njit(inline="always")
def _slot(gid, shift):
    return np.int64((np.uint64(gid) * _GOLDEN) >> np.uint64(shift))


@numba.njit(cache=True, inline="always")
def gid_lookup(keys, vals, shift, base, gid):
    """The value stored for ``gid``, or -1 when the table does not hold it.

    ``keys`` empty: ``vals`` is a direct table over gids ``base .. base + vals.size - 1``.
    """
    if keys.size == 0:
        d = gid - base
        if d < 0 or d >= vals.size:
            return np.int64(-1)
        return np.int64(vals[d])
    mask = keys.size - 1
    s = _slot(gid, shift)
    while True:
        k = keys[s]
        if k == gid:
            return np.int64(vals[s])
        if k == EMPTY:
            return np.int64(-1)
        s = (s + 1) & mask


@numba.njit(cache=True, inline="always")
def gid_insert(keys, shift, gid, may_add):
    """Slot of ``gid`` in ``keys``, claimed if it was not there and ``may_add``; ``(slot, new)``.

    Returns ``(-1, False)`` for a gid not held when ``may_add`` is False. The
    caller keeps the load at most 1/2 (``may_add`` False once it is), so an
    empty slot is always found.
    """
    mask = keys.size - 1
    s = _slot(gid, shift)
    while True:
        k = keys[s]
        if k == gid:
            return s, False
        if k == EMPTY:
            if not may_add:
                return np.int64(-1), False
            keys[s] = gid
            return s, True
        s = (s + 1) & mask


@numba.njit(cache=True)
def _fill(keys, vals, shift, gids):
    for i in range(gids.size):
        s, _ = gid_insert(keys, shift, gids[i], True)
        vals[s] = i


@numba.njit(cache=True)
def _lookup_many(keys, vals, shift, base, gids, out):
    for i in range(gids.size):
        out[i] = gid_lookup(keys, vals, shift, base, gids[i])


@dataclass(frozen=True)
class GidIndex:
    """Position of each gid of a repeat-free array (``int32``), as a hash table.

    Attributes
    ----------
    keys : int64[capacity]
        The gid held in each slot, :data:`EMPTY` where none; empty for a direct table.
    vals : int32[capacity]
        The gid's position in the array the index was made from (a direct
        table: of gid ``base + i`` at ``i``, -1 where none).
    shift : int
        ``64 - log2(capacity)`` (see :func:`table_shift`).
    base : int
        Smallest gid held (direct tables).
    """

    keys: np.ndarray
    vals: np.ndarray
    shift: int
    base: int = 0

    @classmethod
    def of(cls, gids: np.ndarray) -> "GidIndex":
        """The index of ``gids`` (repeat-free int64): ``gid -> position`` in ``gids``."""
        gids = np.ascontiguousarray(gids, np.int64)
        if gids.size >= 2 ** 31:
            raise ValueError(f"a gid index holds at most 2**31 - 1 gids, got {gids.size}")
        cap, shift = table_shift(gids.size)
        if gids.size and 4 * (int(gids.max()) - int(gids.min()) + 1) <= 12 * cap:
            base = int(gids.min())
            vals = np.full(int(gids.max()) - base + 1, -1, np.int32)
            vals[gids - base] = np.arange(gids.size, dtype=np.int32)
            return cls(np.zeros(0, np.int64), vals, shift, base)
        keys = np.full(cap, EMPTY, np.int64)
        vals = np.full(cap, -1, np.int32)
        _fill(keys, vals, shift, gids)
        return cls(keys, vals, shift)

    def __getitem__(self, gids) -> np.ndarray:
        """Positions (int64) of ``gids``; -1 for gids the index does not hold."""
        g = np.ascontiguousarray(np.asarray(gids).ravel(), np.int64)
        out = np.empty(g.size, np.int64)
        _lookup_many(self.keys, self.vals, self.shift, self.base, g, out)
        return out.reshape(np.shape(gids))

    @property
    def nbytes(self) -> int:
        return int(self.keys.nbytes + self.vals.nbytes)
