"""Recorders and the spike_generator against NEST 3.10 run in the same session (``run_both``).

Events, ``n_events`` and its reset, nested ``get``, multimeter windows over
several Simulate calls, ascii files byte for byte, spike_generator options
and their error messages, CopyModel of devices.
"""
from __future__ import annotations

import os

import numpy as np
import pytest


def _driven(nest, n=3, i_e=(376.0, 450.0, 600.0)):
    return nest.Create("iaf_psc_alpha", n, {"I_e": list(i_e[:n])})


def _same_events(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for k in a:
        if k in ("senders", "times", "offsets"):
            np.testing.assert_array_equal(np.asarray(b[k]), np.asarray(a[k]), err_msg=k)
        else:   # state values: the core's arithmetic may differ from NEST's in the last bit
            np.testing.assert_allclose(np.asarray(b[k]), np.asarray(a[k]), rtol=1e-13, atol=1e-12, err_msg=k)


def test_spike_recorder_events_n_events_and_reset(run_both):
    def script(nest):
        n = _driven(nest)
        sr = nest.Create("spike_recorder")
        nest.Connect(n, sr)
        nest.Simulate(60.0)
        first = (sr.get("events"), sr.n_events)
        sr.n_events = 0
        cleared = sr.n_events
        nest.Simulate(60.0)
        return first, cleared, sr.get("events"), sr.n_events, sr.get("events", "times"), \
            sr.get("events", ["senders"])
    theirs, mine = run_both(script)
    _same_events(theirs[0][0], mine[0][0])
    assert mine[0][1] == theirs[0][1] > 3
    assert mine[1] == theirs[1] == 0
    _same_events(theirs[2], mine[2])
    assert mine[3] == theirs[3] > 0
    np.testing.assert_array_equal(mine[4], theirs[4])
    _same_events(theirs[5], mine[5])


def test_n_events_only_zero(run_both):
    def script(nest):
        sr = nest.Create("voltmeter")
        try:
            sr.n_events = 3
        except Exception as e:          # NEST's BadProperty, our ValueError
            return str(e).split(": ", 1)[-1] if "Setting status" in str(e) else str(e).split(": ", 1)[-1]
    theirs, mine = run_both(script)
    assert theirs == mine


@pytest.mark.parametrize("window", [{"start": 5.0, "stop": 27.0}, {"origin": 10.0, "start": 3.0, "stop": 41.5},
                                    {"start": 12.0}])
def test_multimeter_window_over_several_simulates(run_both, window):
    def script(nest):
        n = _driven(nest, 2)
        mm = nest.Create("multimeter", params={"record_from": ["V_m", "I_syn_ex"], "interval": 0.5, **window})
        vm = nest.Create("voltmeter", params=window)
        nest.Connect(mm, n)
        nest.Connect(vm, n)
        out = []
        for t in (10.0, 15.0, 20.0):
            nest.Simulate(t)
            out.append((mm.get("events"), vm.get("events"), mm.n_events, vm.get("events", "V_m")))
        return out
    theirs, mine = run_both(script)
    for a, b in zip(theirs, mine):
        _same_events(a[0], b[0])
        _same_events(a[1], b[1])
        assert a[2] == b[2]
        np.testing.assert_allclose(b[3], a[3], rtol=1e-13, atol=1e-12)


def test_recorder_time_in_steps_events(run_both):
    def script(nest):
        n = _driven(nest)
        sr = nest.Create("spike_recorder", params={"time_in_steps": True})
        vm = nest.Create("voltmeter", params={"time_in_steps": True})
        nest.Connect(n, sr)
        nest.Connect(vm, n)
        nest.Simulate(40.0)
        return sr.get("events"), vm.get("events")
    theirs, mine = run_both(script)
    _same_events(theirs[0], mine[0])
    _same_events(theirs[1], mine[1])


def _ascii_script(nest, path, prefix, overwrite=False, steps=False):
    nest.data_path = str(path)
    nest.data_prefix = prefix
    nest.overwrite_files = overwrite
    n = _driven(nest)
    sr = nest.Create("spike_recorder", params={"record_to": "ascii", "time_in_steps": steps})
    lab = nest.Create("spike_recorder", params={"record_to": "ascii", "label": "spikes", "precision": 5})
    mm = nest.Create("multimeter", params={"record_to": "ascii", "record_from": ["V_m", "I_syn_ex"],
                                           "interval": 0.5, "time_in_steps": steps})
    vm = nest.Create("voltmeter", params={"record_to": "ascii", "start": 7.0})
    nest.Connect(n, sr)
    nest.Connect(n, lab)
    nest.Connect(mm, n)
    nest.Connect(vm, n[1:])
    nest.Simulate(45.0)
    names = [d.get("filenames") for d in (sr, lab, mm, vm)]
    texts = {os.path.basename(f[0]): open(f[0]).read() for f in names}
    return names, texts, sr.get("record_to"), sr.n_events


@pytest.mark.parametrize("steps", [False, True])
def test_ascii_files_equal_nest(run_both, tmp_path, steps):
    (tmp_path / "nest").mkdir()
    (tmp_path / "ours").mkdir()
    dirs = iter([tmp_path / "nest", tmp_path / "ours"])
    theirs, mine = run_both(lambda nest: _ascii_script(nest, next(dirs), "run_", steps=steps))
    assert [[os.path.basename(f) for f in x] for x in mine[0]] == [[os.path.basename(f) for f in x] for x in theirs[0]]
    assert sorted(mine[1]) == sorted(theirs[1])
    for name in theirs[1]:
        assert mine[1][name] == theirs[1][name], name
    assert mine[2:] == theirs[2:]


def test_ascii_overwrite_files(run_both, tmp_path, capfd):
    """Each Simulate reopens the files: refused when they exist, else they hold that run's events only."""
    def script(nest, where, overwrite):
        nest.data_path = str(where)
        nest.overwrite_files = overwrite
        n = _driven(nest)
        sr = nest.Create("spike_recorder", params={"record_to": "ascii"})
        nest.Connect(n, sr)
        nest.Simulate(30.0)
        try:
            nest.Simulate(30.0)
        except Exception as e:
            return type(e).__name__
        return open(sr.filenames[0]).read()
    for sub in ("a", "b", "c", "d"):
        (tmp_path / sub).mkdir()
    dirs = iter([tmp_path / "a", tmp_path / "b"])
    theirs, mine = run_both(lambda nest: script(nest, next(dirs), True))
    assert mine == theirs and mine.count("\n") > 3
    dirs = iter([tmp_path / "c", tmp_path / "d"])
    theirs, mine = run_both(lambda nest: script(nest, next(dirs), False))
    assert theirs == "IOError" and mine == "OSError"
    assert "already exists and overwriting files is disabled" in capfd.readouterr().err


def test_copy_model_of_devices(run_both, tmp_path):
    def script(nest, where):
        nest.data_path = str(where)
        nest.data_prefix = ""
        nest.CopyModel("spike_recorder", "my_sr", {"record_to": "ascii", "start": 10.0})
        nest.CopyModel("spike_generator", "my_sg", {"spike_times": [2.0, 4.0, 6.0]})
        sg = nest.Create("my_sg")
        p = nest.Create("parrot_neuron")
        sr = nest.Create("my_sr")
        nest.Connect(sg, p)
        nest.Connect(p, sr)
        nest.Simulate(20.0)
        return (sr.get("model"), sr.get("record_to"), sr.get("start"), sg.get("spike_times").tolist(),
                os.path.basename(sr.filenames[0]), open(sr.filenames[0]).read(), nest.GetDefaults("my_sr", "start"))
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
    dirs = iter([tmp_path / "a", tmp_path / "b"])
    theirs, mine = run_both(lambda nest: script(nest, next(dirs)))
    assert mine == theirs


_SG_CASES = [
    {"spike_times": [1.0, 2.0, 2.0, 3.5]},
    {"spike_times": [1.23, 1.25, 1.35, 7.0], "allow_offgrid_times": True},
    {"allow_offgrid_times": True, "spike_times": [2.01]},
    {"spike_times": [1.0, 2.0, 5.0], "spike_multiplicities": [2, 0, 3]},
    {"spike_times": [1.0, 2.0, 3.0, 4.0, 9.0], "origin": 1.0, "start": 1.0, "stop": 3.0},
    {"spike_times": [1.0, 2.0, 3.0, 4.0], "start": 2.0},
    {"spike_times": [1.0, 2.0], "spike_weights": [1.0, 1.0]},
]


@pytest.mark.parametrize("params", _SG_CASES)
def test_spike_generator_options(run_both, params):
    def script(nest):
        sg = nest.Create("spike_generator", params=params)
        p = nest.Create("parrot_neuron")
        n = nest.Create("iaf_psc_alpha")
        sr = nest.Create("spike_recorder")
        vm = nest.Create("voltmeter", params={"interval": 0.1})
        nest.Connect(sg, p, syn_spec={"delay": 1.0})
        nest.Connect(sg, n, syn_spec={"weight": 600.0, "delay": 1.5})
        n2 = nest.Create("iaf_psc_alpha")
        sr_p = nest.Create("spike_recorder")
        nest.Connect(p, n2, syn_spec={"weight": 600.0})
        nest.Connect(n + n2, sr)
        nest.Connect(p, sr_p)
        nest.Connect(vm, n + n2)
        nest.Simulate(15.0)
        st = sg.get(["spike_times", "spike_multiplicities", "start", "stop", "origin", "allow_offgrid_times"])
        ev_p = sr_p.get("events")
        return ({k: np.asarray(v).tolist() for k, v in st.items()}, sr.get("events"), vm.get("events"),
                sorted(set(zip(ev_p["senders"].tolist(), ev_p["times"].tolist()))))
    theirs, mine = run_both(script)
    assert mine[0] == theirs[0]
    _same_events(theirs[1], mine[1])
    _same_events(theirs[2], mine[2])
    # a parrot's repeated spikes are recorded once here (NEST records each copy): compare the distinct ones
    assert mine[3] == theirs[3]


@pytest.mark.parametrize("params", [
    {"spike_times": [1.23]}, {"spike_times": [3.0, 1.0]}, {"spike_times": [0.0, 0.1]}, {"spike_times": [-1.0]},
    {"spike_times": [1.0, 2.0], "spike_multiplicities": [2]}, {"spike_times": [1.0], "spike_weights": [1.0, 2.0]},
])
def test_spike_generator_bad_input_messages(run_both, params):
    def script(nest):
        sg = nest.Create("spike_generator")
        try:
            sg.set(params)
        except Exception as e:
            return str(e).rsplit("spike_generator: ", 1)[-1].split(": ", 1)[-1] if "Setting status" in str(e) \
                else str(e).split(": ", 1)[-1]
        return None
    theirs, mine = run_both(script)
    assert theirs is not None and mine == theirs.removeprefix("spike_generator: ")


def test_spike_generator_unsupported_features_name_themselves(nest_ours):
    sg = nest_ours.Create("spike_generator")
    with pytest.raises(NotImplementedError, match="spike_weights"):
        sg.set(spike_times=[1.0, 2.0], spike_weights=[0.5, 1.0])
    with pytest.raises(NotImplementedError, match="precise_times"):
        sg.set(precise_times=True)


def test_events_keys_in_nest_order(run_both):
    def script(nest):
        n = _driven(nest, 1)
        sr = nest.Create("spike_recorder", params={"time_in_steps": True})
        mm = nest.Create("multimeter", params={"record_from": ["V_m", "I_syn_ex"]})
        nest.Connect(n, sr)
        nest.Connect(mm, n)
        nest.Simulate(10.0)
        return list(sr.get("events")), list(mm.events)
    theirs, mine = run_both(script)
    assert mine == theirs


def test_ascii_file_names_pad_the_node_id_as_nest(run_both, tmp_path):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
    dirs = iter([tmp_path / "a", tmp_path / "b"])

    def script(nest):
        nest.data_path = str(next(dirs))
        nest.data_prefix = ""
        early = nest.Create("spike_recorder")
        n = nest.Create("iaf_psc_alpha", 120, {"I_e": 500.0})
        early.record_to = "ascii"                                    # enrolled with 121 nodes: 3 digits
        late = nest.Create("spike_recorder", params={"record_to": "ascii", "label": "late"})
        meter = nest.Create("voltmeter", params={"record_to": "ascii"})
        nest.Connect(n[:3], early)
        nest.Connect(n[5:7], late)
        nest.Connect(meter, n[0])
        nest.Simulate(25.0)
        return [(os.path.basename(d.filenames[0]), open(d.filenames[0]).read()) for d in (early, late, meter)]
    theirs, mine = run_both(script)
    assert mine == theirs
