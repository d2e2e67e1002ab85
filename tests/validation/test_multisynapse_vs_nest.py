"""iaf_psc_exp_multisynapse and iaf_psc_alpha_multisynapse against NEST 3.10: DC steps, excitatory and
inhibitory spikes on every receptor port, refractoriness, V_min; bad ports and parameters refused as NEST
refuses them; defaults and recordables as NEST reports them.

Spike times must be identical and V_m, I_syn and every I_syn_k must agree to 1e-9 (mV, pA) at every
0.1 ms sample over 1 s; the same script runs with ``nest`` and with ``cortex_gpu.pynest``. Weights are
multiples of 2**-4 pA, which the fixed-point accumulators hold exactly.
"""
from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.nest

T_MS = 1000.0
DELAYS_MS = (0.1, 1.0, 2.3)
MODELS = ("iaf_psc_exp_multisynapse", "iaf_psc_alpha_multisynapse")
TAU_SYN = [0.5, 2.0, 5.0, 7.5]

#: One neuron per case (V_min only for the alpha model).
CASES = {
    "dc_steps": {},
    "dc_steps_shifted_rest": {"E_L": -65.0, "V_reset": -68.0, "C_m": 200.0, "tau_m": 8.0},
    "spike_input": {"I_e": 300.0},
    "refractory": {"I_e": 360.0, "t_ref": 3.0},
    "refractory_long": {"I_e": 500.0, "t_ref": 4.7, "V_reset": -72.0, "tau_syn": [1.0, 3.0, 9.0]},
    "v_min": {"I_e": 300.0, "V_min": -72.5},
}


def cases(model: str) -> dict[str, dict]:
    return {k: v for k, v in CASES.items() if k != "v_min" or "alpha" in model}


def multisynapse_neurons(nest, model):
    """One neuron of ``model`` per case; returns spike (senders, times) and the multimeter's events."""
    nest.resolution = 0.1
    names = list(cases(model))
    nrn = nest.Create(model, len(names), params={"tau_syn": TAU_SYN})
    for node, name in zip(nrn, names):
        node.set(CASES[name])
    by = {name: nrn[i] for i, name in enumerate(names)}
    dc_targets = by["dc_steps"] + by["dc_steps_shifted_rest"]
    dc1 = nest.Create("dc_generator", params={"amplitude": 400.0, "start": 100.0, "stop": 600.0})
    dc2 = nest.Create("dc_generator", params={"amplitude": 80.0, "start": 350.0, "stop": 850.3})
    nest.Connect(dc1, dc_targets)
    nest.Connect(dc2, dc_targets, syn_spec={"weight": 2.0})
    # excitatory and inhibitory trains on every port, through three delays, dense enough that many
    # spikes arrive while the driven neurons are refractory
    rng = np.random.default_rng(11)
    spk = nrn[2:]
    for port in (1, 2, 3):
        for d in DELAYS_MS:
            for w in (150.0, 212.5, -125.0, -400.0):
                times = np.round(np.sort(rng.choice(np.arange(1, 9900), 60, replace=False)) * 0.1, 1)
                sg = nest.Create("spike_generator", params={"spike_times": times.tolist()})
                nest.Connect(sg, spk, syn_spec={"weight": w, "delay": d, "receptor_type": port})
    # the fourth port of the common tau_syn gets one train (refractory_long has three ports only)
    sg = nest.Create("spike_generator", params={"spike_times": [50.0, 50.1, 300.0, 700.0]})
    nest.Connect(sg, nrn[:4], syn_spec={"weight": 300.0, "delay": 0.5, "receptor_type": 4})
    sr = nest.Create("spike_recorder")
    rec = ["V_m", "I_syn", "I_syn_1", "I_syn_2", "I_syn_3"]
    mm = nest.Create("multimeter", params={"interval": 0.1, "record_from": rec})
    nest.Connect(nrn, sr)
    nest.Connect(mm, nrn)
    nest.Simulate(T_MS)
    s, v = sr.get("events"), mm.get("events")
    return (np.asarray(s["senders"]), np.asarray(s["times"]),
            {k: np.asarray(v[k]) for k in ["senders", "times"] + rec})


