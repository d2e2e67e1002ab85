"""stdp_pl_synapse_hom against NEST 3.10: weight trajectories of given pre and post spike trains.

As in NEST's own STDP tests, spike_generators drive parrot_neurons, and the plastic synapse
joins the pre parrot to post parrots on receptor 1 (learning without being repeated). Four
synapses with delays of 1, 10, 15 and 37 steps see >= 100 pre spikes, with post spikes in the
same step as pre spikes, one step before and after, and one delay after.

When the weight is read: NEST updates a synapse when the spike is handed to it (the next
communication step), cortex_gpu when the spike reaches the post after its delay. The two
agree whenever no pre spike is in flight, so the trajectory is read after every pre spike
once it has arrived through the longest delay. A second test lets the plastic weight drive an
iaf_psc_alpha post, so that the learned weights also shape the post's spikes.

Weights agree to 1e-12 relative (the issue's bound), not bit for bit: the rule's exp and pow
are cortex_gpu.philox.pexp / ppow (about 1 and 2 ulp, identical on CPU and GPU), NEST's are
libm's. Measured max relative deviation: 4.5e-16 (parrot posts), 2.7e-16 (iaf_psc_alpha posts).
"""
from __future__ import annotations

import numpy as np
import pytest

from cortex_gpu.engine import Simulation
from cortex_gpu.network import Network

pytestmark = pytest.mark.nest
nest = pytest.importorskip("nest")

H = 0.1
DELAYS = [0.1, 1.0, 1.5, 3.7]
PARAMS = {"tau_plus": 15.0, "lambda": 0.1, "alpha": 0.0513, "mu": 0.4}
TAU_MINUS = 30.0
W0 = 45.6


def spike_trains(seed: int = 1, n: int = 150, t_max: float = 2000.0):
    rng = np.random.default_rng(seed)
    pre = np.unique(np.round(rng.uniform(1.0, t_max, n), 1))
    near = np.concatenate([pre[:40] + 0.1, pre[40:60] + 1.5, pre[60:80] - 0.1, pre[80:90] + 3.7, pre[90:100]])
    post = np.unique(np.round(np.concatenate([rng.uniform(1.0, t_max, n), near]), 1))
    return pre, post[post >= 0.2]


def reading_times(pre: np.ndarray) -> np.ndarray:
    """After each pre spike has arrived through the longest delay, before the next is sent."""
    last = [t for j, t in enumerate(pre) if j + 1 == pre.size or pre[j + 1] > t + max(DELAYS) + 0.3]
    return np.round(np.array(last) + max(DELAYS) + 0.2, 1)


def nest_weights(pre, post, readings, post_model="parrot_neuron", receptor=1, drive=None):
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.resolution = H
    g_pre = nest.Create("spike_generator", params={"spike_times": pre})
    g_post = nest.Create("spike_generator", params={"spike_times": post})
    a = nest.Create("parrot_neuron")
    b = nest.Create(post_model, len(DELAYS), params={"tau_minus": TAU_MINUS})
    nest.Connect(g_pre, a, syn_spec={"delay": H})
    nest.Connect(g_post, b, syn_spec={"delay": H, "weight": drive or 1.0})
    nest.CopyModel("stdp_pl_synapse_hom", "stdp_test", PARAMS)
    for i, d in enumerate(DELAYS):
        nest.Connect(a, b[i], syn_spec={"synapse_model": "stdp_test", "weight": W0, "delay": d,
                                        "receptor_type": receptor})
    rec = nest.Create("spike_recorder")
    nest.Connect(b, rec)
    out, t = [], 0.0
    for r in readings:
        nest.Simulate(round(r - t, 1))
        t = r
        c = nest.GetConnections(synapse_model="stdp_test")
        out.append(np.array(c.get("weight"))[np.argsort(c.get("target"))])
    ev = rec.get("events")
    return np.array(out), np.array(ev["senders"]) - b[0].global_id, np.array(ev["times"])


def our_weights(pre, post, readings, post_model="parrot_neuron", receptor=1, drive=None):
    net = Network(H)
    g_pre = net.add_population("spike_generator", 1, spike_times_ms=[pre])
    g_post = net.add_population("spike_generator", 1, spike_times_ms=[post])
    a = net.add_population("parrot_neuron", 1)
    b = net.add_population(post_model, len(DELAYS), {"tau_minus": TAU_MINUS})
    net.connect(g_pre.gids, a.gids, weight=1.0, delay=H)
    net.connect(g_post.gids, b.gids, weight=drive or 1.0, delay=H)
    net.copy_synapse_model("stdp_pl_synapse_hom", "stdp_test", PARAMS)
    for i, d in enumerate(DELAYS):
        net.connect(a.gids, b.gids[i:i + 1], weight=W0, delay=d, synapse_model="stdp_test", receptor_type=receptor)
    net.record_spikes(b.gids)
    sim = Simulation(net, weight_dtype="float64")
    out, t = [], 0.0
    for r in readings:
        sim.run(round(r - t, 1))
        t = r
        c = sim.connections()
        sel = c["synapse_model"] == "stdp_test"
        out.append(c["weight"][sel][np.argsort(c["target"][sel])])
    gids, steps = sim.all_spikes()
    return np.array(out), gids - b.gids[0], (steps + 1) * H


def test_weight_trajectories_equal_nest():
    pre, post = spike_trains()
    readings = reading_times(pre)
    assert pre.size >= 100 and readings.size >= 100
    theirs, _, _ = nest_weights(pre, post, readings)
    mine, _, _ = our_weights(pre, post, readings)
    assert np.ptp(theirs[:, 0]) > 1.0          # the weights learned
    rel = np.abs(mine - theirs) / np.abs(theirs)
    print(f"max relative difference to NEST {rel.max():.2e}")
    assert rel.max() <= 1e-12


def test_plastic_weights_drive_an_iaf_psc_alpha_post_as_in_nest():
    """Post spikes forced by a strong static input; the plastic synapses add their PSCs."""
    pre, post = spike_trains(seed=2, n=120, t_max=1500.0)
    readings = reading_times(pre)
    kw = dict(post_model="iaf_psc_alpha", receptor=0, drive=2000.0)
    theirs, s_nest, t_nest = nest_weights(pre, post, readings, **kw)
    mine, s_ours, t_ours = our_weights(pre, post, readings, **kw)
    order_n, order_o = np.lexsort((s_nest, t_nest)), np.lexsort((s_ours, t_ours))
    assert t_nest.size > 300
    np.testing.assert_array_equal(s_ours[order_o], s_nest[order_n])
    np.testing.assert_allclose(t_ours[order_o], t_nest[order_n], atol=1e-9)
    rel = np.abs(mine - theirs) / np.abs(theirs)
    print(f"max relative difference to NEST {rel.max():.2e}")
    assert rel.max() <= 1e-12
