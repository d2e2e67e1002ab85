"""Plots of recorded activity: spike raster and population rates (matplotlib, Agg backend)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

__all__ = ["plot_raster", "population_rates_hz"]


def population_rates_hz(senders: np.ndarray, times_ms: np.ndarray, gid_ranges: Sequence[tuple[int, int]],
                        t_start_ms: float, t_stop_ms: float) -> np.ndarray:
    """Mean rate per population (spikes/s per neuron) over ``(t_start_ms, t_stop_ms]``.

    Spike times are stamps at the end of a step (NEST's convention), so the
    window is open at its start: a spike stamped ``t_start_ms`` belongs to
    the step before the window.

    >>> population_rates_hz(np.array([0, 1, 2]), np.array([5.0, 10.0, 10.0]), [(0, 2), (2, 4)], 0.0, 1000.0).tolist()
    [1.0, 0.5]
    """
    if t_stop_ms <= t_start_ms:
        raise ValueError(f"empty window: t_start_ms={t_start_ms}, t_stop_ms={t_stop_ms}")
    senders = np.asarray(senders)
    times_ms = np.asarray(times_ms)
    keep = (times_ms > t_start_ms) & (times_ms <= t_stop_ms)
    s = senders[keep]
    span_s = (t_stop_ms - t_start_ms) * 1e-3
    rates = np.empty(len(gid_ranges))
    for k, (first, stop) in enumerate(gid_ranges):
        n = np.count_nonzero((s >= first) & (s < stop))
        rates[k] = n / ((stop - first) * span_s)
    return rates


def plot_raster(path: str | Path, senders: np.ndarray, times_ms: np.ndarray, populations: Sequence[str],
                gid_ranges: Sequence[tuple[int, int]], t_start_ms: float, t_stop_ms: float, *,
                raster_window_ms: float = 500.0, max_neurons_shown: int = 4000, bin_ms: float = 5.0,
                title: str = "", groups: tuple[Sequence[str], Sequence[int]] | None = None) -> Path:
    """Write a figure with a spike raster (top) and population rates over time (bottom).

    Parameters
    ----------
    path : output file (PNG by extension).
    senders, times_ms : the spikes (gids, ms).
    populations, gid_ranges : population names and their ``(first, stop)`` gids.
    t_start_ms, t_stop_ms : the window shown by the rate panel.
    raster_window_ms : the raster shows the last ``raster_window_ms`` of the
        window only, so that single spikes stay visible in long runs.
    max_neurons_shown : the raster shows the first neurons of each population,
        in proportion to its size, up to this many in all (a full-scale run
        has 77,169 neurons, more than a figure has pixel rows).
    bin_ms : bin width of the rate panel.
    title : figure title.
    groups : ``(group names, group index of each population)``, e.g. the
        areas of a multi-area model: the raster is then coloured and labelled
        by group (populations stay in model order, so a group's populations
        are adjacent), and the rate panel shows each group's mean rate.
    """
    import matplotlib
    matplotlib.use("Agg")   # files only: never needs a display
    import matplotlib.pyplot as plt

    senders = np.asarray(senders)
    times_ms = np.asarray(times_ms)
    n_total = sum(stop - first for first, stop in gid_ranges)
    frac = min(1.0, max_neurons_shown / max(n_total, 1))
    r0 = max(t_start_ms, t_stop_ms - raster_window_ms)
    in_raster = (times_ms > r0) & (times_ms <= t_stop_ms)
    colors = [f"C{k % 10}" for k in range(len(gid_ranges))]
    if groups is not None:
        group_names, group_of = list(groups[0]), np.asarray(groups[1], np.int64)
        colors = [f"C{g % 10}" for g in group_of]

    fig, (ax_r, ax_p) = plt.subplots(2, 1, figsize=(8, 8), height_ratios=[3, 2], constrained_layout=True)
    ticks, row = [], 0
    # Populations top to bottom in model order (L23 above L6), as anatomy has it.
    for k, (first, stop) in enumerate(gid_ranges):
        n_shown = max(1, int(round((stop - first) * frac)))
        sel = in_raster & (senders >= first) & (senders < first + n_shown)
        ax_r.plot(times_ms[sel], -(row + senders[sel] - first), ".", ms=1.5, color=colors[k], rasterized=True)
        ticks.append(-(row + n_shown / 2))
        row += n_shown
    if groups is None:
        ax_r.set_yticks(ticks, list(populations))
    else:   # one tick per group, at the middle of its rows
        mid = [np.mean([t for t, g in zip(ticks, group_of) if g == k]) for k in range(len(group_names))]
        ax_r.set_yticks(mid, group_names, fontsize="x-small")
    ax_r.set_xlim(r0, t_stop_ms)
    ax_r.set_ylim(-row - 1, 1)
    ax_r.set_xlabel("time (ms)")
    ax_r.set_title("spike raster" + (f" ({frac:.0%} of neurons)" if frac < 1 else ""))

    edges = np.arange(t_start_ms, t_stop_ms + 0.5 * bin_ms, bin_ms)
    if edges.size >= 2 and groups is not None:
        centers = 0.5 * (edges[:-1] + edges[1:])
        for k, name in enumerate(group_names):
            ranges = [r for r, g in zip(gid_ranges, group_of) if g == k]
            sel = np.zeros(senders.shape, bool)
            for first, stop in ranges:
                sel |= (senders >= first) & (senders < stop)
            counts, _ = np.histogram(times_ms[sel], edges)
            n = sum(stop - first for first, stop in ranges)
            ax_p.plot(centers, counts / (n * bin_ms * 1e-3), color=f"C{k % 10}", lw=0.8, label=name)
    elif edges.size >= 2:
        centers = 0.5 * (edges[:-1] + edges[1:])
        for k, ((first, stop), name) in enumerate(zip(gid_ranges, populations)):
            sel = (senders >= first) & (senders < stop)
            counts, _ = np.histogram(times_ms[sel], edges)
            ax_p.plot(centers, counts / ((stop - first) * bin_ms * 1e-3), color=colors[k], lw=1, label=name)
    ax_p.set_xlim(t_start_ms, t_stop_ms)
    ax_p.set_xlabel("time (ms)")
    ax_p.set_ylabel(f"rate (spikes/s, {bin_ms:g} ms bins)")
    ax_p.set_title("population rates" if groups is None else "area rates")
    ax_p.legend(ncol=4 if groups is None else 8, fontsize="small" if groups is None else "xx-small",
                loc="upper right")
    if title:
        fig.suptitle(title)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
