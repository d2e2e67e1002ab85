"""Connect rules, weights and delays as scalars/arrays/distributions, GetConnections, and their errors."""
from __future__ import annotations

import numpy as np
import pytest


def _pairs(conns) -> list[tuple[int, int]]:
    s, t = conns.get("source"), conns.get("target")
    if len(conns) == 1:                  # one connection gives plain values, as in NEST
        s, t = [s], [t]
    return list(zip(s, t))


def test_one_to_one_id_arrays_with_per_connection_values(nest_ours):
    nest = nest_ours
    nest.Create("iaf_psc_exp", 6)
    pre = np.array([3, 1, 1, 6])
    post = np.array([2, 5, 5, 1])
    w = np.array([1.5, -2.0, 3.25, 4.0])
    d = np.array([0.1, 1.0, 2.3, 0.5])
    nest.Connect(pre, post, "one_to_one", syn_spec={"weight": w, "delay": d})
    c = nest.GetConnections()
    got = sorted(zip(c.source, c.target, c.weight, np.round(c.delay, 9)))
    assert got == sorted(zip(pre.tolist(), post.tolist(), w.tolist(), d.tolist()))
    assert c.get("synapse_model") == ["static_synapse"] * 4


def test_all_to_all_array_is_post_by_pre(nest_ours):
    nest = nest_ours
    a = nest.Create("iaf_psc_exp", 3)
    b = nest.Create("iaf_psc_alpha", 2)
    W = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    nest.Connect(a, b, syn_spec={"weight": W, "delay": 1.5})
    c = nest.GetConnections(a, b)
    assert len(c) == 6
    for s, t, w, d in zip(c.source, c.target, c.weight, c.delay):
        assert w == W[t - 4, s - 1] and d == 1.5


def test_default_and_scalar_synapse_values_and_filters(nest_ours):
    nest = nest_ours
    a = nest.Create("iaf_psc_exp", 2)
    b = nest.Create("iaf_psc_exp", 2)
    nest.Connect(a, b)                                 # all_to_all, weight 1, delay 1 (NEST defaults)
    nest.Connect(b[0], a[1], "one_to_one", {"weight": -3.0, "delay": 0.7})
    c = nest.GetConnections()
    assert _pairs(c) == [(1, 3), (1, 4), (2, 3), (2, 4), (3, 2)]
    assert c.weight == [1.0, 1.0, 1.0, 1.0, -3.0]
    assert np.allclose(c.delay, [1.0, 1.0, 1.0, 1.0, 0.7], rtol=0, atol=1e-12)
    assert _pairs(nest.GetConnections(source=b)) == [(3, 2)]
    assert _pairs(nest.GetConnections(target=b[1])) == [(1, 4), (2, 4)]
    one = nest.GetConnections(b, a)
    assert one.get("weight") == -3.0 and one.get(["source", "target"]) == {"source": 3, "target": 2}
    assert nest.GetKernelStatus("num_connections") == 5


def test_fixed_indegree_without_multapses_or_autapses(nest_ours):
    nest = nest_ours
    n = nest.Create("iaf_psc_exp", 30)
    nest.Connect(n, n, {"rule": "fixed_indegree", "indegree": 29, "allow_autapses": False,
                        "allow_multapses": False})
    c = nest.GetConnections()
    s, t = np.array(c.source), np.array(c.target)
    assert np.all(np.bincount(t, minlength=31)[1:] == 29)
    assert not np.any(s == t)
    # 29 distinct sources out of 29 possible: every other neuron exactly once
    assert len(set(zip(s.tolist(), t.tolist()))) == s.size


def test_fixed_total_number_and_pairwise_bernoulli(nest_ours):
    nest = nest_ours
    a = nest.Create("iaf_psc_exp", 20)
    b = nest.Create("iaf_psc_exp", 30)
    nest.Connect(a, b, {"rule": "fixed_total_number", "N": 123})
    assert len(nest.GetConnections(a, b)) == 123
    nest.Connect(b, b, {"rule": "pairwise_bernoulli", "p": 1.0, "allow_autapses": False})
    c = nest.GetConnections(b, b)
    assert len(c) == 30 * 29 and not any(s == t for s, t in _pairs(c))
    nest.Connect(b, a, {"rule": "pairwise_bernoulli", "p": 0.25})
    k = len(nest.GetConnections(b, a))
    assert abs(k - 150) < 5 * np.sqrt(600 * 0.25 * 0.75)


def test_distribution_weights_and_delays(nest_ours):
    nest = nest_ours
    a = nest.Create("iaf_psc_exp", 40)
    nest.Connect(a, a, syn_spec={
        "weight": nest.math.redraw(nest.random.normal(10.0, 4.0), min=5.0, max=15.0),
        "delay": nest.random.uniform(0.5, 2.5)})
    c = nest.GetConnections()
    w, d = np.array(c.weight), np.array(c.delay)
    assert w.size == 1600 and w.min() >= 5.0 and w.max() <= 15.0 and np.unique(w).size > 1500
    assert abs(w.mean() - 10.0) < 0.2
    # delays land on the 0.1 ms grid between 0.5 and 2.5 ms
    assert d.min() >= 0.5 - 1e-12 and d.max() <= 2.5 + 1e-12
    assert np.allclose(d * 10, np.round(d * 10), atol=1e-9) and np.unique(np.round(d, 1)).size == 21


