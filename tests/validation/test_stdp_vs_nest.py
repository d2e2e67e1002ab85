"""stdp_pl_synapse_hom against NEST 3.10: weight trajectories of given spike trains, to 1e-12.

As NEST's own STDP tests do, given pre and post spike trains enter through
``spike_generator -> parrot_neuron``; the pre parrot connects to the post
parrot through the plastic synapse on receptor 1 (which the post parrot does
not repeat), so the post spikes are exactly the given ones. Four pairs run
side by side, one per plastic delay (0.1, 1.0, 1.5, 3.7 ms), with >= 100
pre spikes each and post spikes placed on the boundaries of the rule: in the
pre spike's step, one step before and after, one delay before (the edge of
the facilitation window ``(t_last - d, t - d]``) and after, and at random.
The same script runs with ``nest`` and with ``cortex_gpu.pynest`` (the
``run_both`` fixture), simulating up to a point after each pre spike's
delivery and reading every plastic weight there.

A second test puts an ``iaf_psc_alpha`` behind the plastic synapse, driven
over threshold by strong static input, so the learned weight feeds back into
V_m and the spike times.

Weights agree to 1e-12 relative, not bit for bit: the rule's exp and pow are
cortex_gpu.philox.pexp / ppow (about 1 and 2 ulp, the same bits on CPU and
GPU), NEST's are libm's. Measured max relative deviation: 5.2e-16 (parrot
pairs), 1.2e-15 (clipping pairs), 7.5e-16 (iaf_psc_alpha posts; V_m within
8.6e-13 mV).
"""
from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.nest

H = 0.1                                  # ms, resolution
DELAYS_MS = (0.1, 1.0, 1.5, 3.7)         # plastic delays, one pair each
D_IN = 1.0                               # ms, generator -> parrot
N_PRE = 110
#: Non-default common parameters (NEST defaults: tau_plus 20, lambda 0.1, alpha 1, mu 0.4).
STDP = {"tau_plus": 13.7, "lambda": 0.037, "alpha": 0.4, "mu": 0.27}
TAU_MINUS = 23.3                         # ms, post parrots (NEST default 20)
W0 = 3.0                                 # pA, initial weight: near where potentiation and
                                         # depression balance, so the weights move both ways


def _grid(t: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(t, float) / H) * H


def spike_trains(seed: int = 7) -> tuple[np.ndarray, list[np.ndarray]]:
    """Pre spike times (ms, the pre parrot's) and, per delay, the post parrot's spike times.

    Pre ISIs are 5.0-14.9 ms so that the weight can be read between one
    spike's delivery (at most 3.7 ms after it) and the next spike.
    """
    rng = np.random.default_rng(seed)
    pre = _grid(10.0 + np.cumsum(rng.integers(50, 150, N_PRE) * H))
    posts = []
    for d in DELAYS_MS:
        offsets = np.array([0.0, H, -H, -d, -d + H, -d - H, d])
        t = []
        for tp in pre:
            pick = rng.choice(offsets, size=rng.integers(0, 3), replace=False)
            t.extend(tp + pick)
            if rng.random() < 0.3:
                t.append(tp + rng.integers(-40, 40) * H)
        t = np.unique(_grid(t))
        posts.append(t[t >= 5.0])
    return pre, posts


def sample_times(pre: np.ndarray) -> np.ndarray:
    """Times (ms) at which to read the weights: 4.0 ms after each pre spike, and the end."""
    return _grid(pre + 4.0)


