"""SynapseCollection get/set against NEST: shapes and values, and weights changed before and between Simulate."""
from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.nest


def _get_set_script(nest):
    a = nest.Create("iaf_psc_alpha", 3)
    b = nest.Create("iaf_psc_exp", 2)
    nest.Connect(a, b, syn_spec={"weight": [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], "delay": 1.5})
    nest.Connect(b[0], a[2], "one_to_one", {"weight": -2.5, "delay": 0.7})
    c = nest.GetConnections()
    out = [c.get("weight"), c.get(["source", "target", "delay"]), c.source, c.target, len(c),
           nest.GetConnections(b, a).get("weight"), c[1].get(["source", "weight"]), c[-1].target,
           [(x.source, x.target) for x in c[2:4]]]
    c.set(weight=7.0)
    out.append(c.weight)
    c.set({"weight": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]})
    out.append(nest.GetConnections().weight)
    c.set([{"weight": 0.5 * i} for i in range(7)])
    out.append(c.weight)
    c[1:3].weight = 9.0                               # a slice shares its weights with the collection
    out += [c.weight, nest.GetConnections().weight]
    nest.SetStatus(c, {"weight": 3.0})
    out.append(nest.GetConnections().weight)
    nest.SetStatus(c[0], "weight", -1.0)
    out.append(nest.GetConnections().weight)
    return out


def _rounded(x):
    """Floats to 9 decimals (delays are steps times the resolution here), containers kept as they are."""
    if isinstance(x, float):
        return round(x, 9)
    if isinstance(x, dict):
        return {k: _rounded(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_rounded(v) for v in x)
    return x


def test_get_and_set_shapes_and_values_equal_nest(run_both):
    theirs, mine = run_both(_get_set_script)
    assert _rounded(mine) == _rounded(theirs)


def _changed_weights_script(nest, backend_kw: dict, before: bool):
    """spike_generator input into iaf_psc_alpha/iaf_psc_exp neurons whose weights change between runs."""
    if nest.__name__.startswith("cortex_gpu"):
        nest.SetKernelStatus(backend_kw)
    sg = nest.Create("spike_generator", params={"spike_times": [2.0, 5.0, 9.0, 14.0, 22.0, 31.0, 37.0, 44.0,
                                                                 52.0, 58.0, 66.0, 73.0, 81.0, 88.0]})
    n = nest.Create("iaf_psc_alpha", 2) + nest.Create("iaf_psc_exp", 2)
    nest.Connect(sg, n, syn_spec={"weight": 300.0, "delay": 1.0})
    nest.Connect(n[0], n[2:], syn_spec={"weight": 50.0, "delay": 2.0})
    vm = nest.Create("voltmeter", params={"interval": 0.1})
    sr = nest.Create("spike_recorder")
    nest.Connect(vm, n)
    nest.Connect(n, sr)
    c = nest.GetConnections(sg, n)
    if before:
        c.set(weight=[900.0, -200.0, 1200.0, 400.0])
    nest.Simulate(30.0)
    c.set(weight=[1500.0, 800.0, -600.0, 1000.0])
    nest.GetConnections(n[0], n[2:]).set({"weight": [-400.0, 300.0]})
    nest.Simulate(30.0)
    c[1].set(weight=2000.0)
    nest.Simulate(30.0)
    ev, sp = vm.get("events"), sr.get("events")
    order = np.lexsort((np.asarray(ev["senders"]), np.asarray(ev["times"])))
    return (np.asarray(ev["times"])[order], np.asarray(ev["senders"])[order], np.asarray(ev["V_m"])[order],
            sorted(zip(np.asarray(sp["times"]).tolist(), np.asarray(sp["senders"]).tolist())),
            sorted(zip(*(nest.GetConnections().get(k) for k in ("source", "target", "weight")))))


@pytest.mark.parametrize("before", [False, True])
def test_weights_changed_between_simulate_give_nests_spikes_and_v_m(run_both, before):
    theirs, mine = run_both(_changed_weights_script, {}, before)
    np.testing.assert_array_equal(mine[0], theirs[0])
    np.testing.assert_array_equal(mine[1], theirs[1])
    np.testing.assert_allclose(mine[2], theirs[2], rtol=0, atol=1e-9)
    assert mine[3] == theirs[3] and len(theirs[3]) > 5
    assert mine[4] == theirs[4]


def test_set_refusals_name_the_feature(nest_ours):
    nest = nest_ours
    n = nest.Create("iaf_psc_alpha", 2)
    pg = nest.Create("poisson_generator", params={"rate": 100.0})
    nest.Connect(n, n, "one_to_one")
    nest.Connect(pg, n)
    c = nest.GetConnections(n, n)
    with pytest.raises(NotImplementedError, match="delays"):
        c.set(delay=2.0)
    with pytest.raises(NotImplementedError, match="generators"):
        nest.GetConnections(pg).set(weight=2.0)
    with pytest.raises(NotImplementedError, match="pandas"):
        c.get("weight", output="pandas")
    with pytest.raises(ValueError, match="one dict per connection"):
        c.set([{"weight": 1.0}])
    nest.Connect(n[0], n[1])
    with pytest.raises(NotImplementedError, match="GetConnections again"):
        c.set(weight=3.0)
