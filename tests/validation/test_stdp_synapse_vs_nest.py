"""stdp_synapse and stdp_synapse_hom against NEST 3.10: weight trajectories of given pre and post trains.

NEST's STDP test set-up (as tests/validation/test_stdp_pair_vs_nest.py for the power law): a
spike_generator drives a pre parrot_neuron, which reaches post parrots through the plastic
synapse on receptor 1 (learning without being repeated); other generators make the post
parrots spike. Four synapses with delays of 1, 10, 15 and 37 steps. ``stdp_synapse`` takes its
parameters in the Connect call (per connection), ``stdp_synapse_hom`` from CopyModel. Trains:
random ones with post spikes placed on the rule's boundaries (the pre spike's step, one step
before and after, one delay after), and regular ones (pre every 10 ms, post every 7 ms); the
parameter sets drive weights to 0 ("linear") and to Wmax ("saturating", additive potentiation).
Post spikes before the first pre spike
exercise NEST's facilitation with Kplus = 0 (a no-op up to the rounding of ``x * Wmax``).

Weights agree to 1e-12 relative (the issue's bound), not bit for bit: the rule's exp and pow are
cortex_gpu.philox.pexp / ppow (about 1 and 2 ulp, identical on CPU and GPU), NEST's libm's.
"""
from __future__ import annotations

import numpy as np
import pytest

from cortex_gpu.engine import Simulation
from cortex_gpu.models import ModelError
from cortex_gpu.network import Network

pytestmark = pytest.mark.nest
nest = pytest.importorskip("nest")

H = 0.1
DELAYS = [0.1, 1.0, 1.5, 3.7]
TAU_MINUS = 26.0
#: Non-default parameters: fractional exponents (ppow) and the NEST defaults' exact mu = 1 with a low Wmax.
PARAM_SETS = {
    "fractional": ({"tau_plus": 16.8, "lambda": 0.05, "alpha": 1.1, "mu_plus": 0.6, "mu_minus": 0.8,
                    "Wmax": 60.0}, 45.6),
    "linear": ({"tau_plus": 20.0, "lambda": 0.2, "alpha": 0.9, "mu_plus": 1.0, "mu_minus": 1.0, "Wmax": 50.0}, 30.0),
    "saturating": ({"tau_plus": 25.0, "lambda": 0.6, "alpha": 0.01, "mu_plus": 0.0, "mu_minus": 2.0,
                    "Wmax": 40.0}, 38.0),
}


def random_trains(seed: int = 1, n: int = 150, t_max: float = 2000.0):
    rng = np.random.default_rng(seed)
    pre = np.unique(np.round(rng.uniform(20.0, t_max, n), 1))
    near = np.concatenate([pre[:40] + 0.1, pre[40:60] + 1.5, pre[60:80] - 0.1, pre[80:90] + 3.7, pre[90:100]])
    early = np.round(rng.uniform(0.2, pre[0] - 0.2, 5), 1)           # before the first pre spike
    post = np.unique(np.round(np.concatenate([rng.uniform(1.0, t_max, n), near, early]), 1))
    return pre, post[post >= 0.2]


def regular_trains(t_max: float = 1500.0):
    return np.round(np.arange(10.0, t_max, 10.0), 1), np.round(np.arange(3.3, t_max, 7.0), 1)


def reading_times(pre: np.ndarray) -> np.ndarray:
    """After each pre spike has arrived through the longest delay, before the next is sent."""
    last = [t for j, t in enumerate(pre) if j + 1 == pre.size or pre[j + 1] > t + max(DELAYS) + 0.3]
    return np.round(np.array(last) + max(DELAYS) + 0.2, 1)


def _syn(model: str, params: dict) -> tuple[str, dict]:
    """(synapse model to connect with, its per-connection parameters)."""
    return ("stdp_test", {}) if model == "stdp_synapse_hom" else (model, dict(params))


def nest_weights(model, params, w0, pre, post, readings, post_model="parrot_neuron", receptor=1, drive=None):
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.resolution = H
    g_pre = nest.Create("spike_generator", params={"spike_times": pre})
    g_post = nest.Create("spike_generator", params={"spike_times": post})
    a = nest.Create("parrot_neuron")
    b = nest.Create(post_model, len(DELAYS), params={"tau_minus": TAU_MINUS})
    nest.Connect(g_pre, a, syn_spec={"delay": H})
    nest.Connect(g_post, b, syn_spec={"delay": H, "weight": drive or 1.0})
    if model == "stdp_synapse_hom":
        nest.CopyModel(model, "stdp_test", params)
    name, per_conn = _syn(model, params)
    for i, d in enumerate(DELAYS):
        nest.Connect(a, b[i], syn_spec={"synapse_model": name, "weight": w0, "delay": d,
                                        "receptor_type": receptor, **per_conn})
    rec = nest.Create("spike_recorder")
    nest.Connect(b, rec)
    out, t = [], 0.0
    for r in readings:
        nest.Simulate(round(r - t, 1))
        t = r
        c = nest.GetConnections(synapse_model=name)
        out.append(np.array(c.get("weight"))[np.argsort(c.get("target"))])
    ev = rec.get("events")
    return np.array(out), np.array(ev["senders"]) - b[0].global_id, np.array(ev["times"])


