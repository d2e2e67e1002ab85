"""``nest.voltage_trace`` and ``nest.raster_plot``: the figures' data equal NEST's for the same recordings."""
from __future__ import annotations

import os

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _figure_data(fig) -> list[dict]:
    """Everything a reader sees on each axes: lines, bars, labels, title, legend, limits and ticks."""
    out = []
    for ax in fig.axes:
        out.append({
            "lines": [(np.asarray(ln.get_xdata(), float).tolist(), np.asarray(ln.get_ydata(), float).tolist(),
                       ln.get_marker(), ln.get_label()) for ln in ax.get_lines()],
            "bars": [(p.get_x(), p.get_width(), p.get_height()) for p in ax.patches],
            "title": ax.get_title(), "xlabel": ax.get_xlabel(), "ylabel": ax.get_ylabel(),
            "legend": [t.get_text() for t in ax.get_legend().get_texts()] if ax.get_legend() else None,
            "xlim": ax.get_xlim(), "yticks": ax.get_yticks().tolist(), "position": ax.get_position().bounds,
        })
    return out


def _network(nest, where=None, record_to="memory"):
    if where is not None:
        nest.data_path = str(where)
        nest.data_prefix = ""
    n = nest.Create("iaf_psc_alpha", 4, {"I_e": [376.0, 450.0, 600.0, 800.0]})
    sr = nest.Create("spike_recorder", params={"record_to": record_to})
    vm = nest.Create("voltmeter", params={"record_to": record_to})
    nest.Connect(n, sr)
    nest.Connect(vm, n[:2])
    nest.Simulate(120.0)
    return sr, vm


def test_voltage_trace_from_device(run_both):
    def script(nest):
        plt.close("all")
        _, vm = _network(nest)
        plt.figure()
        nest.voltage_trace.from_device(vm)
        plt.figure()
        nest.voltage_trace.from_device(vm, neurons=[2], title="one", timeunit="s", grayscale=True)
        return [_figure_data(plt.figure(k)) for k in plt.get_fignums()]
    theirs, mine = run_both(script)
    assert len(mine) == len(theirs) == 2
    for a, b in zip(theirs, mine):
        for axa, axb in zip(a, b):
            for la, lb in zip(axa.pop("lines"), axb.pop("lines")):
                np.testing.assert_array_equal(lb[0], la[0])
                np.testing.assert_allclose(lb[1], la[1], rtol=1e-6)    # NEST keeps single precision
                assert lb[2:] == la[2:]
            assert axa == axb


def test_raster_plot_from_device_and_data(run_both):
    def script(nest):
        plt.close("all")
        sr, _ = _network(nest)
        nest.raster_plot.from_device(sr, hist=True)
        nest.raster_plot.from_device(sr, hist=False, title="no histogram")
        ev = sr.get("events")
        data = np.column_stack([ev["senders"], ev["times"]])
        nest.raster_plot.from_data(data, sel=[2, 3], hist_binwidth=10.0, grayscale=True)
        return [_figure_data(plt.figure(k)) for k in plt.get_fignums()]
    theirs, mine = run_both(script)
    assert len(mine) == len(theirs) == 3
    assert mine == theirs
    assert any(ax["bars"] for ax in mine[0])


def test_plots_from_ascii_files(run_both, tmp_path):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
    dirs = iter([tmp_path / "a", tmp_path / "b"])

    def script(nest):
        plt.close("all")
        where = next(dirs)
        sr, vm = _network(nest, where, record_to="ascii")
        nest.raster_plot.from_device(sr)
        # NEST 3.10's voltage_trace cannot read its own files (np.loadtxt stops at the header):
        # plot the numbers of the voltmeter's file without its three header lines, which NEST reads
        bare = where / "bare.dat"
        bare.write_text("".join(open(vm.filenames[0]).readlines()[3:]))
        plt.figure()
        nest.voltage_trace.from_file(str(bare))
        nest.raster_plot.from_file(sr.filenames[0], hist_binwidth=20.0)
        figs = [_figure_data(plt.figure(k)) for k in plt.get_fignums()]
        for ax in figs[1]:          # the title names the file, whose directory differs between the runs
            ax["title"] = ax["title"].replace(str(where), "<dir>")
        return figs
    theirs, mine = run_both(script)
    assert mine == theirs
    assert os.path.basename(str(tmp_path)) not in str(mine)
