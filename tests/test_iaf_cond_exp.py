"""iaf_cond_exp without NEST: analytic relaxation, conductance decay, refractory clamp, bad input, state access."""
from __future__ import annotations

import importlib
import re

import numba
import numpy as np
import pytest

from cortex_gpu.engine import Simulation
from cortex_gpu.models import NEURON_MODELS, ModelError
from cortex_gpu.network import Network
from cortex_gpu.record import RECORDABLE_CODES

H = 0.1


def _run(net: Network, t_ms: float, threads: int = 1) -> Simulation:
    sim = Simulation(net, weight_dtype="float64", threads=threads)
    sim.run(t_ms)
    return sim


def test_subthreshold_relaxation_is_analytic():
    # no input: C_m dV/dt = -g_L (V - E_L) + I_e relaxes to V_inf = (g_L E_L + I_e) / g_L
    g_L, C_m, E_L, I_e, V0 = 20.0, 180.0, -68.0, 150.0, -80.0
    net = Network(H)
    n = net.add_population("iaf_cond_exp", 1, {"g_L": g_L, "C_m": C_m, "E_L": E_L, "I_e": I_e, "V_m": V0})
    mm = net.record_state(n.gids, ("V_m", "g_ex", "g_in"), H)
    sim = _run(net, 1000.0)
    ev = sim.multimeter_events(mm)
    v_inf = (g_L * E_L + I_e) / g_L
    expected = v_inf + (V0 - v_inf) * np.exp(-ev["times"] * g_L / C_m)
    np.testing.assert_allclose(ev["V_m"], expected, rtol=0, atol=1e-10)
    assert abs(sim.state("V_m")[0] - v_inf) < 1e-10
    assert np.all(ev["g_ex"] == 0.0) and np.all(ev["g_in"] == 0.0)


@pytest.mark.parametrize("tau_ex, tau_in, atol", [(1.0, 2.0, 1e-7), (0.2, 2.0, 1e-3)])
def test_conductance_decays_exponentially_after_one_spike(tau_ex, tau_in, atol):
    # the jump is the weight in nS; an inhibitory (negative) weight adds its magnitude to g_in.
    # tau_syn_ex = 0.2 ms (the default) is 2 steps: the solver's absolute tolerance (1e-3) bounds the error
    w_ex, w_in, t_ex, t_in, d = 5.0, -7.0, 10.0, 20.0, 1.0
    net = Network(H)
    sg = net.add_population("spike_generator", 2, spike_times_ms=[np.array([t_ex]), np.array([t_in])])
    n = net.add_population("iaf_cond_exp", 1, {"tau_syn_ex": tau_ex, "tau_syn_in": tau_in})
    net.connect(sg.gids[:1], n, "all_to_all", weight=w_ex, delay=d)
    net.connect(sg.gids[1:], n, "all_to_all", weight=w_in, delay=d)
    mm = net.record_state(n.gids, ("g_ex", "g_in"), H)
    ev = _run(net, 60.0).multimeter_events(mm)
    t = ev["times"]
    # a spike stamped t arrives with delay d: the sample at t + d already holds the jump
    g_ex = np.where(t >= t_ex + d - 1e-9, w_ex * np.exp(-(t - t_ex - d) / tau_ex), 0.0)
    g_in = np.where(t >= t_in + d - 1e-9, -w_in * np.exp(-(t - t_in - d) / tau_in), 0.0)
    assert ev["g_ex"][np.isclose(t, t_ex + d)] == w_ex and ev["g_in"][np.isclose(t, t_in + d)] == -w_in
    np.testing.assert_allclose(ev["g_ex"], g_ex, rtol=0, atol=atol)
    np.testing.assert_allclose(ev["g_in"], g_in, rtol=0, atol=1e-9)


def test_refractory_clamp():
    t_ref, V_reset = 2.5, -63.0
    net = Network(H)
    n = net.add_population("iaf_cond_exp", 1, {"I_e": 1000.0, "t_ref": t_ref, "V_reset": V_reset})
    mm = net.record_state(n.gids, ("V_m",), H)
    rec = net.record_spikes(n.gids)
    sim = _run(net, 200.0)
    spikes = sim.spike_events(rec)["times"]
    ev = sim.multimeter_events(mm)
    t, v = ev["times"], ev["V_m"]
    assert spikes.size > 10
    steps = round(t_ref / H)
    for ts in spikes[:-1]:
        k = int(np.flatnonzero(np.isclose(t, ts))[0])
        # the spike step and the t_ref/h steps after it hold V_reset exactly; then V moves
        assert np.all(v[k:k + steps + 1] == V_reset), ts
        assert v[k + steps + 1] > V_reset
    assert np.diff(spikes).min() > t_ref
    assert np.all(v < -55.0)   # V_m is reset in the step it crosses V_th


