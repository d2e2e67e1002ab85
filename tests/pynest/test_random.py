"""nest.random parameters with arithmetic and nest.math, as node parameters and connection weights/delays.

Streams differ from NEST's, so values are compared in law: mean and std over
many nodes or connections with fixed seeds, within a few standard errors.
"""
from __future__ import annotations

import numpy as np
import pytest

N_NODES = 20000

# name -> expression builder (nest module) for node parameters (drawn on the host)
NODE_CASES = {
    "affine normal": lambda nest: -70.0 + 2.0 * nest.random.normal(1.0, 0.5) - 3.0,
    "neg uniform / 2": lambda nest: -nest.random.uniform(min=2.0, max=6.0) / 2.0,
    "exponential": lambda nest: nest.random.exponential(beta=2.0) + 1.0,
    "uniform_int": lambda nest: 1.0 * nest.random.uniform_int(5),
    "exp of normal": lambda nest: nest.math.exp(nest.random.normal(0.0, 0.5)),
    "min": lambda nest: nest.math.min(nest.random.normal(0.0, 1.0), 0.5),
    "max": lambda nest: nest.math.max(nest.random.normal(0.0, 1.0), -0.5),
    "sin cos": lambda nest: nest.math.sin(nest.random.uniform(0.0, 3.0)) + nest.math.cos(nest.random.normal()),
    "power": lambda nest: nest.random.normal(0.0, 1.0) ** 2,
    "sum of normals": lambda nest: nest.random.normal(1.0, 1.0) - nest.random.normal(2.0, 2.0),
    "ratio": lambda nest: nest.random.uniform(1.0, 2.0) / nest.random.uniform(1.0, 3.0),
    "redraw of expression": lambda nest: nest.math.redraw(2.0 * nest.random.normal(0.0, 1.0), min=-1.0, max=1.5),
    "lognormal scaled": lambda nest: 3.0 * nest.random.lognormal(0.0, 0.4),
}


def _node_script(nest, name):
    nest.SetKernelStatus({"rng_seed": 7})
    n = nest.Create("iaf_psc_alpha", N_NODES, {"I_e": NODE_CASES[name](nest)})
    first = np.array(n.I_e)
    n.set(I_e=NODE_CASES[name](nest))
    return first, np.array(n.I_e)


def _close_in_law(mine: np.ndarray, theirs: np.ndarray) -> None:
    n = mine.size
    se = theirs.std() / np.sqrt(n)
    assert abs(mine.mean() - theirs.mean()) < 5 * np.sqrt(2) * se + 1e-12
    # std of the sample std ~ std * sqrt((kurtosis - 1) / 4n); 5 of them, kurtosis from NEST's sample
    kurt = np.mean((theirs - theirs.mean()) ** 4) / max(theirs.var() ** 2, 1e-300)
    assert abs(mine.std() - theirs.std()) < 5 * np.sqrt(2) * theirs.std() * np.sqrt(max(kurt - 1, 0.0) / (4 * n)) \
        + 1e-12
    assert mine.min() >= theirs.min() - 6 * theirs.std() and mine.max() <= theirs.max() + 6 * theirs.std()


@pytest.mark.nest
@pytest.mark.parametrize("name", list(NODE_CASES))
def test_node_parameter_expressions_match_nest_in_law(run_both, name):
    theirs, mine = run_both(_node_script, name)
    for m, t in zip(mine, theirs):
        _close_in_law(m, t)


@pytest.mark.nest
def test_uniform_int_and_redraw_support_equal_nest(run_both):
    theirs, mine = run_both(_node_script, "uniform_int")
    assert sorted(set(mine[0])) == sorted(set(theirs[0])) == [0.0, 1.0, 2.0, 3.0, 4.0]
    theirs, mine = run_both(_node_script, "redraw of expression")
    assert mine[0].min() >= -1.0 and mine[0].max() <= 1.5


CONN_CASES = {
    "affine normal weight": (lambda nest: -5.0 * nest.random.normal(20.0, 0.5), 1.5),
    "uniform weight and delay": (lambda nest: nest.random.uniform(min=0.5, max=4.5) * 2.0 - 1.0,
                                 lambda nest: 0.5 + nest.random.uniform(0.5, 2.0)),
    "exp of normal": (lambda nest: nest.math.exp(nest.random.normal(0.5, 0.3)), 1.0),
    "scaled lognormal": (lambda nest: nest.random.lognormal(0.0, 0.5) / 4.0, 1.0),
    "sum of normals": (lambda nest: nest.random.normal(1.0, 1.0) + nest.random.normal(-3.0, 2.0), 1.0),
    "bounded affine": (lambda nest: nest.math.redraw(2.0 * nest.random.normal(0.0, 1.0) + 1.0, min=0.0, max=3.0),
                       lambda nest: nest.math.redraw(nest.random.normal(2.0, 1.0) * 0.5, min=0.3, max=3.0)),
}


def _conn_script(nest, name):
    nest.SetKernelStatus({"rng_seed": 11})
    w, d = CONN_CASES[name]
    a = nest.Create("iaf_psc_alpha", 200)
    nest.Connect(a, a, {"rule": "fixed_indegree", "indegree": 100},
                 {"weight": w(nest), "delay": d(nest) if callable(d) else d})
    c = nest.GetConnections()
    return np.array(c.weight), np.array(c.delay)


@pytest.mark.nest
@pytest.mark.parametrize("name", list(CONN_CASES))
def test_connection_weight_and_delay_expressions_match_nest_in_law(run_both, name):
    theirs, mine = run_both(_conn_script, name)
    assert mine[0].size == theirs[0].size == 20000
    _close_in_law(mine[0], theirs[0])
    if theirs[1].std() > 0:
        _close_in_law(mine[1], theirs[1])
    else:
        np.testing.assert_allclose(mine[1], theirs[1], rtol=0, atol=1e-12)


@pytest.mark.parametrize("expr", [
    lambda nest: nest.math.sin(nest.random.normal()),
    lambda nest: nest.random.exponential(1.0),
    lambda nest: nest.random.uniform_int(4) * 1.0,
    lambda nest: nest.math.min(nest.random.normal(), 1.0),
    lambda nest: nest.random.uniform() + nest.random.uniform(),
    lambda nest: nest.random.lognormal() + 1.0,
    lambda nest: 1.0 / nest.random.uniform(1.0, 2.0),
])
def test_connection_expressions_the_core_cannot_draw_are_refused_at_connect(nest_ours, expr):
    nest = nest_ours
    a = nest.Create("iaf_psc_alpha", 3)
    with pytest.raises(NotImplementedError, match="cannot be drawn by the core for connections"):
        nest.Connect(a, a, syn_spec={"weight": expr(nest)})


def test_plain_distributions_keep_their_draws(nest_ours):
    """A parameter without arithmetic draws exactly the values it drew before expressions existed."""
    from cortex_gpu import keys
    from cortex_gpu.distributions import Normal, as_row, draw
    nest = nest_ours
    nest.SetKernelStatus({"rng_seed": 3})
    n = nest.Create("iaf_psc_alpha", 50, {"V_m": nest.random.normal(-60.0, 2.0)})
    from cortex_gpu.pynest.nodes import _purpose
    stream = keys.stream(keys.PARAM, (1 << 23) | _purpose("V_m"))
    want = [draw(as_row(Normal(-60.0, 2.0)), 3, stream, int(i), 0) for i in n.tolist()]
    assert list(n.V_m) == want
