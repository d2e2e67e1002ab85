"""CopyModel, SetDefaults/GetDefaults of synapse models, plastic Connect, GetConnections(synapse_model=...), parrots."""
from __future__ import annotations

import numpy as np
import pytest

from cortex_gpu.pynest.kernel import KERNEL

STDP_DEFAULTS = {"tau_plus": 20.0, "lambda": 0.1, "alpha": 1.0, "mu": 0.4, "weight": 1.0, "delay": 1.0}


# ---------------------------------------------------------------- neuron copies
def test_copied_neuron_model_has_its_own_defaults(nest_ours):
    nest = nest_ours
    nest.CopyModel("iaf_psc_alpha", "hpc_neuron", {"E_L": 0.0, "V_th": 20.0, "V_reset": 0.0, "tau_minus": 30.0})
    d = nest.GetDefaults("hpc_neuron")
    assert (d["E_L"], d["V_th"], d["V_reset"], d["tau_minus"]) == (0.0, 20.0, 0.0, 30.0)
    assert d["model"] == "hpc_neuron" and d["element_type"] == "neuron"
    assert d["recordables"] == nest.GetDefaults("iaf_psc_alpha")["recordables"]
    assert nest.GetDefaults("iaf_psc_alpha")["V_th"] == -55.0           # the base is untouched
    assert "hpc_neuron" in nest.Models("nodes") and "hpc_neuron" in nest.node_models
    n = nest.Create("hpc_neuron", 3)
    assert n.get("model") == ("hpc_neuron",) * 3 and n.get("V_th") == (20.0,) * 3
    assert n.get("tau_minus") == (30.0,) * 3
    nest.SetDefaults("hpc_neuron", {"C_m": 200.0})                     # later nodes only
    m = nest.Create("hpc_neuron")
    assert m.get("C_m") == 200.0 and n.get("C_m") == (250.0,) * 3
    nest.SetDefaults("iaf_psc_alpha", {"t_ref": 5.0})                  # does not reach the copy
    assert nest.GetDefaults("hpc_neuron")["t_ref"] == 2.0
    nest.CopyModel("hpc_neuron", "hpc_neuron_2", {"t_ref": 0.5})      # a copy of a copy
    d2 = nest.GetDefaults("hpc_neuron_2")
    assert (d2["V_th"], d2["C_m"], d2["t_ref"]) == (20.0, 200.0, 0.5)


def test_copied_neuron_runs_as_its_base_with_those_parameters(nest_ours):
    nest = nest_ours
    params = {"E_L": 0.0, "V_th": 20.0, "V_reset": 0.0, "t_ref": 0.5, "I_e": 600.0, "tau_syn_ex": 0.3}
    nest.CopyModel("iaf_psc_alpha", "copy", params)
    a = nest.Create("copy")
    b = nest.Create("iaf_psc_alpha", params=params)
    sr = nest.Create("spike_recorder")
    nest.Connect(a + b, sr)
    nest.Simulate(200.0)
    ev = sr.get("events")
    ta, tb = ev["times"][ev["senders"] == 1], ev["times"][ev["senders"] == 2]
    assert ta.size > 5
    np.testing.assert_array_equal(ta, tb)
    assert a.get("V_m") == b.get("V_m")


def test_copy_model_errors_leave_nothing_behind(nest_ours):
    nest = nest_ours
    with pytest.raises(ValueError, match="exists"):
        nest.CopyModel("iaf_psc_exp", "iaf_psc_alpha")
    with pytest.raises(ValueError, match="exists"):
        nest.CopyModel("static_synapse", "stdp_pl_synapse_hom")
    with pytest.raises(ValueError, match="C_m"):
        nest.CopyModel("iaf_psc_exp", "bad", {"C_m": -1.0})
    with pytest.raises(ValueError, match="foo"):
        nest.CopyModel("static_synapse", "bad_syn", {"foo": 1.0})
    with pytest.raises(ValueError, match="tau_plus"):
        nest.CopyModel("stdp_pl_synapse_hom", "bad_syn", {"tau_plus": -3.0})
    assert "bad" not in nest.Models() and "bad_syn" not in nest.Models()
    nest.CopyModel("iaf_psc_exp", "bad", {"C_m": 100.0})               # the names are still free
    nest.CopyModel("stdp_pl_synapse_hom", "bad_syn", {"tau_plus": 3.0})
    with pytest.raises(ValueError, match="synapse model"):
        nest.Create("bad_syn")