def parrot_pairs(nest, pre: np.ndarray, posts: list[np.ndarray], stdp: dict, w0: float = W0):
    """Build the parrot pairs; returns (plastic weight after each sample, ids, parrot spikes)."""
    nest.resolution = H
    nest.CopyModel("stdp_pl_synapse_hom", "stdp_test", stdp)
    pre_sg = nest.Create("spike_generator", params={"spike_times": (pre - D_IN).tolist()})
    pre_p = nest.Create("parrot_neuron", len(DELAYS_MS))
    post_p = nest.Create("parrot_neuron", len(DELAYS_MS), params={"tau_minus": TAU_MINUS})
    nest.Connect(pre_sg, pre_p, syn_spec={"delay": D_IN})
    for i, (d, post) in enumerate(zip(DELAYS_MS, posts)):
        sg = nest.Create("spike_generator", params={"spike_times": (post - D_IN).tolist()})
        nest.Connect(sg, post_p[i], syn_spec={"delay": D_IN})
        nest.Connect(pre_p[i], post_p[i], syn_spec={"synapse_model": "stdp_test", "weight": w0, "delay": d,
                                                    "receptor_type": 1})
    sr = nest.Create("spike_recorder")
    nest.Connect(pre_p + post_p, sr)
    weights = []
    for t in sample_times(pre):
        nest.Simulate(round(t - nest.biological_time, 6))
        c = nest.GetConnections(synapse_model="stdp_test")
        weights.append(np.asarray(c.get("weight"), float))
    ids = np.column_stack([c.get("source"), c.get("target"), c.get("receptor")])
    ev = sr.get("events")
    return np.array(weights), ids, (np.asarray(ev["senders"]), np.asarray(ev["times"]))


def test_parrot_pairs_weight_trajectories_match_nest(run_both):
    pre, posts = spike_trains()
    assert pre.size >= 100 and all(p.size >= 80 for p in posts)
    theirs, mine = run_both(parrot_pairs, pre, posts, STDP)
    w_nest, w_ours = theirs[0], mine[0]
    np.testing.assert_array_equal(mine[1], theirs[1])          # same pairs, receptor 1
    assert np.all(theirs[1][:, 2] == 1)
    # the parrots pass the given trains through unchanged on both sides
    for s, t in (theirs[2], mine[2]):
        order = np.lexsort((t, s))
        s, t = s[order], t[order]
        n = len(DELAYS_MS)
        for i in range(n):
            np.testing.assert_allclose(t[s == 2 + i], pre, atol=1e-9)
            np.testing.assert_allclose(t[s == 2 + n + i], posts[i], atol=1e-9)
    # a trajectory that learns: moves both ways, by more than rounding
    dw = np.diff(w_nest, axis=0)
    assert np.all((dw > 1e-6).sum(axis=0) > 10) and np.all((dw < -1e-6).sum(axis=0) > 10)
    rel = np.abs(w_ours - w_nest) / np.abs(w_nest)
    print(f"{w_nest.shape[0]} samples x {w_nest.shape[1]} synapses; weights {w_nest.min():.4f}.."
          f"{w_nest.max():.4f} pA; max relative difference {rel.max():.2e}")
    assert rel.max() <= 1e-12


def test_depression_clips_at_zero_like_nest(run_both):
    """lambda * alpha * K_minus > 1 takes the weight to 0, where it stays (0**mu = 0)."""
    pre, posts = spike_trains(seed=3)
    stdp = {"tau_plus": 10.0, "lambda": 0.2, "alpha": 2.0, "mu": 0.5}
    theirs, mine = run_both(parrot_pairs, pre[:40], posts, stdp, 20.0)
    w_nest, w_ours = theirs[0], mine[0]
    assert np.all(w_nest[0] > 0.0) and np.all(w_nest[-1] == 0.0)      # each pair clips at some spike
    np.testing.assert_array_equal(w_ours == 0.0, w_nest == 0.0)
    nz = w_nest > 0
    print(f"max relative difference to NEST {(np.abs(w_ours[nz] - w_nest[nz]) / w_nest[nz]).max():.2e}")
    np.testing.assert_allclose(w_ours[nz], w_nest[nz], rtol=1e-12, atol=0)


