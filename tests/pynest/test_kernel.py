"""Kernel settings (both styles), Simulate continuation and Prepare/Run/Cleanup."""
from __future__ import annotations

import numpy as np
import pytest


def test_settings_attribute_and_dict_styles(nest_ours):
    nest = nest_ours
    assert nest.resolution == 0.1 and nest.biological_time == 0.0
    nest.resolution = 0.2
    nest.SetKernelStatus({"rng_seed": 42, "local_num_threads": 1})
    assert nest.GetKernelStatus("resolution") == 0.2
    assert nest.GetKernelStatus(["rng_seed", "local_num_threads"]) == (42, 1)
    status = nest.GetKernelStatus()
    assert status["rng_seed"] == 42 and status["resolution"] == 0.2
    nest.ResetKernel()
    assert nest.resolution == 0.1 and nest.rng_seed == 143202461


# local_num_threads=0 is left out: NEST 3.10 aborts the process on it.
BAD_SETTINGS = [{"resolution": -0.1}, {"resolution": 0.0004}, {"rng_seed": 0},
                {"biological_time": 5.0}, {"no_such_setting": 1}, {"rng_seed": "x"},
                {"resolution": "x"}]


def _error_name(nest, params: dict) -> str:
    try:
        nest.SetKernelStatus(params)
    except Exception as error:   # the class name is what is compared with NEST
        return type(error).__name__
    return "no error"


@pytest.mark.parametrize("params", BAD_SETTINGS, ids=lambda p: next(iter(p)))
def test_bad_settings_raise_nests_error_class(run_both, params):
    theirs, mine = run_both(_error_name, params)
    assert mine == theirs


def test_resolution_change_after_create_is_an_error_as_in_nest(run_both):
    def script(nest):
        nest.Create("iaf_psc_exp")
        return _error_name(nest, {"resolution": 0.2})
    theirs, mine = run_both(script)
    assert mine == theirs


def test_unsupported_function_names_itself(nest_ours):
    with pytest.raises(NotImplementedError, match="Disconnect"):
        nest_ours.Disconnect


def _network(nest):
    nest.rng_seed = 5
    exc = nest.Create("iaf_psc_exp", 80, {"I_e": nest.random.uniform(300.0, 420.0)})
    inh = nest.Create("iaf_psc_alpha", 20, {"I_e": 380.0})
    pg = nest.Create("poisson_generator", params={"rate": 2000.0})
    nest.Connect(exc, exc + inh, {"rule": "fixed_indegree", "indegree": 10},
                 {"weight": 40.0, "delay": nest.random.uniform(0.5, 2.0)})
    nest.Connect(inh, exc + inh, {"rule": "pairwise_bernoulli", "p": 0.2}, {"weight": -150.0, "delay": 0.8})
    nest.Connect(pg, exc, syn_spec={"weight": 20.0, "delay": 1.0})
    sr = nest.Create("spike_recorder")
    vm = nest.Create("voltmeter", params={"interval": 0.1})
    nest.Connect(exc + inh, sr)
    nest.Connect(vm, inh[:3])
    return sr, vm


def test_two_simulate_calls_equal_one(nest_ours):
    nest = nest_ours
    sr, vm = _network(nest)
    nest.Simulate(1000.0)
    one = sr.get("events"), vm.get("events")
    assert one[0]["times"].size > 300                    # active: a few spikes per neuron
    nest.ResetKernel()
    nest.weight_dtype = "float64"
    sr, vm = _network(nest)
    nest.Simulate(500.0)
    assert nest.biological_time == 500.0
    nest.Simulate(500.0)
    assert nest.GetKernelStatus("biological_time") == 1000.0
    two = sr.get("events"), vm.get("events")
    for a, b in zip(one, two):
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])


def test_prepare_run_cleanup_equal_simulate(nest_ours):
    nest = nest_ours
    sr, _ = _network(nest)
    nest.Simulate(300.0)
    want = sr.get("events")
    nest.ResetKernel()
    nest.weight_dtype = "float64"
    sr, _ = _network(nest)
    nest.Prepare()
    for _ in range(3):
        nest.Run(100.0)
    nest.Cleanup()
    got = sr.get("events")
    np.testing.assert_array_equal(got["senders"], want["senders"])
    np.testing.assert_array_equal(got["times"], want["times"])


def test_rng_seed_changes_random_draws(nest_ours):
    nest = nest_ours
    sr, _ = _network(nest)
    nest.Simulate(200.0)
    a = sr.get("events")["times"]
    nest.ResetKernel()
    nest.weight_dtype = "float64"
    sr, _ = _network(nest)          # sets rng_seed 5 again
    nest.rng_seed = 6
    nest.Simulate(200.0)
    b = sr.get("events")["times"]
    assert not np.array_equal(a, b)


def test_bad_simulate_times(nest_ours):
    nest = nest_ours
    nest.Create("iaf_psc_exp")
    with pytest.raises(ValueError):
        nest.Simulate(-1.0)
    with pytest.raises(ValueError, match="resolution"):
        nest.Simulate(0.05)
    with pytest.raises(nest.NESTErrors.KernelException, match="Prepare"):
        nest.ResetKernel()
        nest.Run(1.0)


def test_file_settings_as_nest(nest_ours, tmp_path, capsys):
    """data_path, data_prefix and overwrite_files are kept as NEST keeps them (bad values logged, not set)."""
    nest = nest_ours
    assert (nest.data_path, nest.data_prefix, nest.overwrite_files) == ("", "", False)
    nest.SetKernelStatus({"data_path": str(tmp_path), "data_prefix": "run_", "overwrite_files": True})
    assert nest.GetKernelStatus(["data_path", "data_prefix", "overwrite_files"]) == (str(tmp_path), "run_", True)
    nest.data_path = str(tmp_path / "missing")
    nest.data_prefix = "a/b"
    assert (nest.data_path, nest.data_prefix) == (str(tmp_path), "run_")
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(TypeError, match="overwrite_files"):
        nest.overwrite_files = 1
    nest.ResetKernel()
    assert nest.data_path == ""