def test_device_connections_follow_nest_directions(nest_ours):
    nest = nest_ours
    n = nest.Create("iaf_psc_exp", 2)
    pg = nest.Create("poisson_generator", params={"rate": 10.0})
    sr = nest.Create("spike_recorder")
    vm = nest.Create("voltmeter")
    nest.Connect(pg, n, syn_spec={"weight": 2.0})
    nest.Connect(n, sr)
    nest.Connect(vm, n)
    assert _pairs(nest.GetConnections(pg)) == [(3, 1), (3, 2)]
    assert nest.GetConnections(pg).weight == [2.0, 2.0]
    assert _pairs(nest.GetConnections(target=sr)) == [(1, 4), (2, 4)]
    assert _pairs(nest.GetConnections(vm)) == [(5, 1), (5, 2)]
    for wrong in ((n, pg), (sr, n), (n, vm)):
        with pytest.raises(ValueError, match="direction"):
            nest.Connect(*wrong)


def test_connect_errors(nest_ours):
    nest = nest_ours
    a = nest.Create("iaf_psc_exp", 5)
    b = nest.Create("iaf_psc_exp", 5)
    with pytest.raises(ValueError, match="weight"):
        nest.Connect(a, b, syn_spec={"weight": float("nan")})
    with pytest.raises(ValueError, match="weight"):
        nest.Connect(a, b, "one_to_one", syn_spec={"weight": [1.0, np.nan, 1.0, 1.0, 1.0]})
    with pytest.raises(ValueError, match="delay"):
        nest.Connect(a, b, syn_spec={"delay": 0.04})           # rounds to 0 steps
    with pytest.raises(ValueError, match="indegree"):
        nest.Connect(a, b, {"rule": "fixed_indegree", "indegree": 6, "allow_multapses": False})
    with pytest.raises(ValueError, match="p"):
        nest.Connect(a, b, {"rule": "pairwise_bernoulli", "p": 1.5})
    with pytest.raises(ValueError, match="bogus_rule"):
        nest.Connect(a, b, "bogus_rule")
    with pytest.raises(NotImplementedError, match="fixed_outdegree"):
        nest.Connect(a, b, {"rule": "fixed_outdegree", "outdegree": 2})
    with pytest.raises(NotImplementedError, match="tsodyks_synapse"):
        nest.Connect(a, b, syn_spec={"synapse_model": "tsodyks_synapse"})
    with pytest.raises(ValueError, match="receptor_type 1"):     # iaf_psc_exp has receptor 0 only
        nest.Connect(a, b, syn_spec={"receptor_type": 1})
    with pytest.raises(nest.NESTErrors.IncompatibleReceptorType, match="Receptor type 2 in iaf_psc_exp"):
        nest.Connect(a, b, syn_spec={"receptor_type": 2})     # as NEST raises it
    with pytest.raises(NotImplementedError, match="mask"):
        nest.Connect(a, b, {"rule": "pairwise_bernoulli", "p": 0.1, "mask": {}})
    with pytest.raises(TypeError, match="one_to_one"):
        nest.Connect(np.array([1, 2]), np.array([6, 7]), "all_to_all")
    with pytest.raises(ValueError, match="does not exist"):
        nest.Connect(np.array([1, 99]), np.array([6, 7]), "one_to_one")
    with pytest.raises(ValueError, match="shape"):
        nest.Connect(a, b, "one_to_one", syn_spec={"weight": np.ones(4)})
    with pytest.raises(NotImplementedError, match="fixed_indegree"):
        nest.Connect(a, b, {"rule": "fixed_indegree", "indegree": 2}, {"weight": np.ones((5, 2))})
    assert len(nest.GetConnections()) == 0                # nothing half-added by the failures


def test_getconnections_before_and_after_simulate_agree(nest_ours):
    nest = nest_ours
    nest.rng_seed = 3
    a = nest.Create("iaf_psc_exp", 50)
    nest.Connect(a, a, {"rule": "fixed_indegree", "indegree": 5},
                 {"weight": nest.random.uniform(1.0, 2.0)})
    before = nest.GetConnections()
    nest.Simulate(2.0)
    after = nest.GetConnections()
    assert len(before) == 250 and before == after


def test_current_generator_to_spike_recorder_is_refused_as_nest(run_both):
    """NEST refuses a current generator onto a spike_recorder (no current input) with IllegalConnection;
    a sinusoidal_poisson_generator's train onto a recorder is not built here and named."""
    def script(nest):
        g = nest.Create("dc_generator")
        sr = nest.Create("spike_recorder")
        try:
            nest.Connect(g, sr)
        except Exception as e:
            return type(e).__name__
    theirs, mine = run_both(script)
    assert theirs == mine == "IllegalConnection"


def test_sinusoidal_poisson_to_spike_recorder_is_refused_by_name(nest_ours):
    nest = nest_ours
    g = nest.Create("sinusoidal_poisson_generator")
    sr = nest.Create("spike_recorder")
    with pytest.raises(NotImplementedError, match="sinusoidal_poisson_generator, spike_recorder"):
        nest.Connect(g, sr)
