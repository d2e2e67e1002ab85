"""Node collections, Create parameters (scalars, arrays, distributions), GetStatus/SetStatus."""
from __future__ import annotations

import numpy as np
import pytest


def test_collection_len_slicing_concatenation_iteration(nest_ours):
    nest = nest_ours
    a = nest.Create("iaf_psc_exp", 5)
    b = nest.Create("iaf_psc_alpha", 3)
    assert len(a) == 5 and len(b) == 3
    assert a.tolist() == [1, 2, 3, 4, 5] and b.tolist() == [6, 7, 8]
    assert a[1:4].tolist() == [2, 3, 4]
    assert a[::2].tolist() == [1, 3, 5]
    assert a[-1].tolist() == [5]
    assert a[[0, 3]].tolist() == [1, 4]
    both = b + a
    assert both.tolist() == list(range(1, 9))        # NEST keeps collections sorted
    assert [n.global_id for n in a[:3]] == [1, 2, 3]
    assert a.global_id == (1, 2, 3, 4, 5)
    assert 4 in a and 6 not in a
    assert a.index(3) == 2
    assert a[2] == nest.NodeCollection([3])
    with pytest.raises(ValueError):
        a + a[1:2]                                   # overlapping collections cannot be joined
    with pytest.raises(IndexError):
        a[5]


def test_create_params_scalar_array_list_and_get(nest_ours):
    nest = nest_ours
    n = nest.Create("iaf_psc_exp", 4, {"I_e": 100.0, "C_m": [200.0, 210.0, 220.0, 230.0],
                                       "tau_m": np.array([5.0, 6.0, 7.0, 8.0])})
    assert n.get("I_e") == (100.0,) * 4
    assert n.C_m == (200.0, 210.0, 220.0, 230.0)
    assert n[2].get("tau_m") == 7.0
    d = n[1:3].get(["C_m", "tau_m"])
    assert d == {"C_m": (210.0, 220.0), "tau_m": (6.0, 7.0)}
    full = n[0].get()
    assert full["model"] == "iaf_psc_exp" and full["global_id"] == 1 and full["V_m"] == -70.0
    assert full["element_type"] == "neuron" and "I_syn_ex" in full["recordables"]
    # list of dicts, one per node
    m = nest.Create("iaf_psc_alpha", 2, [{"V_th": -50.0}, {"V_th": -52.0}])
    assert m.V_th == (-50.0, -52.0)


def test_set_subsets_and_attribute_style(nest_ours):
    nest = nest_ours
    n = nest.Create("iaf_psc_exp", 5)
    n[1:3].set(I_e=50.0)
    n.t_ref = 3.0
    n[4].set({"V_m": -60.0})
    assert n.I_e == (0.0, 50.0, 50.0, 0.0, 0.0)
    assert n.t_ref == (3.0,) * 5
    assert n.V_m == (-70.0, -70.0, -70.0, -70.0, -60.0)
    n.set({"E_L": [-60.0, -61.0, -62.0, -63.0, -64.0]})
    assert n.E_L == (-60.0, -61.0, -62.0, -63.0, -64.0)


def test_E_L_without_V_m_keeps_absolute_V_m(nest_ours):
    # NEST keeps the absolute V_m when only E_L is set (checked against NEST in
    # test_E_L_V_m_semantics_match_nest); the core alone would start at E_L.
    nest = nest_ours
    n = nest.Create("iaf_psc_exp", 1, {"E_L": -65.0})
    assert n.V_m == -70.0
    nest.SetDefaults("iaf_psc_alpha", {"E_L": -60.0})
    m = nest.Create("iaf_psc_alpha")
    assert m.E_L == -60.0 and m.V_m == -70.0


@pytest.mark.nest
def test_E_L_V_m_semantics_match_nest(run_both):
    def script(nest):
        n = nest.Create("iaf_psc_exp", 2, {"E_L": -65.0})
        n[1].set(E_L=-60.0, V_reset=-66.0)
        nest.SetDefaults("iaf_psc_alpha", {"E_L": -58.0, "V_th": -50.0})
        m = nest.Create("iaf_psc_alpha")
        return n.V_m, n.E_L, m.V_m, m.E_L
    theirs, mine = run_both(script)
    assert mine == theirs


def test_distribution_parameters_are_drawn_per_node_within_bounds(nest_ours):
    nest = nest_ours
    nest.rng_seed = 17
    n = nest.Create("iaf_psc_exp", 2000, {
        "V_m": nest.math.redraw(nest.random.normal(-65.0, 5.0), min=-70.0, max=-60.0),
        "C_m": nest.random.uniform(200.0, 300.0),
        "tau_m": nest.random.lognormal(2.0, 0.1)})
    v = np.array(n.V_m)
    assert v.min() >= -70.0 and v.max() <= -60.0 and np.unique(v).size == v.size
    assert abs(np.mean(v) + 65.0) < 0.3                     # symmetric truncation keeps the mean
    c = np.array(n.C_m)
    assert 200.0 <= c.min() and c.max() < 300.0 and abs(c.mean() - 250.0) < 3.0
    t = np.array(n.tau_m)
    assert abs(np.log(t).mean() - 2.0) < 0.01 and abs(np.log(t).std() - 0.1) < 0.01
    # reproducible for a seed, different for another
    nest.ResetKernel()
    nest.rng_seed = 17
    again = nest.Create("iaf_psc_exp", 2000, {"C_m": nest.random.uniform(200.0, 300.0)})
    assert np.array_equal(np.array(again.C_m), c)
    nest.ResetKernel()
    nest.rng_seed = 18
    other = nest.Create("iaf_psc_exp", 2000, {"C_m": nest.random.uniform(200.0, 300.0)})
    assert not np.array_equal(np.array(other.C_m), c)


