"""iaf_cond_exp through the PyNEST layer: defaults, Create/GetStatus/SetStatus, multimeter, bad values."""
from __future__ import annotations

import numpy as np
import pytest

from cortex_gpu.models import NEURON_MODELS

PARAMS = sorted(NEURON_MODELS["iaf_cond_exp"].params)
STATE = ["V_m", "g_ex", "g_in"]


def status_script(nest):
    """Defaults, recordables, parameters and state before and after a short run."""
    d = nest.GetDefaults("iaf_cond_exp")
    defaults = {k: d[k] for k in PARAMS + STATE}
    n = nest.Create("iaf_cond_exp", 2, params={"I_e": 300.0, "g_ex": 2.0, "tau_syn_in": 3.0})
    n[1].set(V_m=-62.0, g_in=5.0, E_L=-65.0)
    before = n.get(PARAMS + STATE)
    sg = nest.Create("spike_generator", params={"spike_times": [1.0, 2.5]})
    nest.Connect(sg, n, syn_spec={"weight": -3.0, "delay": 0.5})
    mm = nest.Create("multimeter", params={"interval": 0.1, "record_from": STATE})
    nest.Connect(mm, n)
    nest.Simulate(5.0)
    ev = mm.get("events")
    return (defaults, sorted(d["recordables"]), before, n.get(STATE),
            {k: np.asarray(ev[k]).tolist() for k in ("times", "senders", *STATE)})


@pytest.mark.nest
def test_iaf_cond_exp_status_and_multimeter_match_nest(run_both):
    theirs, mine = run_both(status_script)
    assert mine[0] == theirs[0]          # defaults
    assert mine[1] == theirs[1]          # recordables: g_ex, g_in, V_m
    assert mine[2] == theirs[2]          # set before the run
    for k in STATE:                      # state after it
        np.testing.assert_allclose(mine[3][k], theirs[3][k], rtol=0, atol=1e-12)
    # compared in (time, sender) order: within a min-delay slice NEST lists one sender's samples
    # after the other's, this layer lists them time by time
    order = [np.lexsort((np.asarray(ev["senders"]), np.asarray(ev["times"]))) for ev in (mine[4], theirs[4])]
    for k in ("times", "senders", *STATE):
        np.testing.assert_allclose(np.asarray(mine[4][k])[order[0]], np.asarray(theirs[4][k])[order[1]],
                                   rtol=0, atol=1e-12)


def test_iaf_cond_exp_through_pynest(nest_ours):
    nest = nest_ours
    assert "iaf_cond_exp" in nest.Models("nodes")
    d = nest.GetDefaults("iaf_cond_exp")
    assert d["g_L"] == 16.6667 and d["tau_syn_ex"] == 0.2 and d["V_reset"] == -60.0
    assert d["recordables"] == ["V_m", "g_ex", "g_in"]
    n = nest.Create("iaf_cond_exp", 3, {"I_e": 500.0})
    mm = nest.Create("multimeter", params={"interval": 0.1, "record_from": ["V_m", "g_ex", "g_in"]})
    sr = nest.Create("spike_recorder")
    pg = nest.Create("poisson_generator", params={"rate": 5000.0})
    nest.Connect(pg, n, syn_spec={"weight": 1.0})
    nest.Connect(mm, n)
    nest.Connect(n, sr)
    nest.Simulate(100.0)
    ev = mm.get("events")
    assert set(ev) == {"senders", "times", "V_m", "g_ex", "g_in"}
    assert ev["g_ex"].max() > 1.0 and np.all(ev["g_in"] == 0.0)
    assert sr.get("events")["times"].size > 3
    g = n.get("g_ex")
    assert len(g) == 3 and all(np.isfinite(g))


@pytest.mark.parametrize("params, name", [({"C_m": -5.0}, "C_m"), ({"t_ref": -1.0}, "t_ref"),
                                          ({"tau_syn_ex": 0.0}, "tau_syn_ex"), ({"V_reset": -50.0}, "V_reset"),
                                          ({"tau_m": 5.0}, "tau_m")])
def test_iaf_cond_exp_bad_values_name_the_parameter(nest_ours, params, name):
    nest = nest_ours
    with pytest.raises(ValueError, match=name):
        nest.Create("iaf_cond_exp", 1, params)
    n = nest.Create("iaf_cond_exp", 1)
    with pytest.raises(ValueError, match=name):
        n.set(params)
