"""Connect over nodes of several kinds in one call (generators with spike generators, parrots with neurons)."""
from __future__ import annotations

import pytest


def mixed_network(nest):
    # at 8.0 ms two spikes reach parrot 4 in one step: it sends, and the recorder records, two copies
    n = nest.Create("iaf_psc_alpha", 2, params={"I_e": [380.0, 420.0]})
    p = nest.Create("parrot_neuron", 2)
    sg = nest.Create("spike_generator", {"spike_times": [1.0, 5.0, 5.5]})
    sg2 = nest.Create("spike_generator", {"spike_times": [2.0, 7.0]})
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


def parrot_copies(nest):
    p = nest.Create("parrot_neuron", 2)
    sg = nest.Create("spike_generator", 3, {"spike_times": [7.0, 9.0]})
    sr = nest.Create("spike_recorder")
    nest.Connect(sg, p[:1], syn_spec={"delay": 1.0})
    nest.Connect(p[:1], p[1:], syn_spec={"delay": 1.0})
    nest.Connect(p, sr)
    nest.Simulate(20.0)
    e = sr.get("events")
    return e["senders"].tolist(), e["times"].tolist(), sr.n_events


def test_a_parrot_spike_of_multiplicity_c_is_recorded_c_times(run_both):
    theirs, mine = run_both(parrot_copies)
    assert mine == theirs
    assert theirs[2] == 12          # 3 copies at 8 and 10 ms from the first parrot, repeated by the second