# -------------------------------------------------------------- synapse models
def test_synapse_model_defaults_and_copies(nest_ours):
    nest = nest_ours
    d = nest.GetDefaults("stdp_pl_synapse_hom")
    assert {k: d[k] for k in STDP_DEFAULTS} == STDP_DEFAULTS             # NEST 3.10's defaults
    assert d["synapse_model"] == "stdp_pl_synapse_hom" and d["element_type"] == "synapse"
    assert nest.GetDefaults("stdp_pl_synapse_hom", "mu") == 0.4
    assert {"static_synapse", "static_synapse_hpc", "stdp_pl_synapse_hom", "stdp_pl_synapse_hom_hpc"} <= set(
        nest.Models("synapses"))
    nest.SetDefaults("stdp_pl_synapse_hom", {"alpha": 0.5, "weight": 2.0})
    assert nest.GetDefaults("stdp_pl_synapse_hom", ["alpha", "weight"]) == [0.5, 2.0]
    nest.CopyModel("stdp_pl_synapse_hom", "my_stdp", {"tau_plus": 15.0, "weight": 45.6, "delay": 1.5})
    c = nest.GetDefaults("my_stdp")
    assert (c["tau_plus"], c["alpha"], c["weight"], c["delay"]) == (15.0, 0.5, 45.6, 1.5)
    assert c["synapse_model"] == "my_stdp" and "my_stdp" in nest.synapse_models
    assert nest.GetDefaults("stdp_pl_synapse_hom", "tau_plus") == 20.0
    nest.CopyModel("static_synapse_hpc", "syn_in", {"weight": -228.0})
    assert nest.GetDefaults("syn_in", ["weight", "delay"]) == [-228.0, 1.0]
    with pytest.raises(ValueError, match="foo"):
        nest.SetDefaults("my_stdp", {"foo": 1.0})
    with pytest.raises(ValueError, match="delay"):
        nest.SetDefaults("my_stdp", {"delay": 0.01})
    nest.ResetKernel()
    assert "my_stdp" not in nest.Models() and nest.GetDefaults("stdp_pl_synapse_hom", "alpha") == 1.0


def test_copies_before_the_resolution_is_set_survive(nest_ours):
    """The network is created lazily at the resolution; synapse copies made before must stay."""
    nest = nest_ours
    nest.CopyModel("static_synapse", "syn_ex", {"weight": 45.6, "delay": 1.5})
    nest.resolution = 0.05
    a = nest.Create("iaf_psc_alpha", 2)
    nest.Connect(a, a, "one_to_one", syn_spec="syn_ex")
    c = nest.GetConnections(synapse_model="syn_ex")
    assert c.weight == [45.6, 45.6] and c.delay == [1.5, 1.5]


def test_static_copies_in_connect_and_get_connections(nest_ours):
    """NEST's hpc_benchmark way: static_synapse_hpc copies for E and I, each Connect with its model."""
    nest = nest_ours
    nest.SetDefaults("static_synapse_hpc", {"delay": 1.5})
    nest.CopyModel("static_synapse_hpc", "syn_ex", {"weight": 45.6})
    nest.CopyModel("static_synapse_hpc", "syn_in", {"weight": -228.0})
    E = nest.Create("iaf_psc_alpha", 8)
    I = nest.Create("iaf_psc_alpha", 2)
    noise = nest.Create("poisson_generator", params={"rate": 1000.0})
    spec = {"rule": "fixed_indegree", "indegree": 3, "allow_autapses": False}
    nest.Connect(E, E + I, spec, {"synapse_model": "syn_ex"})
    nest.Connect(I, E + I, {**spec, "indegree": 1}, {"synapse_model": "syn_in"})
    nest.Connect(noise, E + I, "all_to_all", {"synapse_model": "syn_ex"})
    ex, inh = nest.GetConnections(synapse_model="syn_ex"), nest.GetConnections(synapse_model="syn_in")
    assert len(ex) == 30 + 10 and len(inh) == 10
    assert set(ex.weight) == {45.6} and set(inh.weight) == {-228.0} and set(ex.delay) == {1.5}
    assert set(ex.synapse_model) == {"syn_ex"} and set(inh.get("synapse_model")) == {"syn_in"}
    assert len(nest.GetConnections(synapse_model="static_synapse")) == 0
    assert len(nest.GetConnections(source=noise, synapse_model="syn_ex")) == 10
    with pytest.raises(ValueError, match="unknown synapse model"):
        nest.GetConnections(synapse_model="nonesuch")
    with pytest.raises(NotImplementedError, match="tsodyks_synapse"):
        nest.GetConnections(synapse_model="tsodyks_synapse")


def test_ambiguous_static_models_say_so(nest_ours):
    nest = nest_ours
    nest.CopyModel("static_synapse", "syn_a")
    a = nest.Create("iaf_psc_exp", 3)
    nest.Connect(a, a, "all_to_all", "static_synapse")
    nest.Connect(a, a, "all_to_all", "syn_a")                          # the same pairs again
    c = nest.GetConnections()
    assert len(c) == 18
    with pytest.raises(NotImplementedError, match="ambiguous"):
        c.get("synapse_model")
    with pytest.raises(NotImplementedError, match="ambiguous"):
        nest.GetConnections(synapse_model="syn_a")


