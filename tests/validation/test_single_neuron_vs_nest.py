"""Single neurons against NEST 3.10: DC steps, spike input through several delays, refractoriness.

Spike times must be identical and V_m must agree to 1e-9 mV at every 0.1 ms
sample; the same script runs with ``nest`` and with ``cortex_gpu.pynest``.
"""
from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.nest

T_MS = 1000.0
DELAYS_MS = (0.1, 1.0, 2.3)

#: One neuron per case; non-default parameters exercise every propagator.
CASES = {
    "dc_steps": {},
    "dc_steps_shifted_rest": {"E_L": -65.0, "V_reset": -68.0, "C_m": 200.0, "tau_m": 8.0},
    "spike_input": {"I_e": 250.0},
    "spike_input_slow_syn": {"I_e": 300.0, "tau_syn_ex": 1.5, "tau_syn_in": 3.0, "t_ref": 3.0},
    "refractory": {"I_e": 1200.0, "t_ref": 2.0},
    "refractory_long": {"I_e": 2000.0, "t_ref": 4.7, "V_reset": -72.0},
}


def single_neurons(nest, model: str):
    """Six neurons of ``model``; returns (spike senders, times, V_m senders, times, V_m)."""
    nest.resolution = 0.1
    names = list(CASES)
    nrn = nest.Create(model, len(names))
    for node, name in zip(nrn, names):
        node.set(CASES[name])
    by = {name: nrn[i] for i, name in enumerate(names)}
    dc_targets = by["dc_steps"] + by["dc_steps_shifted_rest"]

    # DC steps: two overlapping generators, one with weight 2, each with start and stop.
    dc1 = nest.Create("dc_generator", params={"amplitude": 250.0, "start": 100.0, "stop": 600.0})
    dc2 = nest.Create("dc_generator", params={"amplitude": 80.0, "start": 350.0, "stop": 850.3})
    nest.Connect(dc1, dc_targets)
    nest.Connect(dc2, dc_targets, syn_spec={"weight": 2.0})

    # Spike input: excitatory and inhibitory trains through three delays.
    rng = np.random.default_rng(11)
    spk = by["spike_input"] + by["spike_input_slow_syn"]
    for d in DELAYS_MS:
        for w in (600.0, -450.0):
            times = np.round(np.sort(rng.choice(np.arange(1, 9900), 40, replace=False)) * 0.1, 1)
            sg = nest.Create("spike_generator", params={"spike_times": times.tolist()})
            nest.Connect(sg, spk, syn_spec={"weight": w, "delay": d})

    sr = nest.Create("spike_recorder")
    vm = nest.Create("voltmeter", params={"interval": 0.1})
    nest.Connect(nrn, sr)
    nest.Connect(vm, nrn)
    nest.Simulate(T_MS)
    s, v = sr.get("events"), vm.get("events")
    return (np.asarray(s["senders"]), np.asarray(s["times"]), np.asarray(v["senders"]),
            np.asarray(v["times"]), np.asarray(v["V_m"]))


@pytest.mark.parametrize("model", ["iaf_psc_exp", "iaf_psc_alpha"])
def test_single_neurons_match_nest(run_both, model):
    theirs, mine = run_both(single_neurons, model)
    n_cases = len(CASES)
    # spikes: identical (sender, time) sets, and every case spikes
    ts, tt = theirs[0].astype(int), theirs[1]
    ms, mt = mine[0].astype(int), mine[1]
    o1, o2 = np.lexsort((tt, ts)), np.lexsort((mt, ms))
    np.testing.assert_array_equal(ms[o2], ts[o1])
    np.testing.assert_array_equal(mt[o2], tt[o1])
    per_case = np.bincount(ts, minlength=n_cases + 1)[1:]
    assert np.all(per_case >= 3), per_case       # each case drives the neuron over threshold
    # refractory neurons fire at their maximal rate: inter-spike intervals > t_ref
    assert np.diff(tt[ts == 5]).min() > 2.0
    # V_m at every 0.1 ms sample over the whole run
    vs, vt, vv = theirs[2].astype(int), theirs[3], theirs[4]
    ws, wt, wv = mine[2].astype(int), mine[3], mine[4]
    # NEST reports the samples at 0.1 .. T-0.1 ms after Simulate(T) (see devices.MultimeterDevice)
    assert vt.size == n_cases * (round(T_MS / 0.1) - 1)
    o1, o2 = np.lexsort((vt, vs)), np.lexsort((wt, ws))
    np.testing.assert_array_equal(ws[o2], vs[o1])
    np.testing.assert_allclose(wt[o2], vt[o1], rtol=0, atol=1e-9)
    dv = np.abs(wv[o2] - vv[o1]).max()
    print(f"{model}: {ts.size} spikes compared, {vt.size} V_m samples, max |dV_m| = {dv:.3e} mV")
    assert dv <= 1e-9
