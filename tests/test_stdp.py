"""Plastic synapses (stdp_pl_synapse_hom), parrot_neuron and the ownership check, on the CPU.

The rule itself is checked against NEST 3.10 in tests/validation; here: against a plain Python
transcription of MODELS.md section 3, for thread-count invariance, for the clear errors, and
for the ownership check catching planted violations.
"""
from __future__ import annotations

import numba
import numpy as np
import pytest
from helpers import HPC_STDP, plastic_network, weight_table

from cortex_gpu.engine import OwnershipError, Simulation
from cortex_gpu.models import ModelError
from cortex_gpu.network import Network

H = 0.1


def pair_network(pre_ms, post_ms, delays_ms, w0=45.6, tau_minus=30.0, params=HPC_STDP):
    """spike_generator -> parrot (pre) -plastic, receptor 1-> parrots (posts, one per delay) <- spike_generator.

    A parrot repeats a generator's spike one step after its stamp (delay 0.1 ms), so the pre
    and post spikes are the given times plus 0.1 ms.
    """
    net = Network(H)
    g_pre = net.add_population("spike_generator", 1, spike_times_ms=[pre_ms])
    g_post = net.add_population("spike_generator", 1, spike_times_ms=[post_ms])
    pre = net.add_population("parrot_neuron", 1)
    posts = net.add_population("parrot_neuron", len(delays_ms), {"tau_minus": tau_minus})
    net.connect(g_pre.gids, pre.gids, weight=1.0, delay=H)
    net.connect(g_post.gids, posts.gids, weight=1.0, delay=H)
    net.copy_synapse_model("stdp_pl_synapse_hom", "stdp_test", params)
    for i, d in enumerate(delays_ms):
        net.connect(pre.gids, posts.gids[i:i + 1], weight=w0, delay=d, synapse_model="stdp_test",
                    receptor_type=1)
    net.record_spikes(np.concatenate([pre.gids, posts.gids]))
    return net, pre.gids, posts.gids


def reference_weight(pre_ms, post_ms, d_ms, w, tau_minus, p):
    """MODELS.md section 3 written out with plain floats: the weight after the last pre spike."""
    kplus, t_last = 0.0, 0.0
    post = np.asarray(post_ms)
    kminus_at = []      # Kminus just after each post spike
    km, t_prev = 0.0, -1.0
    for t in post:
        km = km * np.exp((t_prev - t) / tau_minus) + 1.0
        kminus_at.append(km)
        t_prev = t
    for t in pre_ms:
        for j in np.flatnonzero((post > t_last - d_ms + 1e-9) & (post <= t - d_ms + 1e-9)):
            w = w + p["lambda"] * w ** p["mu"] * kplus * np.exp((t_last - (post[j] + d_ms)) / p["tau_plus"])
        before = np.flatnonzero(post < t - d_ms - 1e-9)
        k_minus = kminus_at[before[-1]] * np.exp((post[before[-1]] - (t - d_ms)) / tau_minus) if before.size else 0.0
        w = max(0.0, w - p["lambda"] * p["alpha"] * w * k_minus)
        kplus = kplus * np.exp((t_last - t) / p["tau_plus"]) + 1.0
        t_last = t
    return w


def _spike_trains(seed=1, n=120, t_max=1500.0):
    rng = np.random.default_rng(seed)
    pre = np.unique(np.round(rng.uniform(1.0, t_max, n), 1))
    near = np.concatenate([pre[:30] + 0.1, pre[30:45] - 0.1, pre[45:60] + 1.5, pre[60:70] + 3.7, pre[70:80]])
    post = np.unique(np.round(np.concatenate([rng.uniform(1.0, t_max, n), near]), 1))
    return pre, post[post >= 0.2]


def test_weights_follow_the_rule_written_out():
    pre, post = _spike_trains()
    delays = [0.1, 1.0, 1.5, 3.7]
    params = {"tau_plus": 12.0, "lambda": 0.05, "alpha": 0.3, "mu": 0.6}
    net, _, posts = pair_network(pre, post, delays, w0=30.0, tau_minus=25.0, params=params)
    sim = Simulation(net)
    sim.run(pre.max() + 10.0)
    c = sim.connections()
    sel = c["synapse_model"] == "stdp_test"
    got = c["weight"][sel][np.argsort(c["target"][sel])]
    assert not np.allclose(got, 30.0)        # the weights moved
    for d, w in zip(delays, got):
        want = reference_weight(pre + H, post + H, d, 30.0, 25.0, params)
        assert w == pytest.approx(want, rel=1e-12), d


def test_depression_clips_at_zero():
    pre = np.arange(5.0, 200.0, 2.0)
    post = pre - 0.5                # post just before pre: depression only
    params = {**HPC_STDP, "alpha": 50.0}
    net, _, _ = pair_network(pre, post, [1.0], w0=1.0, params=params)
    sim = Simulation(net)
    sim.run(210.0)
    c = sim.connections()
    assert c["weight"][c["synapse_model"] == "stdp_test"][0] == 0.0


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="Numba runs with a single thread here")
def test_plastic_network_is_thread_independent():
    net, E, _ = plastic_network()
    out = []
    for threads in (1, 2):
        sim = Simulation(net, threads=threads, seed=11)
        sim.run(300.0)
        out.append((*sim.all_spikes(), weight_table(sim.connections())))
    assert out[0][0].size > 1000
    for a, b in zip(out[0], out[1]):
        np.testing.assert_array_equal(a, b)
    assert np.std(out[0][2][:, 3]) > 0.1     # weights spread: the rule was at work


