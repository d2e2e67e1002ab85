"""A small random network against NEST 3.10: connectivity drawn once with NumPy, passed as arrays.

Both simulators get the same pairs, weights and delays through ``one_to_one``
with per-connection arrays, plus I_e and spike_generator drive; spike trains
must be identical over 600 ms.
"""
from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.nest

N_EXP, N_ALPHA, N_INPUT = 160, 80, 20
K_IN = 25          # inputs per neuron
T_MS = 600.0


def draw_network(seed: int = 20261121) -> dict[str, np.ndarray]:
    """Connectivity in NEST node ids: neurons are 1..N, spike generators N+1..N+N_INPUT."""
    rng = np.random.default_rng(seed)
    n = N_EXP + N_ALPHA
    post = np.repeat(np.arange(1, n + 1), K_IN)
    pre = rng.integers(1, n + 1, size=post.size)
    inhibitory = pre > int(0.8 * n)
    weight = np.where(inhibitory, rng.normal(-90.0, 10.0, post.size), rng.normal(30.0, 5.0, post.size))
    delay = np.round(rng.integers(1, 40, size=post.size) * 0.1, 1)    # 0.1 .. 3.9 ms
    sg_post = rng.integers(1, n + 1, size=200)
    sg_pre = n + 1 + rng.integers(0, N_INPUT, size=200)
    sg_times = [np.round(np.sort(rng.choice(np.arange(10, 5990), 30, replace=False)) * 0.1, 1)
                for _ in range(N_INPUT)]
    i_e = rng.uniform(300.0, 420.0, n)      # about half of the neurons fire on I_e alone
    v0 = rng.uniform(-70.0, -56.0, n)
    return dict(pre=pre, post=post, weight=weight, delay=delay, sg_pre=sg_pre, sg_post=sg_post,
                sg_times=sg_times, i_e=i_e, v0=v0)


def random_network(nest, c: dict):
    nest.resolution = 0.1
    exc = nest.Create("iaf_psc_exp", N_EXP, params={"I_e": c["i_e"][:N_EXP], "V_m": c["v0"][:N_EXP]})
    alp = nest.Create("iaf_psc_alpha", N_ALPHA, params={"tau_syn_ex": 0.8, "tau_syn_in": 1.7})
    alp.set(I_e=c["i_e"][N_EXP:], V_m=c["v0"][N_EXP:])
    sgs = nest.Create("spike_generator", N_INPUT)
    for sg, times in zip(sgs, c["sg_times"]):
        sg.set(spike_times=times.tolist())
    nest.Connect(c["pre"], c["post"], "one_to_one", syn_spec={"weight": c["weight"], "delay": c["delay"]})
    # NEST takes per-connection arrays only (no scalars) when pre and post are id arrays
    nest.Connect(c["sg_pre"], c["sg_post"], "one_to_one",
                 syn_spec={"weight": np.full(c["sg_pre"].size, 250.0), "delay": np.full(c["sg_pre"].size, 1.0)})
    neurons = exc + alp
    sr = nest.Create("spike_recorder")
    nest.Connect(neurons, sr)
    nest.Simulate(T_MS)
    ev = sr.get("events")
    return np.asarray(ev["senders"]).astype(int), np.asarray(ev["times"])


def test_random_network_spike_trains_match_nest(run_both):
    c = draw_network()
    (ts, tt), (ms, mt) = run_both(random_network, c)
    n = N_EXP + N_ALPHA
    counts = np.bincount(ts, minlength=n + 1)[1:]
    # active enough that a wrong synapse or delay changes the trains
    assert ts.size >= 2 * n and np.count_nonzero(counts) >= 0.8 * n, (ts.size, np.count_nonzero(counts))
    o1, o2 = np.lexsort((tt, ts)), np.lexsort((mt, ms))
    print(f"random network: {ts.size} NEST spikes, {mt.size} ours, {np.count_nonzero(counts)} active neurons")
    np.testing.assert_array_equal(ms[o2], ts[o1])
    np.testing.assert_array_equal(mt[o2], tt[o1])
