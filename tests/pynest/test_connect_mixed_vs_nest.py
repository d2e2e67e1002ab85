"""Connect over nodes of several kinds in one call (generators with spike generators, parrots with neurons)."""
from __future__ import annotations

import pytest


def mixed_network(nest):
    # no two spikes reach a parrot in one step: NEST then records the parrot's spike once per copy,
    # the core once (a known difference)
    n = nest.Create("iaf_psc_alpha", 2, params={"I_e": [380.0, 420.0]})
    p = nest.Create("parrot_neuron", 2)
    sg = nest.Create("spike_generator", {"spike_times": [1.0, 5.0, 5.5]})
    sg2 = nest.Create("spike_generator", {"spike_times": [2.0, 7.3]})
    vm = nest.Create("voltmeter", {"interval": 0.5})
    sr = nest.Create("spike_recorder")
    nest.Connect(sg + sg2, n + p, syn_spec={"weight": 200.0, "delay": 1.0})              # all_to_all
    nest.Connect(n[:1] + p[:1], p[1:] + n[1:], "one_to_one", syn_spec={"weight": 300.0, "delay": 2.0})
    nest.Connect(n + p, sr)
    nest.Connect(vm, n)
    nest.Simulate(40.0)
    e = sr.get("events")
    c = nest.GetConnections()
    return (sorted(zip(e["senders"].tolist(), e["times"].round(9).tolist())),
            sorted(zip(c.get("source"), c.get("target"), c.get("weight"), c.get("delay"))),
            vm.get("events")["V_m"].round(9).tolist())


def test_mixed_kinds_in_one_connect_equal_nest(run_both):
    theirs, mine = run_both(mixed_network)
    assert mine[1] == theirs[1]            # connections
    assert mine[0] == theirs[0]            # spikes of neurons and parrots
    assert mine[2] == theirs[2]            # traces


def test_rules_that_draw_over_the_whole_side_refuse_mixed_kinds(nest_ours):
    nest = nest_ours
    n = nest.Create("iaf_psc_alpha", 3)
    p = nest.Create("parrot_neuron", 2)
    with pytest.raises(NotImplementedError, match="fixed_total_number.*post nodes of several kinds"):
        nest.Connect(n, n + p, {"rule": "fixed_total_number", "N": 4})
    dc = nest.Create("dc_generator")
    with pytest.raises(NotImplementedError, match="fixed_indegree.*pre nodes of several kinds"):
        nest.Connect(n + dc, n, {"rule": "fixed_indegree", "indegree": 2})