def our_network(model, params, w0, pre, post, post_model="parrot_neuron", receptor=1, drive=None):
    net = Network(H)
    g_pre = net.add_population("spike_generator", 1, spike_times_ms=[pre])
    g_post = net.add_population("spike_generator", 1, spike_times_ms=[post])
    a = net.add_population("parrot_neuron", 1)
    b = net.add_population(post_model, len(DELAYS), {"tau_minus": TAU_MINUS})
    net.connect(g_pre.gids, a.gids, weight=1.0, delay=H)
    net.connect(g_post.gids, b.gids, weight=drive or 1.0, delay=H)
    if model == "stdp_synapse_hom":
        net.copy_synapse_model(model, "stdp_test", params)
    name, per_conn = _syn(model, params)
    for i, d in enumerate(DELAYS):
        net.connect(a.gids, b.gids[i:i + 1], weight=w0, delay=d, synapse_model=name, receptor_type=receptor,
                    syn_params=per_conn)
    net.record_spikes(b.gids)
    return net, name, b


def our_weights(model, params, w0, pre, post, readings, backend="cpu", **kw):
    net, name, b = our_network(model, params, w0, pre, post, **kw)
    sim = Simulation(net, weight_dtype="float64", backend=backend)
    out, t = [], 0.0
    for r in readings:
        sim.run(round(r - t, 1))
        t = r
        c = sim.connections()
        sel = c["synapse_model"] == name
        out.append(c["weight"][sel][np.argsort(c["target"][sel])])
    gids, steps = sim.all_spikes()
    return np.array(out), gids - b.gids[0], (steps + 1) * H


@pytest.mark.parametrize("trains", ["random", "regular"])
@pytest.mark.parametrize("pset", list(PARAM_SETS))
@pytest.mark.parametrize("model", ["stdp_synapse", "stdp_synapse_hom"])
def test_weight_trajectories_equal_nest(model, pset, trains):
    params, w0 = PARAM_SETS[pset]
    pre, post = random_trains() if trains == "random" else regular_trains()
    readings = reading_times(pre)
    assert readings.size >= 100
    theirs, _, _ = nest_weights(model, params, w0, pre, post, readings)
    mine, _, _ = our_weights(model, params, w0, pre, post, readings)
    assert np.ptp(theirs[:, 0]) > 1.0          # the weights learned
    scale = np.maximum(np.abs(theirs), 1e-300)
    rel = np.where(theirs == 0, np.abs(mine), np.abs(mine - theirs) / scale)
    print(f"{model} {pset} {trains}: max relative difference to NEST {rel.max():.2e}, "
          f"weights {theirs.min():.3g}..{theirs.max():.3g}")
    assert rel.max() <= 1e-12
    if pset == "saturating":
        # capped at Wmax by the facilitation, then depressed a little at the same pre spike
        assert theirs.max() > 0.99 * params["Wmax"]


def test_plastic_weights_drive_an_iaf_psc_alpha_post_as_in_nest():
    """Post spikes forced by a strong static input; the plastic synapses add their PSCs."""
    params, w0 = PARAM_SETS["fractional"]
    pre, post = random_trains(seed=2, n=120, t_max=1500.0)
    readings = reading_times(pre)
    kw = dict(post_model="iaf_psc_alpha", receptor=0, drive=2000.0)
    theirs, s_nest, t_nest = nest_weights("stdp_synapse", params, w0, pre, post, readings, **kw)
    mine, s_ours, t_ours = our_weights("stdp_synapse", params, w0, pre, post, readings, **kw)
    order_n, order_o = np.lexsort((s_nest, t_nest)), np.lexsort((s_ours, t_ours))
    assert t_nest.size > 300
    np.testing.assert_array_equal(s_ours[order_o], s_nest[order_n])
    np.testing.assert_allclose(t_ours[order_o], t_nest[order_n], atol=1e-9)
    rel = np.abs(mine - theirs) / np.abs(theirs)
    print(f"max relative difference to NEST {rel.max():.2e}")
    assert rel.max() <= 1e-12


