"""Bad input fails early (I8): at description time, naming the item and the value, before any build."""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from cortex_gpu.distributions import Normal
from cortex_gpu.models import ModelError
from cortex_gpu.network import Network

H = 0.1
N_PRE, N_POST, K = 20_000, 20_000, 1_000     # built, this would be 2e7 synapses (~120 MB)


def _net() -> tuple[Network, object, object]:
    net = Network(H)
    pre = net.add_population("iaf_psc_exp", N_PRE, name="E")
    post = net.add_population("iaf_psc_exp", N_POST, name="I")
    return net, pre, post


CASES = {
    "unknown model": (lambda net, pre, post: net.add_population("iaf_psc_foo", 10, name="X"),
                      ["iaf_psc_foo"]),
    "unknown parameter": (lambda net, pre, post: net.add_population("iaf_psc_exp", 10, {"tau_foo": 3.0}, name="X"),
                          ["X", "tau_foo"]),
    "non-finite parameter": (lambda net, pre, post: net.add_population("iaf_psc_exp", 10, {"C_m": np.nan}, name="X"),
                             ["X", "C_m", "nan"]),
    "empty population": (lambda net, pre, post: net.add_population("iaf_psc_exp", 0, name="X"), ["X", "0"]),
    "negative delay": (lambda net, pre, post: net.connect(pre, post, "fixed_indegree", indegree=K, delay=-1.5,
                                                          label="E->I"), ["E->I", "delay", "-1.5"]),
    "sub-resolution delay": (lambda net, pre, post: net.connect(pre, post, "fixed_indegree", indegree=K, delay=0.04,
                                                                label="E->I"), ["E->I", "delay", "0.04"]),
    "unbounded delay distribution": (
        lambda net, pre, post: net.connect(pre, post, "fixed_indegree", indegree=K, delay=Normal(1.5, 0.75),
                                           label="E->I"), ["E->I", "delay", "resolution"]),
    "indegree above source size": (
        lambda net, pre, post: net.connect(pre, post, "fixed_indegree", indegree=N_PRE + 1, allow_multapses=False,
                                           label="E->I"), ["E->I", "indegree", str(N_PRE + 1)]),
    "NaN weight": (lambda net, pre, post: net.connect(pre, post, "fixed_indegree", indegree=K, weight=np.nan,
                                                      label="E->I"), ["E->I", "weight", "nan"]),
    "infinite weight": (lambda net, pre, post: net.connect(pre, post, "fixed_indegree", indegree=K, weight=np.inf,
                                                           label="E->I"), ["E->I", "weight", "inf"]),
    "iaf_psc_delta negative tau_m": (
        lambda net, pre, post: net.add_population("iaf_psc_delta", 10, {"tau_m": -3.0}, name="X"),
        ["X", "iaf_psc_delta", "tau_m", "-3.0"]),
    "iaf_psc_delta zero C_m": (
        lambda net, pre, post: net.add_population("iaf_psc_delta", 10, {"C_m": 0.0}, name="X"),
        ["X", "iaf_psc_delta", "C_m", "0.0"]),
    "iaf_psc_delta V_reset above V_th": (
        lambda net, pre, post: net.add_population("iaf_psc_delta", 10, {"V_reset": -54.0}, name="X"),
        ["X", "iaf_psc_delta", "V_reset", "-54.0", "V_th", "-55.0"]),
    "NaN in a weight array": (
        lambda net, pre, post: net.connect(pre.gids[:3], post.gids[:3], "one_to_one",
                                           weight=np.array([1.0, np.nan, 2.0]), label="E->I"),
        ["E->I", "weight", "nan"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_fails_early_naming_item_and_value(case):
    act, words = CASES[case]
    net, pre, post = _net()
    tracemalloc.start()
    try:
        with pytest.raises(ModelError) as err:
            act(net, pre, post)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    message = str(err.value)
    for word in words:
        assert word in message, (case, word, message)
    # the network description holds no per-synapse data: failing costs far less than the synapses would
    assert peak < 5_000_000, (case, peak)
    assert not net.projections   # nothing half-added