BAD = [
    ({"C_m": 0.0}, "C_m"), ({"C_m": -1.0}, "C_m"), ({"t_ref": -0.1}, "t_ref"),
    ({"tau_syn_ex": 0.0}, "tau_syn_ex"), ({"tau_syn_in": -2.0}, "tau_syn_in"),
    ({"V_reset": -50.0}, "V_reset"), ({"g_L": np.nan}, "g_L"), ({"tau_m": 10.0}, "tau_m"),
]


@pytest.mark.parametrize("params, name", BAD)
def test_bad_parameters_fail_naming_them(params, name):
    net = Network(H)
    with pytest.raises(ModelError, match=name) as err:
        net.add_population("iaf_cond_exp", 3, params, name="C")
    assert "'C'" in str(err.value)


def test_state_and_recordables_across_models():
    net = Network(H)
    a = net.add_population("iaf_psc_exp", 2, {"I_e": 100.0})
    b = net.add_population("iaf_cond_exp", 2, {"g_ex": 3.0, "g_in": 4.0, "V_m": -66.0})
    with pytest.raises(ModelError, match="g_ex"):
        net.record_state(a.gids, ("g_ex",))
    sim = Simulation(net)
    g_ex, I_ex = sim.state("g_ex"), sim.state("I_syn_ex")
    assert np.all(np.isnan(g_ex[:2])) and np.all(g_ex[2:] == 3.0)
    assert np.all(I_ex[:2] == 0.0) and np.all(np.isnan(I_ex[2:]))
    assert np.all(sim.state("g_in")[2:] == 4.0) and np.all(sim.state("V_m")[2:] == -66.0)
    sim.run(5.0)
    np.testing.assert_allclose(sim.state("g_ex")[2:], 3.0 * np.exp(-5.0 / 0.2), rtol=1e-2)
    for m in NEURON_MODELS.values():   # every state variable the kernels hold can be sampled
        assert all(RECORDABLE_CODES[s] == j for j, s in enumerate(m.slots) if s)   # "": a slot left unused
        assert set(m.slots) - {""} == set(m.state)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="Numba runs with a single thread here")
def test_poisson_driven_network_is_thread_independent():
    def spikes(threads):
        net = Network(H)
        e = net.add_population("iaf_cond_exp", 200, {"I_e": 50.0})
        i = net.add_population("iaf_psc_exp", 50, {"I_e": 400.0})
        net.connect(e, e, "fixed_indegree", indegree=20, weight=1.5, delay=1.2)
        net.connect(i, e, "fixed_indegree", indegree=10, weight=-3.0, delay=0.8)
        net.connect(e, i, "fixed_indegree", indegree=20, weight=30.0, delay=1.0)
        net.drive(net.add_generator("poisson_generator", {"rate": 12000.0}), e.gids, weight=2.0)
        net.record_spikes(np.concatenate([e.gids, i.gids]))
        sim = Simulation(net, seed=3, threads=threads)
        sim.run(200.0)
        return sim.all_spikes(), sim.state("V_m"), sim.state("g_ex")

    (g1, s1), v1, c1 = spikes(1)
    (g2, s2), v2, c2 = spikes(2)
    assert g1.size > 100
    np.testing.assert_array_equal(g1, g2)
    np.testing.assert_array_equal(s1, s2)
    np.testing.assert_array_equal(v1, v2)
    np.testing.assert_array_equal(c1, c2)


def test_docstring_tables_match_the_parameter_dicts():
    # the package attribute iaf_cond_exp is the model object; the module holds the docstring
    doc = importlib.import_module("cortex_gpu.models.iaf_cond_exp").__doc__
    m = NEURON_MODELS["iaf_cond_exp"]
    for name, p in m.params.items():
        row = re.search(rf"^{name}\s+(\S+)\s+(\S+)\s", doc, re.M)
        assert row and float(row.group(1)) == p.default and row.group(2) == p.unit, name
    for name, (_, unit, _) in m.state.items():
        row = re.search(rf"^{name}\s+\S+\s+(\S+)\s", doc, re.M)
        assert row and row.group(1) == unit, name
