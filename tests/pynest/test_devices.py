"""Devices: spike_recorder, voltmeter/multimeter, spike_generator, poisson_generator, dc_generator."""
from __future__ import annotations

import numpy as np
import pytest


def test_spike_generator_spikes_reach_target_after_delay(nest_ours):
    nest = nest_ours
    sg = nest.Create("spike_generator", params={"spike_times": [5.0, 12.3]})
    n = nest.Create("iaf_psc_exp", 1, {"tau_syn_ex": 0.5})
    vm = nest.Create("voltmeter", params={"interval": 0.1})
    nest.Connect(sg, n, syn_spec={"weight": 1000.0, "delay": 2.0})
    nest.Connect(vm, n)
    nest.Simulate(20.0)
    ev = vm.get("events")
    t, v = ev["times"], ev["V_m"]
    # V_m is at rest until the first spike arrives at 5 + 2 ms and rises right after
    assert np.all(v[t <= 7.0 + 1e-9] == -70.0)
    assert v[np.isclose(t, 7.1)][0] > -70.0
    assert sg.get("spike_times").tolist() == [5.0, 12.3]
    assert set(ev["senders"].tolist()) == {n.global_id}


def test_spike_recorder_events_in_nest_ids_and_start_stop(nest_ours):
    nest = nest_ours
    n = nest.Create("iaf_psc_exp", 3, {"I_e": [0.0, 500.0, 800.0]})
    sr = nest.Create("spike_recorder")
    late = nest.Create("spike_recorder", params={"start": 50.0, "stop": 80.0})
    nest.Connect(n[1:], sr)
    nest.Connect(n, late)
    nest.Simulate(100.0)
    ev = sr.events
    assert set(ev["senders"].tolist()) == {2, 3}
    assert sr.n_events == ev["times"].size > 5
    assert np.all(np.diff(ev["times"]) >= 0)
    lt = late.get("events")["times"]
    assert lt.size > 0 and lt.min() > 50.0 and lt.max() <= 80.0
    assert set(lt.tolist()) <= set(ev["times"].tolist())
    assert late.get("stop") == 80.0


def test_multimeter_record_from_and_interval(nest_ours):
    nest = nest_ours
    n = nest.Create("iaf_psc_alpha", 2, {"I_e": 100.0})
    mm = nest.Create("multimeter", params={"record_from": ["V_m", "I_syn_ex"], "interval": 0.5})
    nest.Connect(mm, n)
    with pytest.raises(ValueError, match="interval"):
        nest.Create("voltmeter", params={"interval": 0.25 + 1e-3})
    with pytest.raises(ValueError, match="foo"):
        nest.Create("multimeter", params={"record_from": ["foo"]})
    with pytest.raises(NotImplementedError, match="offset"):
        nest.Create("multimeter", params={"offset": 1.0})
    nest.Simulate(10.0)
    ev = mm.get("events")
    assert set(ev) == {"senders", "times", "V_m", "I_syn_ex"}
    # NEST reports samples one min-delay slice late; the only connections are the
    # meter's (delay 1 ms), so after 10 ms the samples at 0.5 .. 9.0 ms are there
    assert np.allclose(np.unique(ev["times"]), np.arange(1, 19) * 0.5)
    assert ev["V_m"].size == 2 * 18 and np.all(ev["I_syn_ex"] == 0.0)
    nest.Simulate(1.0)
    assert np.allclose(np.unique(mm.get("events")["times"]), np.arange(1, 21) * 0.5)
    assert mm.get("record_from") == ["V_m", "I_syn_ex"]


def test_poisson_generator_rate_and_independent_trains(nest_ours):
    nest = nest_ours
    nest.rng_seed = 12
    rate, T = 20000.0, 1000.0
    n = nest.Create("iaf_psc_exp", 2, {"tau_syn_ex": 1.0, "V_th": 1e6})   # never spikes
    pg = nest.Create("poisson_generator", params={"rate": rate, "start": 100.0, "stop": 900.0})
    mm = nest.Create("multimeter", params={"record_from": ["I_syn_ex"], "interval": 0.1})
    nest.Connect(pg, n, syn_spec={"weight": 1.0})
    nest.Connect(mm, n)
    nest.Simulate(T)
    ev = mm.get("events")
    i0 = ev["I_syn_ex"][ev["senders"] == 1]
    i1 = ev["I_syn_ex"][ev["senders"] == 2]
    t = ev["times"][ev["senders"] == 1]
    # no input outside [start, stop] (plus the decay after stop)
    assert np.all(i0[t <= 100.0 + 1e-9] == 0.0)
    # sampled right after each step's input, the mean current is
    # (spikes per step) * weight / (1 - exp(-h/tau_syn)) = 2 / (1 - e^-0.1) = 21.02 pA;
    # the standard error of a 700 ms mean is about 0.12 pA
    on = (t > 200.0) & (t < 900.0)
    expected = rate * 1e-3 * 0.1 / (1.0 - np.exp(-0.1))
    assert abs(i0[on].mean() - expected) < 0.5 and abs(i1[on].mean() - expected) < 0.5
    # independent trains per target (as NEST): the two currents differ
    assert not np.allclose(i0[on], i1[on])


def test_generator_parameters_change_between_simulate_calls(nest_ours):
    nest = nest_ours
    n = nest.Create("iaf_psc_exp", 1, {"tau_syn_ex": 1.0, "V_th": 1e6})
    pg = nest.Create("poisson_generator", params={"rate": 5000.0})
    dc = nest.Create("dc_generator")
    mm = nest.Create("multimeter", params={"record_from": ["I_syn_ex", "V_m"], "interval": 0.1})
    nest.Connect(pg, n)
    nest.Connect(dc, n)
    nest.Connect(mm, n)
    nest.Simulate(100.0)
    pg.set(rate=0.0)
    dc.amplitude = 250.0
    assert pg.rate == 0.0 and nest.GetStatus(dc, "amplitude") == (250.0,)
    nest.Simulate(100.0)
    ev = mm.get("events")
    t, i = ev["times"], ev["I_syn_ex"]
    assert i[(t > 50) & (t < 100)].mean() > 1.0
    assert np.all(i[t > 130.0] < 1e-6)                      # input has stopped and decayed
    v = ev["V_m"]
    assert v[-1] > -70.0 + 0.9 * 250.0 * 10.0 / 250.0         # the DC step charges the membrane
    with pytest.raises(ValueError, match="rate"):
        pg.set(rate=-1.0)
    with pytest.raises(ValueError, match="foo"):
        dc.set(foo=1.0)


def test_generator_stop_is_reported_as_nest_does(nest_ours):
    nest = nest_ours
    pg = nest.Create("poisson_generator")
    assert pg.stop == np.finfo(float).max
    assert nest.GetDefaults("dc_generator", "stop") == np.finfo(float).max
