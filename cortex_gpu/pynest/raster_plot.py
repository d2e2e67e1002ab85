"""``nest.raster_plot``: spike rasters with a population-rate histogram, from a spike recorder or its files.

The figures are NEST's: a new figure with the raster (dots of node id over
time) in an upper axes and, with ``hist=True``, the rate in spikes/s per
neuron in bins of ``hist_binwidth`` ms in a lower one. ``data`` arrays have
node ids in column 0 and times in column 1.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .models import base_model

__all__ = ["extract_events", "from_data", "from_device", "from_file", "show"]


def extract_events(data: np.ndarray, time: Sequence[float] | None = None,
                   sel: Sequence[int] | None = None) -> np.ndarray:
    """The rows of ``data`` with ``t_min <= t < t_max`` (``time`` = [t_max] or [t_min, t_max]) and a sender in ``sel``."""
    data = np.asarray(data)
    t_min, t_max = (0.0, np.inf) if not time else ((time[0] if len(time) > 1 else 0.0), time[-1])
    if data.size == 0:
        return np.array([])
    keep = (data[:, 1] >= t_min) & (data[:, 1] < t_max)
    if sel:
        keep &= np.isin(data[:, 0], list(sel))
    return data[keep] if keep.any() else np.array([])


def _bin_counts(times: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Spikes per bin: bin i holds [edges[i], edges[i+1]), the last one everything from edges[-1] on."""
    left = np.searchsorted(np.sort(np.asarray(times, float).ravel()), edges)
    return np.diff(np.append(left, np.size(times)))


def _make_plot(ts: np.ndarray, ts1: np.ndarray, node_ids: np.ndarray, neurons: np.ndarray, hist: bool = True,
               hist_binwidth: float = 5.0, grayscale: bool = False, title: str | None = None,
               xlabel: str | None = None) -> Any:
    """The raster of (``ts1``, ``node_ids``) and the rate histogram of all times ``ts`` over ``neurons``."""
    import matplotlib.pyplot as plt

    plt.figure()
    marker, bar_colour = (".k", "gray") if grayscale else (".", "blue")
    xlabel = "Time (ms)" if xlabel is None else xlabel
    handles = None
    if hist:
        raster = plt.axes([0.1, 0.3, 0.85, 0.6])
        handles = plt.plot(ts1, node_ids, marker)
        plt.ylabel("Neuron ID")
        plt.xticks([])
        xlim = plt.xlim()
        plt.axes([0.1, 0.1, 0.85, 0.17])
        edges = np.arange(np.amin(ts), np.amax(ts), float(hist_binwidth))
        rates = 1000 * _bin_counts(ts, edges) / (hist_binwidth * np.unique(neurons).size)
        plt.bar(edges, rates, width=hist_binwidth, color=bar_colour, edgecolor="black")
        plt.yticks([int(y) for y in np.linspace(0.0, int(max(rates) * 1.1) + 5, 4)])
        plt.ylabel("Rate (spks/s)")
        plt.xlabel(xlabel)
        plt.xlim(xlim)
        plt.axes(raster)
    else:
        handles = plt.plot(ts1, node_ids, marker)
        plt.xlabel(xlabel)
        plt.ylabel("Neuron ID")
    plt.title("Raster plot" if title is None else title)
    plt.draw()
    return handles


def from_data(data: np.ndarray, sel: Sequence[int] | None = None, **kwargs: Any) -> Any:
    """Plot the raster of ``data`` (node ids, times); ``sel`` keeps some senders in the raster only."""
    data = np.asarray(data)
    if len(data) == 0:
        raise ValueError("No data to plot.")
    picked = extract_events(data, sel=sel)
    return _make_plot(data[:, 1], picked[:, 1], picked[:, 0], data[:, 0], **kwargs)


def _read(fname: str) -> np.ndarray:
    """(sender, time) rows of a spike recorder's ascii file: three header lines, then the events."""
    return np.loadtxt(fname, skiprows=3, ndmin=2)


def from_file(fname: str | Sequence[str], **kwargs: Any) -> Any:
    """Plot the raster of one ascii file or of several concatenated (one per process, say)."""
    names = [fname] if isinstance(fname, str) else list(fname)
    return from_data(np.concatenate([_read(f) for f in names]), **kwargs)


def from_device(detec: Any, **kwargs: Any) -> Any:
    """Plot the raster of one spike recorder (its events in memory or its ascii files).

    Raises
    ------
    TypeError
        For a device that is not a spike recorder.
    ValueError
        When it recorded nothing, or records elsewhere.
    """
    if base_model(detec.get("model")) != "spike_recorder":
        raise TypeError("Please provide a 'spike_recorder'.")
    record_to = detec.get("record_to")
    if record_to == "ascii":
        return from_file(detec.get("filenames"), **kwargs)
    if record_to != "memory":
        raise ValueError("No data to plot. Make sure that 'record_to' is set to either 'ascii' or 'memory'.")
    ev = detec.get("events")
    ts, senders = ev["times"], ev["senders"]
    if not len(ts):
        raise ValueError("No events recorded by 'spike_recorder'.")
    kwargs.setdefault("title", "Raster plot from device '%i'" % detec.get("global_id"))
    xlabel = "Steps" if detec.get("time_in_steps") else "Time (ms)"
    return _make_plot(ts, ts, senders, senders, xlabel=xlabel, **kwargs)


def show() -> None:
    """Show the figures (``matplotlib.pyplot.show``)."""
    import matplotlib.pyplot as plt
    plt.show()
