"""Kernel status compared with NEST 3.10 run in the same session."""
from __future__ import annotations

import pytest

OUR_OWN_KEYS = {"backend", "weight_dtype"}   # cortex_gpu's settings, which NEST has not


def test_kernel_status_keys_equal_nests(run_both):
    theirs, mine = run_both(lambda nest: set(nest.GetKernelStatus()))
    assert mine - OUR_OWN_KEYS == theirs


TIME_KEYS = ["resolution", "tics_per_ms", "ms_per_tic", "tics_per_step", "rng_seed", "local_num_threads"]


def test_time_and_seed_values_equal_nests(run_both):
    def script(nest):
        nest.SetKernelStatus({"resolution": 0.2, "rng_seed": 7})
        return nest.GetKernelStatus(TIME_KEYS)
    theirs, mine = run_both(script)
    assert mine == pytest.approx(theirs)


def test_network_values_after_simulate_equal_nests(run_both):
    def script(nest):
        neurons = nest.Create("iaf_psc_alpha", 3)
        nest.Connect(neurons[0], neurons[1], syn_spec={"delay": 1.5})
        nest.Connect(neurons[1], neurons[2], syn_spec={"delay": 3.0})
        nest.Simulate(20.0)
        return nest.GetKernelStatus(["biological_time", "network_size", "min_delay", "max_delay"])
    theirs, mine = run_both(script)
    assert mine == pytest.approx(theirs)


def test_set_and_get_return_types_equal_nests(run_both):
    def script(nest):
        nest.set(rng_seed=3)
        with_positional = "no error"
        try:
            nest.set({"rng_seed": 4})
        except Exception as error:
            with_positional = type(error).__name__
        return (type(nest.get()).__name__, nest.get("rng_seed"), nest.get("rng_seed", "resolution"),
                with_positional)
    theirs, mine = run_both(script)
    assert mine == theirs


def test_readonly_attribute_assignment_error_equals_nests(run_both):
    def script(nest):
        try:
            nest.network_size = 3
        except Exception as error:
            return type(error).__name__
        return "no error"
    theirs, mine = run_both(script)
    assert mine == theirs


def test_nest_errors_namespace_catches_as_in_nest(run_both):
    def script(nest):
        try:
            nest.rng_seed = 0
        except nest.NESTErrors.BadProperty as error:
            return isinstance(error, nest.NESTError), nest.get("rng_seed")
        return "not caught"
    theirs, mine = run_both(script)
    assert mine == theirs


def test_build_info_has_nests_keys(run_both):
    theirs, mine = run_both(lambda nest: set(nest.build_info))
    assert mine == theirs
