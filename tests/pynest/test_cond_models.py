"""iaf_cond_alpha and iaf_cond_exp_sfa_rr through the PyNEST layer: defaults, recordables,
Create/GetStatus/SetStatus and state after a run against NEST; bad values fail before building."""
from __future__ import annotations

import numpy as np
import pytest

from cortex_gpu.models import NEURON_MODELS

MODELS = ["iaf_cond_alpha", "iaf_cond_exp_sfa_rr", "aeif_cond_exp", "aeif_cond_alpha"]
#: a state variable each model has besides V_m, g_ex, g_in, set before the run
EXTRA = {"iaf_cond_alpha": {"dg_ex": 4.0, "dg_in": 1.5}, "iaf_cond_exp_sfa_rr": {"g_sfa": 12.0, "g_rr": 30.0},
         "aeif_cond_exp": {"w": 20.0}, "aeif_cond_alpha": {"w": 20.0, "dg_ex": 3.0}}


def status_script(nest, model):
    """Defaults, recordables, parameters and state before and after a short run with spike input."""
    params = sorted(NEURON_MODELS[model].params)
    state = sorted(NEURON_MODELS[model].state)
    d = nest.GetDefaults(model)
    defaults = {k: d[k] for k in params + state}
    n = nest.Create(model, 2, params={"I_e": 700.0, "g_ex": 2.0, "tau_syn_in": 3.0})
    n[1].set(V_m=-62.0, g_in=5.0, E_L=-65.0, **EXTRA[model])
    before = n.get(params + state)
    sg = nest.Create("spike_generator", params={"spike_times": [1.0, 2.5, 7.0]})
    nest.Connect(sg, n, syn_spec={"weight": -3.0, "delay": 0.5})
    sg2 = nest.Create("spike_generator", params={"spike_times": [3.0, 4.0]})
    nest.Connect(sg2, n, syn_spec={"weight": 8.0, "delay": 1.0})
    nest.Simulate(40.0)
    return defaults, sorted(d["recordables"]), before, n.get(state)


@pytest.mark.nest
@pytest.mark.parametrize("model", MODELS)
def test_status_matches_nest(run_both, model):
    theirs, mine = run_both(status_script, model)
    assert mine[0] == theirs[0]          # defaults
    assert mine[1] == theirs[1]          # recordables
    assert mine[2] == theirs[2]          # set before the run
    for k in theirs[3]:                  # state after it
        np.testing.assert_allclose(mine[3][k], theirs[3][k], rtol=1e-12, atol=1e-10, err_msg=k)


def bad_script(nest, model, params):
    """The error class NEST raises for ``params`` at Create, or None."""
    try:
        nest.Create(model, 1, params)
    except Exception as e:   # noqa: BLE001 -- the class is what is compared
        return type(e).__mro__
    return None


BAD = [({"C_m": -5.0}, "C_m"), ({"C_m": 0.0}, "C_m"), ({"t_ref": -1.0}, "t_ref"),
       ({"tau_syn_ex": 0.0}, "tau_syn_ex"), ({"tau_syn_in": -2.0}, "tau_syn_in"), ({"V_reset": -50.0}, "V_reset")]


@pytest.mark.nest
@pytest.mark.parametrize("model, params, name",
                         [(m, p, k) for m in MODELS[:2] for p, k in BAD]
                         + [("iaf_cond_exp_sfa_rr", {"tau_sfa": 0.0}, "tau_sfa"),
                            ("iaf_cond_exp_sfa_rr", {"tau_rr": -1.0}, "tau_rr")]
                         + [(m, p, k) for m in MODELS[2:] for p, k in BAD if k != "V_reset"]
                         + [(m, p, k) for m in MODELS[2:] for p, k in [
                             ({"V_reset": 5.0}, "V_reset"), ({"Delta_T": -1.0}, "Delta_T"),
                             ({"Delta_T": 0.01}, "Delta_T"), ({"V_peak": -55.0}, "V_peak"),
                             ({"tau_w": 0.0}, "tau_w"), ({"gsl_error_tol": 0.0}, "gsl_error_tol")]])
def test_bad_values_fail_as_in_nest_naming_model_parameter_value(run_both, nest_ours, model, params, name):
    theirs, _ = run_both(bad_script, model, params)
    assert theirs is not None            # NEST refuses it too
    nest = nest_ours
    value = str(next(iter(params.values())))
    with pytest.raises(ValueError, match=f"{model}.*{name}") as err:
        nest.Create(model, 1, params)
    assert value in str(err.value)
    n = nest.Create(model, 1)
    with pytest.raises(ValueError, match=f"{model}.*{name}") as err:
        n.set(params)
    assert value in str(err.value)


@pytest.mark.parametrize("model", MODELS)
def test_unknown_parameter_names_the_model(nest_ours, model):
    with pytest.raises(ValueError, match=f"{model}.*tau_m|tau_m.*{model}"):
        nest_ours.Create(model, 1, {"tau_m": 5.0})
