"""Connection rules, drawn per post-synaptic neuron from keyed random numbers.

Each function here draws the incoming synapses of ONE post-synaptic neuron
for one projection. A synapse's pre-synaptic id, weight and delay depend
only on (seed, projection, post gid, synapse index j), never on which rank
or thread draws them; this is what lets every rank build its own indegree
sub-graph (I2) and gives the same network for any rank count (I3).

Per-connection values: a projection's weight or delay is a distribution row
``(kind, a, b, low, high)`` (see :mod:`cortex_gpu.distributions`), or, with
``kind == -1``, an index ``a`` into a flat array of per-connection values.
"""
from __future__ import annotations

import numba
import numpy as np

from . import keys, philox
from .distributions import draw

__all__ = ["RULE_CODES", "draw_pres", "syn_value", "split_total", "shared_block_weight", "zig_layer"]

RULE_CODES = {"one_to_one": 0, "all_to_all": 1, "fixed_indegree": 2,
              "fixed_total_number": 3, "pairwise_bernoulli": 4}
KIND_ARRAY = -1.0
KIND_NORMAL_ROW, KIND_LOGNORMAL_ROW = 1.0, 3.0
#: Redraws of a shared-block weight use indices j + 2**31 (indegrees stay far below).
REDRAW_INDEX_OFFSET = 1 << 31


@numba.njit(cache=True)
def draw_pres(rule, pre_set, post_gid, count, aux, p_log1m, autapses, multapses,
              seed, proj_id, out_pre, out_conn, out_words, marker, stamp):
    """Pre-synaptic gids of one post neuron's synapses in one projection.

    Parameters
    ----------
    rule : int
        Code from ``RULE_CODES``.
    pre_set : int64[:]
        The projection's sorted pre gids (one_to_one: the pre of each pair).
    post_gid : int
        Global id of the post neuron (the key of every draw).
    count : int
        Synapses to draw: the indegree (fixed_indegree), this post's share of
        the total (fixed_total_number), or the number of pairs (one_to_one).
    aux : int
        one_to_one: index of this post's first pair; all_to_all: the post's
        row in a per-connection value array; otherwise unused.
    p_log1m : float
        pairwise_bernoulli: ``log(1 - p)`` computed once on the host (0: p=0).
    out_pre, out_conn : int64[:]
        Filled with the pre gids and each synapse's per-connection value
        index (for array-valued weights and delays).
    out_words : uint32[4, :]
        fixed_indegree / fixed_total_number: ``out_words[:, j]`` is the first
        Philox block of synapse j's pre draw (key ``(PRE | projection, post, j, sub 0)``). The
        pre uses 52 of its bits; the build draws the synapse's delay and
        weight from the rest (:func:`shared_block_weight`), one block for
        three values.
    marker, stamp : int64[:], int
        Scratch for sampling without multapses: ``marker[k] == stamp`` marks
        pre index k as taken for this post.

    Returns
    -------
    int
        Number of synapses written.
    """
    n_pre = pre_set.size
    s_pre = (keys.PRE << 24) | proj_id
    n = 0
    if rule == 0:  # one_to_one (also explicit pairs): `count` pairs from `aux`
        for k in range(count):
            out_pre[n] = pre_set[aux + k]
            out_conn[n] = aux + k
            n += 1
    elif rule == 1:  # all_to_all
        for k in range(n_pre):
            g = pre_set[k]
            if g == post_gid and not autapses:
                continue
            out_pre[n] = g
            out_conn[n] = aux * n_pre + k
            n += 1
    elif rule == 2 or rule == 3:  # fixed_indegree / fixed_total_number: uniform draws
        philox.blocks(seed, s_pre, post_gid, count, out_words)
        for j in range(count):    # no branch: vectorizes with the blocks
            out_pre[j] = philox.uniform_int_words(n_pre, out_words[0, j], out_words[1, j])
            out_conn[j] = -1
        for j in range(count):
            k = out_pre[j]
            g = pre_set[k]
            if not (autapses and multapses):
                sub = 1
                while True:
                    ok = autapses or g != post_gid
                    if ok and not multapses:
                        ok = marker[k] != stamp
                    if ok:
                        break
                    k, sub = philox.uniform_int(n_pre, seed, s_pre, post_gid, j, sub)
                    g = pre_set[k]
                marker[k] = stamp
            out_pre[j] = g
        n = count
    elif rule == 4:  # pairwise_bernoulli: geometric gaps between successes
        if p_log1m == 0.0:
            return 0
        k = -1
        step = 0
        while True:
            if p_log1m == -np.inf:
                k += 1
            else:
                u, _ = philox.uniform(seed, s_pre, post_gid, step, 0)
                k += 1 + int(philox.plog(u) / p_log1m)
            step += 1
            if k >= n_pre:
                break
            g = pre_set[k]
            if g == post_gid and not autapses:
                continue
            out_pre[n] = g
            out_conn[n] = -1
            n += 1
    return n