# ---------------------------------------------------------------- plastic synapses
def test_plastic_connect_and_its_errors(nest_ours):
    nest = nest_ours
    nest.CopyModel("stdp_pl_synapse_hom", "my_stdp", {"tau_plus": 15.0, "weight": 45.6, "delay": 1.5})
    a = nest.Create("iaf_psc_alpha", 4, params={"tau_minus": 30.0})
    nest.Connect(a, a, {"rule": "fixed_indegree", "indegree": 2, "allow_autapses": False},
                 {"synapse_model": "my_stdp"})
    proj = KERNEL.net.projections[-1]
    assert proj.synapse_model == "my_stdp" and proj.receptor_type == 0
    assert KERNEL.net.plastic_model() == (
        "my_stdp", {"tau_plus": 15.0, "lambda": 0.1, "alpha": 1.0, "mu": 0.4})
    with pytest.raises(ValueError, match="common property"):
        nest.Connect(a, a, syn_spec={"synapse_model": "my_stdp", "tau_plus": 3.0})
    with pytest.raises(ValueError, match=">= 0"):
        nest.Connect(a, a, syn_spec={"synapse_model": "my_stdp", "weight": -1.0})
    with pytest.raises(ValueError, match="in use"):                    # common parameters are fixed now
        nest.SetDefaults("my_stdp", {"alpha": 0.3})
    nest.SetDefaults("my_stdp", {"weight": 10.0})                      # per-connection defaults are not
    g = nest.Create("poisson_generator")
    with pytest.raises(NotImplementedError, match="plastic"):
        nest.Connect(g, a, syn_spec="my_stdp")
    with pytest.raises(NotImplementedError, match="one plastic synapse model"):
        nest.Connect(a, a, syn_spec="stdp_pl_synapse_hom")


def test_parrot_neurons_and_receptor_1(nest_ours):
    nest = nest_ours
    d = nest.GetDefaults("parrot_neuron")
    assert d["tau_minus"] == 20.0 and d["model"] == "parrot_neuron" and "recordables" not in d
    p = nest.Create("parrot_neuron", 2, params={"tau_minus": 12.0})
    assert p.get("tau_minus") == (12.0, 12.0)
    with pytest.raises(KeyError, match="V_m"):   # NEST raises KeyError
        p.get("V_m")
    n = nest.Create("iaf_psc_exp")
    with pytest.raises(ValueError, match="receptor_type 1"):
        nest.Connect(p[0], n, syn_spec={"synapse_model": "stdp_pl_synapse_hom", "receptor_type": 1})
    with pytest.raises(NotImplementedError, match="receptor_type 1"):
        nest.Connect(p[0], p[1], syn_spec={"synapse_model": "stdp_pl_synapse_hom"})
    nest.Connect(p[0], p[1], syn_spec={"synapse_model": "stdp_pl_synapse_hom", "receptor_type": 1,
                                       "weight": 5.0})
    assert KERNEL.net.projections[-1].receptor_type == 1


def test_parrot_repeats_its_input(nest_ours):
    nest = nest_ours
    sg = nest.Create("spike_generator", params={"spike_times": [1.0, 2.5, 7.3]})
    p = nest.Create("parrot_neuron")
    sr = nest.Create("spike_recorder")
    nest.Connect(sg, p, syn_spec={"delay": 1.0})
    nest.Connect(p, sr)
    nest.Simulate(20.0)
    np.testing.assert_allclose(sr.get("events")["times"], [2.0, 3.5, 8.3], atol=1e-12)


def test_get_connections_reports_plastic_weights_and_receptors(nest_ours):
    """Plastic synapses: their model name, receptor 1 onto parrots, weights that change with the spikes."""
    nest = nest_ours
    pre = nest.Create("spike_generator", params={"spike_times": [10.0, 20.0, 30.0]})
    post = nest.Create("spike_generator", params={"spike_times": [12.0, 22.0, 32.0]})
    pp = nest.Create("parrot_neuron", 2)
    nest.Connect(pre, pp[0], syn_spec={"delay": 1.0})
    nest.Connect(post, pp[1], syn_spec={"delay": 1.0})
    nest.CopyModel("stdp_pl_synapse_hom", "my_stdp", {"alpha": 0.1})
    nest.Connect(pp[0], pp[1], syn_spec={"synapse_model": "my_stdp", "weight": 10.0, "receptor_type": 1})
    c = nest.GetConnections(synapse_model="my_stdp")
    assert (c.source, c.target, c.weight, c.receptor, c.synapse_model) == (3, 4, 10.0, 1, "my_stdp")
    assert len(nest.GetConnections(synapse_model="static_synapse")) == 2
    nest.Simulate(40.0)
    w = nest.GetConnections(synapse_model="my_stdp").weight
    assert w > 10.0          # post 1 ms after pre: potentiation wins at alpha 0.1