def neuron_behind_plastic_synapse(nest):
    """iaf_psc_alpha posts: plastic input from a parrot plus strong static drive; V_m, spikes, weights."""
    nest.resolution = H
    rng = np.random.default_rng(21)
    nest.CopyModel("stdp_pl_synapse_hom", "stdp_test", STDP)
    post = nest.Create("iaf_psc_alpha", 2, params={"tau_minus": TAU_MINUS, "I_e": 300.0,
                                                   "tau_syn_ex": 0.5, "t_ref": 1.0})
    pre_times = _grid(5.0 + np.cumsum(rng.integers(20, 90, 150) * H))
    pre_sg = nest.Create("spike_generator", params={"spike_times": pre_times.tolist()})
    pre_p = nest.Create("parrot_neuron")
    nest.Connect(pre_sg, pre_p, syn_spec={"delay": D_IN})
    for node, d in zip(post, (1.5, 0.7)):
        nest.Connect(pre_p, node, syn_spec={"synapse_model": "stdp_test", "weight": 400.0, "delay": d})
    # strong static kicks that make the post fire, sometimes just before or after a pre spike
    kicks = np.unique(_grid(np.concatenate([pre_times[::3] + rng.integers(-30, 30, 50) * H,
                                            5.0 + rng.random(40) * 900.0])))
    drive = nest.Create("spike_generator", params={"spike_times": kicks[kicks > 1.0].tolist()})
    nest.Connect(drive, post, syn_spec={"weight": 1500.0, "delay": 0.5})
    sr = nest.Create("spike_recorder")
    vm = nest.Create("voltmeter", params={"interval": H})
    nest.Connect(post, sr)
    nest.Connect(vm, post)
    weights = []
    for t in np.arange(100.0, 1001.0, 100.0):
        nest.Simulate(round(t - nest.biological_time, 6))
        weights.append(np.asarray(nest.GetConnections(synapse_model="stdp_test").get("weight"), float))
    s, v = sr.get("events"), vm.get("events")
    return (np.array(weights), np.asarray(s["senders"]), np.asarray(s["times"]),
            np.asarray(v["senders"]), np.asarray(v["times"]), np.asarray(v["V_m"]))


def test_iaf_psc_alpha_behind_plastic_synapse_matches_nest(run_both):
    theirs, mine = run_both(neuron_behind_plastic_synapse)
    w_nest, w_ours = theirs[0], mine[0]
    assert np.ptp(w_nest[:, 0]) > 1.0 and np.ptp(w_nest[:, 1]) > 1.0     # the weights learn
    ts, tt = theirs[1], theirs[2]
    ms, mt = mine[1], mine[2]
    o1, o2 = np.lexsort((tt, ts)), np.lexsort((mt, ms))
    np.testing.assert_array_equal(ms[o2], ts[o1])
    np.testing.assert_allclose(mt[o2], tt[o1], rtol=0, atol=1e-9)
    assert np.all(np.bincount(ts)[1:] > 20)                               # both neurons fire
    print(f"max relative weight difference to NEST {(np.abs(w_ours - w_nest) / np.abs(w_nest)).max():.2e}")
    np.testing.assert_allclose(w_ours, w_nest, rtol=1e-12, atol=0)
    vs, vt, vv = theirs[3], theirs[4], theirs[5]
    ws, wt, wv = mine[3], mine[4], mine[5]
    o1, o2 = np.lexsort((vt, vs)), np.lexsort((wt, ws))
    np.testing.assert_array_equal(ws[o2], vs[o1])
    dv = np.abs(wv[o2] - vv[o1]).max()
    print(f"{ts.size} post spikes, weights {w_nest[-1]} pA at 1 s, max |dV_m| = {dv:.2e} mV")
    assert dv <= 1e-9


def model_defaults(nest):
    """GetDefaults of the synapse models (built-in, _hpc twins, a changed copy) and of parrot_neuron."""
    nest.CopyModel("stdp_pl_synapse_hom", "stdp_test", STDP)
    nest.SetDefaults("stdp_test", {"weight": 2.5, "delay": 1.7})
    nest.CopyModel("static_synapse_hpc", "syn_ex", {"weight": 45.6})
    names = ("stdp_pl_synapse_hom", "stdp_pl_synapse_hom_hpc", "stdp_test", "static_synapse",
             "static_synapse_hpc", "syn_ex", "parrot_neuron")
    return {m: nest.GetDefaults(m) for m in names}


def test_model_defaults_match_nest(run_both):
    theirs, mine = run_both(model_defaults)
    for model, d in mine.items():
        for key, value in d.items():
            assert key in theirs[model], (model, key)
            if isinstance(value, (int, float, str)):
                assert theirs[model][key] == value, (model, key, theirs[model][key], value)
    for model in ("stdp_pl_synapse_hom", "stdp_test"):
        assert {"tau_plus", "lambda", "alpha", "mu", "weight", "delay"} <= set(mine[model])