# Inlined: it runs once per synapse, and a call would reference-count its array arguments.
@numba.njit(cache=True, inline="always")
def syn_value(row, values, conn, seed, stream, post_gid, j):
    """Weight or delay of synapse ``j`` of ``post_gid``: a draw, or ``values[row[1] + conn]``."""
    if row[0] == KIND_ARRAY:
        return values[int(row[1]) + conn]
    return draw(row, seed, stream, post_gid, j)


@numba.njit(cache=True)
def split_total(total, n_post, wanted, seed, stream):
    """Multinomial share of ``total`` synapses for the posts ``wanted``.

    The post set ``[0, n_post)`` is halved recursively; each node's count is
    split between its halves by a binomial draw keyed by the node, so every
    rank computes the same counts for its own posts without seeing the rest
    (fixed_total_number's hierarchical split, I2). ``wanted`` are sorted
    indices into the post set; returns their counts.
    """
    out = np.zeros(wanted.size, dtype=np.int64)
    if wanted.size == 0:
        return out
    # explicit stack of (lo, hi, count, wanted_lo, wanted_hi)
    stack = np.empty((128, 5), dtype=np.int64)
    stack[0, 0] = 0
    stack[0, 1] = n_post
    stack[0, 2] = total
    stack[0, 3] = 0
    stack[0, 4] = wanted.size
    top = 1
    while top > 0:
        top -= 1
        lo, hi, m, wlo, whi = stack[top, 0], stack[top, 1], stack[top, 2], stack[top, 3], stack[top, 4]
        if hi - lo == 1:
            for i in range(wlo, whi):
                out[i] = m
            continue
        mid = (lo + hi) // 2
        left = 0
        if m > 0:
            # node key: (lo, hi) packed; unique for every node of the tree
            left, _ = philox.binomial(m, (mid - lo) / (hi - lo), seed, stream, lo * n_post + hi, 0, 0)
        wmid = wlo
        while wmid < whi and wanted[wmid] < mid:
            wmid += 1
        if wmid > wlo:
            stack[top, 0] = lo
            stack[top, 1] = mid
            stack[top, 2] = left
            stack[top, 3] = wlo
            stack[top, 4] = wmid
            top += 1
        if whi > wmid:
            stack[top, 0] = mid
            stack[top, 1] = hi
            stack[top, 2] = m - left
            stack[top, 3] = wmid
            stack[top, 4] = whi
            top += 1
    return out


@numba.njit(cache=True, inline="always")
def zig_layer(w0, w1):
    """Ziggurat layer of a synapse's weight: 8 of the 12 bits its pre draw leaves unused in ``w0, w1``."""
    return (np.int64(w0) & 63) | ((np.int64(w1) & 3) << 6)


@numba.njit(cache=True, inline="always")
def shared_block_weight(row, z_fast, w0, w1, w3, seed, stream, post_gid, j):
    """Weight of synapse ``j`` from the spare bits of its pre block ``w0..w3`` (normal rows).

    The ziggurat's first attempt takes ``w3`` as abscissa and the layer
    :func:`zig_layer` (:func:`cortex_gpu.philox.normal_zig_first`);
    ``z_fast`` is that attempt's :func:`cortex_gpu.philox.zig_fast`, computed
    by the caller's vector loop (NaN: the attempt left the fast region).
    A value outside the row's bounds is redrawn from the row's own
    sequence at index ``j + 2**31``, apart from every block used above.
    """
    z = z_fast
    if z != z:
        z = philox.normal_zig_first(w3, zig_layer(w0, w1), seed, stream, post_gid, j)
    x = row[1] + row[2] * z
    if row[0] == KIND_LOGNORMAL_ROW:
        x = philox.pexp(x)
    if row[3] <= x <= row[4]:
        return x
    return draw(row, seed, stream, post_gid, j + REDRAW_INDEX_OFFSET)
