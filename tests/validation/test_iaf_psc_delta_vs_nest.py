"""iaf_psc_delta against NEST 3.10: DC steps, spike input, refractoriness with and without
refractory_input, V_min; bad parameters refused as NEST refuses them.

Spike times must be identical and V_m (the model's only recordable) must agree to 1e-9 mV at
every 0.1 ms sample over 1 s; the same script runs with ``nest`` and with ``cortex_gpu.pynest``.
Weights are multiples of 2**-4 mV, which the fixed-point accumulators hold exactly.
"""
from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.nest

T_MS = 1000.0
DELAYS_MS = (0.1, 1.0, 2.3)

#: One neuron per case.
CASES = {
    "dc_steps": {},
    "dc_steps_shifted_rest": {"E_L": -65.0, "V_reset": -68.0, "C_m": 200.0, "tau_m": 8.0},
    "spike_input": {"I_e": 300.0},
    "refractory_drop": {"I_e": 360.0, "t_ref": 3.0},
    "refractory_input": {"I_e": 360.0, "t_ref": 3.0, "refractory_input": True},
    "refractory_input_long": {"I_e": 500.0, "t_ref": 4.7, "V_reset": -72.0, "refractory_input": True},
    "v_min": {"I_e": 300.0, "V_min": -72.5},
}


def delta_neurons(nest):
    """One iaf_psc_delta per case; returns (spike senders, times, V_m senders, times, V_m)."""
    nest.resolution = 0.1
    names = list(CASES)
    nrn = nest.Create("iaf_psc_delta", len(names))
    for node, name in zip(nrn, names):
        node.set(CASES[name])
    by = {name: nrn[i] for i, name in enumerate(names)}
    dc_targets = by["dc_steps"] + by["dc_steps_shifted_rest"]
    dc1 = nest.Create("dc_generator", params={"amplitude": 400.0, "start": 100.0, "stop": 600.0})
    dc2 = nest.Create("dc_generator", params={"amplitude": 80.0, "start": 350.0, "stop": 850.3})
    nest.Connect(dc1, dc_targets)
    nest.Connect(dc2, dc_targets, syn_spec={"weight": 2.0})

    # excitatory and inhibitory trains through three delays, dense enough that many spikes
    # arrive while the driven neurons are refractory
    rng = np.random.default_rng(7)
    spk = nrn[2:]
    for d in DELAYS_MS:
        for w in (1.5, 2.0, -1.25, -4.0):
            times = np.round(np.sort(rng.choice(np.arange(1, 9900), 300, replace=False)) * 0.1, 1)
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


def test_iaf_psc_delta_matches_nest(run_both):
    theirs, mine = run_both(delta_neurons)
    n_cases = len(CASES)
    ts, tt = theirs[0].astype(int), theirs[1]
    ms, mt = mine[0].astype(int), mine[1]
    o1, o2 = np.lexsort((tt, ts)), np.lexsort((mt, ms))
    np.testing.assert_array_equal(ms[o2], ts[o1])
    np.testing.assert_array_equal(mt[o2], tt[o1])
    per_case = np.bincount(ts, minlength=n_cases + 1)[1:]
    assert np.all(per_case >= 3), per_case
    vs, vt, vv = theirs[2].astype(int), theirs[3], theirs[4]
    ws, wt, wv = mine[2].astype(int), mine[3], mine[4]
    assert vt.size == n_cases * (round(T_MS / 0.1) - 1)
    o1, o2 = np.lexsort((vt, vs)), np.lexsort((wt, ws))
    np.testing.assert_array_equal(ws[o2], vs[o1])
    np.testing.assert_array_equal(wt[o2], vt[o1])
    assert np.max(np.abs(wv[o2] - vv[o1])) <= 1e-9
    v = {name: vv[o1][vs[o1] == i + 1] for i, name in enumerate(CASES)}
    # the cases exercise what they are named for
    assert v["v_min"].min() == pytest.approx(-72.5) and v["spike_input"].min() < -72.5
    assert not np.array_equal(v["refractory_drop"], v["refractory_input"])   # buffered input changed V_m


def bad_delta(nest, key, value):
    n = nest.Create("iaf_psc_delta")
    try:
        n.set({key: value})
    except Exception as e:  # noqa: BLE001 - the message is compared
        return type(e).__name__, str(e)
    return None


@pytest.mark.parametrize("key,value", [("C_m", 0.0), ("C_m", -5.0), ("tau_m", -1.0), ("t_ref", -0.5),
                                       ("V_reset", -50.0)])
def test_bad_parameters_refused_like_nest(run_both, key, value):
    theirs, mine = run_both(bad_delta, key, value)
    assert theirs is not None and mine is not None, (theirs, mine)
    assert "iaf_psc_delta" in mine[1] and key in mine[1] and str(value) in mine[1], mine


def test_defaults_and_recordables_match_nest(run_both):
    def defaults(nest):
        d = nest.GetDefaults("iaf_psc_delta")
        keys = ("E_L", "C_m", "tau_m", "t_ref", "V_th", "V_reset", "V_min", "I_e", "refractory_input", "V_m",
                "tau_minus")
        n = nest.Create("iaf_psc_delta", 2)
        n[1].set(refractory_input=True)
        return {k: d[k] for k in keys}, list(d["recordables"]), n.get("refractory_input")
    theirs, mine = run_both(defaults)
    assert mine == theirs
    assert type(mine[0]["refractory_input"]) is bool