@pytest.mark.parametrize("model, params, what", [
    ("stdp_synapse", {"tau_plus": -5.0}, "tau_plus"),
    ("stdp_synapse", {"Wmax": 0.0}, "Wmax"),
    ("stdp_synapse", {"bogus": 1.0}, "bogus"),
    ("stdp_synapse_hom", {"tau_plus": 5.0}, "tau_plus"),
])
def test_bad_per_connection_parameters_fail_at_connect(model, params, what):
    net = Network(H)
    a = net.add_population("iaf_psc_alpha", 2)
    with pytest.raises(ModelError) as e:
        net.connect(a.gids, a.gids, synapse_model=model, syn_params=params)
    assert model in str(e.value) and what in str(e.value)
    if what == "bogus":    # NEST refuses it too (UnaccessedDictionaryEntry)
        nest.ResetKernel()
        n = nest.Create("iaf_psc_alpha", 2)
        with pytest.raises(nest.NESTError):
            nest.Connect(n, n, syn_spec={"synapse_model": model, **params})
    if model == "stdp_synapse_hom":   # NEST: "can only be set via SetDefaults() or CopyModel()"
        nest.ResetKernel()
        n = nest.Create("iaf_psc_alpha", 2)
        with pytest.raises(nest.NESTError, match="SetDefaults"):
            nest.Connect(n, n, syn_spec={"synapse_model": model, **params})


@pytest.mark.parametrize("params, what", [({"tau_plus": 0.0}, "tau_plus"), ({"mu_plus": np.inf}, "mu_plus"),
                                          ({"nope": 1.0}, "nope")])
def test_bad_common_parameters_fail_at_set_defaults(params, what):
    net = Network(H)
    with pytest.raises(ModelError) as e:
        net.copy_synapse_model("stdp_synapse_hom", "hom_copy", params)
    assert "stdp_synapse_hom" in str(e.value) and what in str(e.value)


def test_weight_recorder_events_equal_nest():
    """weight_recorder on a CopyModel of stdp_synapse: senders, targets, times and weights of every
    update, NEST's (read after the last pre spike has arrived, so no event is in flight)."""
    params, w0 = PARAM_SETS["fractional"]
    pre, post = random_trains(seed=4, n=60, t_max=600.0)
    t_end = float(pre.max() + 10.0)
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.resolution = H
    wr = nest.Create("weight_recorder")
    nest.CopyModel("stdp_synapse", "stdp_wr", {**params, "weight_recorder": wr})
    g_pre = nest.Create("spike_generator", params={"spike_times": pre})
    g_post = nest.Create("spike_generator", params={"spike_times": post})
    a = nest.Create("parrot_neuron")
    b = nest.Create("parrot_neuron", len(DELAYS), params={"tau_minus": TAU_MINUS})
    nest.Connect(g_pre, a, syn_spec={"delay": H})
    nest.Connect(g_post, b, syn_spec={"delay": H})
    for i, d in enumerate(DELAYS):
        nest.Connect(a, b[i], syn_spec={"synapse_model": "stdp_wr", "weight": w0, "delay": d, "receptor_type": 1})
    nest.Simulate(t_end)
    ev = wr.get("events")
    order = np.lexsort((ev["targets"], ev["senders"], ev["times"]))
    theirs = {k: np.asarray(ev[k])[order] for k in ("senders", "targets", "times", "weights")}

    net = Network(H)
    gp = net.add_population("spike_generator", 1, spike_times_ms=[pre])
    gq = net.add_population("spike_generator", 1, spike_times_ms=[post])
    pa = net.add_population("parrot_neuron", 1)
    pb = net.add_population("parrot_neuron", len(DELAYS), {"tau_minus": TAU_MINUS})
    net.connect(gp.gids, pa.gids, weight=1.0, delay=H)
    net.connect(gq.gids, pb.gids, weight=1.0, delay=H)
    net.copy_synapse_model("stdp_synapse", "stdp_wr", params)
    net.record_weights("stdp_wr")
    for i, d in enumerate(DELAYS):
        net.connect(pa.gids, pb.gids[i:i + 1], weight=w0, delay=d, synapse_model="stdp_wr", receptor_type=1)
    sim = Simulation(net, weight_dtype="float64")
    sim.run(t_end)
    mine = sim.weight_events()
    assert theirs["times"].size == mine["times"].size == pre.size * len(DELAYS)
    # NEST ids: generators 2, 3, parrots 4..; ours: gids from 0 (generators 0, 1, parrots 2..)
    np.testing.assert_array_equal(mine["senders"] + 2, theirs["senders"])
    np.testing.assert_array_equal(mine["targets"] + 2, theirs["targets"])
    np.testing.assert_allclose(mine["times"], theirs["times"], rtol=0, atol=1e-9)
    rel = np.abs(mine["weights"] - theirs["weights"]) / np.abs(theirs["weights"])
    print(f"weight_recorder: {rel.size} events, max relative difference {rel.max():.2e}")
    assert rel.max() <= 1e-12
    from cortex_gpu.backends.cuda import unsupported_reason      # refused by name there; auto picks the CPU
    assert "weight_recorder is not built on the cuda backend" in unsupported_reason(net, 1)
