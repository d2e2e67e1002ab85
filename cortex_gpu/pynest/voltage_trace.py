"""``nest.voltage_trace``: membrane-potential plots from a voltmeter or multimeter, or from its files.

The figures are NEST's (same lines, labels, titles and legends), drawn with
matplotlib's current figure: ``from_device`` plots one line per recorded
neuron against time, ``from_file`` reads the columns of the recorder's
ascii files (one: V_m only; two: sender, V_m; three: sender, time, V_m).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .models import base_model

__all__ = ["from_device", "from_file", "show"]


def _load(fname: str | Sequence[str]) -> np.ndarray:
    """The numbers of one file, or of several concatenated (the header lines are comments)."""
    names = list(fname) if isinstance(fname, (list, tuple)) else [fname]
    return np.concatenate([np.loadtxt(f, comments=["#", "sender", "time"]) for f in names])


def from_file(fname: str | Sequence[str], title: str | None = None, grayscale: bool = False) -> Any:
    """Plot the voltage traces in the file(s) ``fname``; returns the line handles, as NEST's.

    Raises
    ------
    ValueError
        For files with more than three columns.
    """
    import matplotlib.pyplot as plt

    data = _load(fname)
    style = "k" if grayscale else ""
    if data.ndim == 1:
        print("INFO: only found 1 column in the file. Assuming that only one neuron was recorded.")
        handles = plt.plot(data, style)
        plt.xlabel("Time (steps of length interval)")
    elif data.shape[1] in (2, 3):
        senders = list(dict.fromkeys(data[:, 0].tolist()))        # first-seen order
        handles = []
        for s in senders:
            rows = data[data[:, 0] == s]
            if data.shape[1] == 2:
                handles.append(plt.plot(rows[:, 1], style, label="Neuron %i" % s))
            else:
                # NEST plots every sender against the times of the first sender
                times = data[data[:, 0] == data[0, 0], 1]
                handles.append(plt.plot(times, rows[:, 2], style, label="Neuron %i" % s))
        plt.xlabel("Time (steps of length interval)" if data.shape[1] == 2 else "Time (ms)")
        plt.legend()
    else:
        raise ValueError(f"Inappropriate data shape {data.shape}!")
    plt.title(title or "Membrane potential from file '%s'" % (fname,))
    plt.ylabel("Membrane potential (mV)")
    plt.draw()
    return handles


def _traces(detec: Any) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """Times and V_m per sender, in first-seen order, as single precision (NEST keeps them so)."""
    ev = detec.get("events")
    times, volts = {}, {}
    senders = np.asarray(ev["senders"])
    for s in dict.fromkeys(senders.tolist()):
        keep = senders == s
        times[s] = np.asarray(ev["times"], float)[keep].astype(np.float32)
        volts[s] = np.asarray(ev["V_m"], float)[keep].astype(np.float32)
    return times, volts


def from_device(detec: Any, neurons: Sequence[int] | None = None, title: str | None = None,
                grayscale: bool = False, timeunit: str = "ms") -> Any:
    """Plot the membrane potential recorded by one voltmeter or multimeter; returns the line handles.

    ``neurons`` picks senders (node ids); ``timeunit`` 's' plots seconds.

    Raises
    ------
    ValueError
        For several devices, a multimeter not recording V_m, or no events.
    TypeError
        For a device that is not a voltmeter or multimeter.
    """
    import matplotlib.pyplot as plt

    if len(detec) > 1:
        raise ValueError("Please provide a single 'voltmeter' or 'multimeter'.")
    kind = base_model(detec.get("model"))
    if kind not in ("voltmeter", "multimeter"):
        raise TypeError("Please provide a 'voltmeter' or a 'multimeter' measuring V_m.")
    record_to = detec.get("record_to")
    if kind == "multimeter":
        if "V_m" not in detec.get("record_from"):
            raise ValueError("Please provide a 'multimeter' measuring 'V_m'.")
        if record_to != "memory" and len(detec.get("record_from")) > 1:
            raise ValueError("Please provide a 'multimeter' measuring only 'V_m' or record to memory.")
    if record_to == "ascii":
        return from_file(detec.get("filenames"), title, grayscale)
    if record_to != "memory":
        raise ValueError("Provided device neither records to ascii file nor to memory.")
    in_steps = detec.get("time_in_steps")
    factor = 1000.0 if timeunit == "s" and not in_steps else 1.0
    if not in_steps and timeunit != "s":
        timeunit = "ms"
    times, volts = _traces(detec)
    if not times:
        raise ValueError("No events recorded.")
    handles = []
    for n in (volts.keys() if neurons is None else neurons):
        if n not in volts:
            print("INFO: Wrong ID: {0}".format(n))
            continue
        handles.append(plt.plot(times[n] / factor, volts[n], "k" if grayscale else "",
                                label="Neuron %i" % n))
    plt.title(title or "Membrane potential")
    plt.ylabel("Membrane potential (mV)")
    plt.xlabel("Steps" if in_steps else "Time (%s)" % timeunit)
    plt.legend(loc="best")
    plt.draw()
    return handles


def show() -> None:
    """Show the figures (``matplotlib.pyplot.show``)."""
    import matplotlib.pyplot as plt
    plt.show()