def test_getstatus_setstatus(nest_ours):
    nest = nest_ours
    n = nest.Create("iaf_psc_alpha", 3)
    nest.SetStatus(n, {"I_e": 20.0})
    nest.SetStatus(n[0], "V_m", -66.0)
    nest.SetStatus(n[1:], [{"C_m": 100.0}, {"C_m": 150.0}])
    assert nest.GetStatus(n, "I_e") == (20.0, 20.0, 20.0)
    assert nest.GetStatus(n, "C_m") == (250.0, 100.0, 150.0)
    st = nest.GetStatus(n[0])
    assert isinstance(st, tuple) and st[0]["V_m"] == -66.0 and st[0]["model"] == "iaf_psc_alpha"
    assert nest.GetStatus(n[:2], ["I_e", "C_m"]) == ((20.0, 250.0), (20.0, 100.0))   # NEST 3.10: a tuple per node
    dc = nest.Create("dc_generator", params={"amplitude": 5.0})
    assert nest.GetStatus(dc, "amplitude") == (5.0,)


def test_state_after_simulate_is_current(nest_ours):
    nest = nest_ours
    n = nest.Create("iaf_psc_exp", 2, {"I_e": [0.0, 200.0]})
    nest.Simulate(50.0)
    v = n.V_m
    assert v[0] == -70.0
    # exact solution of the membrane equation for a constant current
    assert v[1] == pytest.approx(-70.0 + 200.0 * 10.0 / 250.0 * (1.0 - np.exp(-50.0 / 10.0)), abs=1e-9)


def test_unknown_parameter_and_bad_values_raise(nest_ours):
    nest = nest_ours
    n = nest.Create("iaf_psc_exp", 2)
    with pytest.raises(ValueError, match="foo"):
        n.set(foo=1.0)
    with pytest.raises(ValueError, match="foo"):
        nest.Create("iaf_psc_exp", 1, {"foo": 1.0})
    with pytest.raises(ValueError, match="C_m"):
        n.set(C_m=-1.0)
    with pytest.raises(ValueError, match="tau_m"):
        n.set(tau_m=float("nan"))
    with pytest.raises(ValueError, match="2 values"):
        n.set(I_e=[1.0, 2.0, 3.0])
    with pytest.raises(KeyError, match="foo"):   # NEST raises KeyError
        n.get("foo")
    with pytest.raises(ValueError, match="rate"):
        nest.Create("poisson_generator", params={"rate": -5.0})
    with pytest.raises(ValueError, match="n must be"):
        nest.Create("iaf_psc_exp", 0)


def test_unsupported_models_and_features_raise(nest_ours):
    nest = nest_ours
    for model in ("hh_psc_alpha", "tsodyks_synapse", "gamma_sup_generator"):
        with pytest.raises(NotImplementedError, match=model):
            nest.Create(model)
    with pytest.raises(NotImplementedError, match="positions"):
        nest.Create("iaf_psc_exp", 4, positions=object())
    with pytest.raises(NotImplementedError, match="hh_psc_alpha"):
        nest.CopyModel("hh_psc_alpha", "my_neuron")
    sg = nest.Create("spike_generator")
    with pytest.raises(NotImplementedError, match="spike_weights"):
        sg.set(spike_times=[1.0], spike_weights=[2.0])
    with pytest.raises(NotImplementedError, match="precise_times"):
        sg.set(precise_times=True)
    n = nest.Create("iaf_psc_exp", 2)
    with pytest.raises(NotImplementedError, match="exponential"):   # node parameters only, not connections
        nest.Connect(n, n, syn_spec={"weight": nest.random.exponential(1.0)})
    with pytest.raises(NotImplementedError):
        nest.spatial


def test_reset_kernel_invalidates_collections(nest_ours):
    nest = nest_ours
    n = nest.Create("iaf_psc_exp", 3)
    nest.ResetKernel()
    with pytest.raises(ValueError, match="ResetKernel"):
        n.get("V_m")
    m = nest.Create("iaf_psc_exp", 2)
    assert m.tolist() == [1, 2]


def test_changes_after_simulate_are_refused_clearly(nest_ours):
    nest = nest_ours
    n = nest.Create("iaf_psc_exp", 2)
    nest.Simulate(1.0)
    with pytest.raises(NotImplementedError, match="after Simulate"):
        n.set(I_e=5.0)
    with pytest.raises(NotImplementedError, match="after Simulate"):
        nest.Create("iaf_psc_exp")
    with pytest.raises(NotImplementedError, match="after Simulate"):
        nest.Connect(n, n)