def test_parrot_repeats_with_multiplicity():
    """Two generators spiking together make one parrot spike of multiplicity 2: twice the PSC, two records."""
    net = Network(H)
    g = net.add_population("spike_generator", 2, spike_times_ms=[[5.0, 9.0], [5.0]])
    parrot = net.add_population("parrot_neuron", 1)
    target = net.add_population("iaf_psc_exp", 1, {"tau_syn_ex": 1e6})   # keep the current
    net.connect(g.gids, parrot.gids, weight=-3.0, delay=0.3)     # a parrot ignores the weight
    net.connect(parrot.gids, target.gids, weight=10.0, delay=1.0)
    net.record_spikes(parrot.gids)
    sim = Simulation(net)
    sim.run(7.0)
    gids, steps = sim.all_spikes()
    np.testing.assert_array_equal(steps + 1, [53, 53])   # stamp 5.3 ms, once per copy: as NEST's parrot
    assert sim.state("I_syn_ex")[1] == pytest.approx(20.0, rel=1e-4)
    assert np.isnan(sim.state("V_m")[0])
    sim.run(5.0)
    assert sim.state("I_syn_ex")[1] == pytest.approx(30.0, rel=1e-4)


def test_plastic_connections_are_checked():
    net = Network(H)
    a = net.add_population("iaf_psc_alpha", 2)
    p = net.add_population("parrot_neuron", 2)
    with pytest.raises(ModelError, match=">= 0"):
        net.connect(a.gids, a.gids, weight=-1.0, synapse_model="stdp_pl_synapse_hom")
    with pytest.raises(NotImplementedError, match="receptor_type 1"):
        net.connect(a.gids, p.gids, weight=1.0, synapse_model="stdp_pl_synapse_hom")
    with pytest.raises(ModelError, match="receptor_type 1"):
        net.connect(a.gids, a.gids, weight=1.0, receptor_type=1)
    with pytest.raises(NotImplementedError, match="parrot_neurons and other"):
        net.connect(a.gids, np.concatenate([a.gids, p.gids]), weight=1.0)
    net.copy_synapse_model("stdp_pl_synapse_hom", "s1", {"alpha": 0.5})
    net.copy_synapse_model("stdp_pl_synapse_hom", "s2", {"alpha": 0.7})
    net.connect(a.gids, a.gids, weight=1.0, synapse_model="s1")
    with pytest.raises(NotImplementedError, match="one plastic synapse model"):
        net.connect(a.gids, a.gids, weight=1.0, synapse_model="s2")
    with pytest.raises(ModelError, match="in use"):
        net.set_synapse_defaults("s1", {"alpha": 0.1})
    with pytest.raises(ModelError, match="unknown parameter 'tau'"):
        net.copy_synapse_model("stdp_pl_synapse_hom", "s3", {"tau": 1.0})
    with pytest.raises(ModelError, match="unknown synapse model"):
        net.connect(a.gids, a.gids, synapse_model="tsodyks_synapse")


def test_lost_post_history_stops_the_run():
    pre = np.array([5.0, 300.0])
    post = np.arange(10.0, 290.0, 5.0)    # 56 post spikes between two pre spikes
    net, _, _ = pair_network(pre, post, [1.0])
    sim = Simulation(net, post_history=16)
    with pytest.raises(RuntimeError, match="post_history=16"):
        sim.run(310.0)
    ok = Simulation(net, post_history=64)
    ok.run(310.0)


def test_ownership_check_passes_honest_runs_unchanged():
    net, _, _ = plastic_network()
    runs = []
    for check in (False, True):
        sim = Simulation(net, seed=5, check_ownership=check)
        sim.run(100.0)
        runs.append((*sim.all_spikes(), weight_table(sim.connections())))
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_ownership_check_catches_a_planted_violation():
    """A map that gives neuron 7 to another worker: the first write to it aborts, naming both."""
    net, _, _ = plastic_network()
    sim = Simulation(net, seed=5, check_ownership=True)
    sim.build()
    sim._O.owner[7] = 1          # planted: worker 0's neuron 7 now belongs to worker 1
    with pytest.raises(OwnershipError, match=r"worker 0 wrote .*neuron 7 .*belongs to worker 1"):
        sim.run(50.0)


def test_ownership_check_catches_a_neuron_of_another_rank(monkeypatch):
    net, _, _ = plastic_network()
    sim = Simulation(net, check_ownership=True)
    cls = type(sim.partition)
    real = cls.owner
    monkeypatch.setattr(cls, "owner", lambda self, g: np.where(np.asarray(g) == 12, 1, real(self, g)))
    with pytest.raises(OwnershipError, match="neuron 12, which the partition gives to rank 1"):
        sim.build()


def test_ownership_check_from_the_environment(monkeypatch):
    net, _, _ = plastic_network()
    monkeypatch.setenv("CORTEX_GPU_CHECK_OWNERSHIP", "1")
    assert Simulation(net).check_ownership
    monkeypatch.setenv("CORTEX_GPU_CHECK_OWNERSHIP", "0")
    assert not Simulation(net).check_ownership


def test_parrot_spiking_twice_in_one_window_repeats_both():
    """A parrot spiking at 5.4 and 5.6 ms, inside one window of 4 steps: both spikes reach the target."""
    net = Network(H)
    g = net.add_population("spike_generator", 1, spike_times_ms=[[5.0, 5.2]])
    parrot = net.add_population("parrot_neuron", 1)
    target = net.add_population("iaf_psc_exp", 1, {"tau_syn_ex": 1e6})   # keep the current
    net.connect(g.gids, parrot.gids, weight=1.0, delay=0.4)
    net.connect(parrot.gids, target.gids, weight=10.0, delay=0.4)
    sim = Simulation(net)
    sim.run(10.0)
    assert sim._m == 4 and sim.spike_counts()[0] == 2
    assert sim.state("I_syn_ex")[1] == pytest.approx(20.0, rel=1e-4)