@pytest.mark.parametrize("model", MODELS)
def test_multisynapse_matches_nest(run_both, model):
    theirs, mine = run_both(multisynapse_neurons, model)
    n_cases = len(cases(model))
    ts, tt = theirs[0].astype(int), theirs[1]
    ms, mt = mine[0].astype(int), mine[1]
    o1, o2 = np.lexsort((tt, ts)), np.lexsort((mt, ms))
    np.testing.assert_array_equal(ms[o2], ts[o1])
    np.testing.assert_array_equal(mt[o2], tt[o1])
    per_case = np.bincount(ts, minlength=n_cases + 1)[1:]
    assert np.all(per_case >= 3), per_case
    a, b = theirs[2], mine[2]
    assert a["times"].size == n_cases * (round(T_MS / 0.1) - 1)
    o1 = np.lexsort((a["times"], a["senders"]))
    o2 = np.lexsort((b["times"], b["senders"]))
    np.testing.assert_array_equal(b["senders"][o2], a["senders"][o1])
    np.testing.assert_array_equal(b["times"][o2], a["times"][o1])
    for key in ("V_m", "I_syn", "I_syn_1", "I_syn_2", "I_syn_3"):
        err = np.max(np.abs(b[key][o2] - a[key][o1]))
        assert err <= 1e-9, (key, err)
    # the cases exercise what they are named for: currents of both signs on every port
    for k in (1, 2, 3):
        cur = a[f"I_syn_{k}"][o1]
        assert cur.min() < -100.0 and cur.max() > 100.0, k
    if "alpha" in model:
        vm = a["V_m"][o1][a["senders"][o1] == list(cases(model)).index("v_min") + 1]
        assert vm.min() == pytest.approx(-72.5)


def bad_port(nest, model, source, port):
    n = nest.Create(model, params={"tau_syn": [1.0, 2.0, 3.0]})
    src = nest.Create(source)
    try:
        nest.Connect(src, n, syn_spec={"receptor_type": port})
    except Exception as e:  # noqa: BLE001 - the class and message are compared
        return type(e).__name__, str(e)
    return None


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("source,port", [("spike_generator", 4), ("spike_generator", 0), ("iaf_psc_alpha", 7),
                                         ("poisson_generator", 0), ("poisson_generator", 5),
                                         ("dc_generator", 1)])
def test_unknown_ports_refused_like_nest(run_both, model, source, port):
    theirs, mine = run_both(bad_port, model, source, port)
    assert theirs is not None and mine is not None, (theirs, mine)
    assert mine[0] == theirs[0], (theirs, mine)
    assert model in mine[1] and f"Receptor type {port}" in mine[1], mine
    if theirs[0] == "IncompatibleReceptorType":
        assert "1..3" in mine[1], mine     # the allowed range


def good_ports(nest, model):
    """Ports 1..4 accepted from every kind of source after a SetStatus grew tau_syn; once connected, the
    number of ports cannot change (NEST's BadProperty), the time constants can."""
    n = nest.Create(model, params={"tau_syn": [1.0, 2.0, 3.0]})
    n.set(tau_syn=[1.0, 2.0, 3.0, 4.0])
    for source in ("spike_generator", "poisson_generator", "iaf_psc_exp_multisynapse"):
        for port in (1, 2, 3, 4):
            nest.Connect(nest.Create(source), n, syn_spec={"receptor_type": port})
    nest.Connect(nest.Create("dc_generator"), n)
    n.set(tau_syn=[1.5, 2.0, 3.0, 4.0])
    try:
        n.set(tau_syn=[1.0, 2.0])
        refused = None
    except Exception as e:  # noqa: BLE001 - the class is compared
        refused = type(e).__name__
    return n.get("n_synapses"), list(n.get("recordables")), list(n.get("tau_syn")), refused


@pytest.mark.parametrize("model", MODELS)
def test_ports_accepted_like_nest(run_both, model):
    theirs, mine = run_both(good_ports, model)
    assert mine == theirs


def bad_param(nest, model, params):
    n = nest.Create(model)
    try:
        n.set(params)
    except Exception as e:  # noqa: BLE001 - the message is compared
        return type(e).__name__, str(e)
    return None


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("params", [{"C_m": 0.0}, {"tau_m": -1.0}, {"t_ref": -0.5}, {"V_reset": -50.0},
                                    {"tau_syn": [1.0, -2.0]}, {"tau_syn": [1.0, 0.0]}, {"tau_syn": [10.0]}])
def test_bad_parameters_refused_like_nest(run_both, model, params):
    theirs, mine = run_both(bad_param, model, params)
    assert (theirs is None) == (mine is None), (theirs, mine)   # tau_syn == tau_m: exp refuses, alpha takes it
    if theirs is not None:
        key, value = next(iter(params.items()))
        assert model in mine[1] and key in mine[1], mine
        assert str(value if np.ndim(value) == 0 else value[-1]) in mine[1], mine


def test_defaults_and_recordables_match_nest(run_both):
    def defaults(nest):
        out = {}
        for model in MODELS:
            d = nest.GetDefaults(model)
            keys = ["E_L", "C_m", "tau_m", "t_ref", "V_th", "V_reset", "I_e", "V_m", "tau_minus", "n_synapses",
                    "recordables"] + (["V_min"] if "alpha" in model else [])
            out[model] = {k: d[k] for k in keys}
            out[model]["tau_syn"] = list(d["tau_syn"])
            n = nest.Create(model, 2, params={"tau_syn": [1.0, 2.0]})
            n[1].set(tau_syn=[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.5, 11.0])
            out[model]["node_recordables"] = [list(x) for x in n.get("recordables")]
            out[model]["node_tau_syn"] = [list(x) for x in n.get("tau_syn")]
        return out

    theirs, mine = run_both(defaults)
    assert mine == theirs
