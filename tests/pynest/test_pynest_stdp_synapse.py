"""stdp_synapse and stdp_synapse_hom through the PyNEST layer, against NEST 3.10 in the same session.

Defaults, per-connection parameters (stdp_synapse) and common ones (stdp_synapse_hom, CopyModel),
NEST's example synapsecollection.py (its stdp_synapse part: GetConnections(synapse_model=...)),
and a small recurrent plastic network whose spikes must be NEST's and whose weights, read with
GetConnections(...).get("weight") after each Simulate, NEST's to 1e-12 relative (where no spike
is in flight at the read: issue 16 item 6 is not built).
"""
from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.nest

KEYS = ("tau_plus", "lambda", "alpha", "mu_plus", "mu_minus", "Wmax", "weight", "delay")


@pytest.mark.parametrize("model", ["stdp_synapse", "stdp_synapse_hom", "stdp_synapse_hpc", "stdp_synapse_hom_hpc"])
def test_defaults_are_nests(run_both, model):
    def script(nest):
        d = nest.GetDefaults(model)
        nest.CopyModel(model, "my_stdp", {"Wmax": 77.0, "mu_plus": 0.5})
        c = nest.GetDefaults("my_stdp")
        return [d[k] for k in KEYS], [c[k] for k in KEYS]
    theirs, mine = run_both(script)
    assert theirs == mine


def synapsecollection_stdp_part(nest):
    """NEST's examples/synapsecollection.py, its third part (stdp_synapse among static connections), as shipped."""
    nest.ResetKernel()
    nrns = nest.Create("iaf_psc_alpha", 15)
    nest.Connect(
        nrns[:5], nrns[:5], "one_to_one", {"synapse_model": "stdp_synapse",
                                           "weight": nest.random.normal(mean=5.0, std=2.0)}
    )
    nest.Connect(nrns[:10], nrns[5:12], {"rule": "pairwise_bernoulli", "p": 0.4}, {"weight": 4.0})
    nest.Connect(nrns[5:10], nrns[:5], {"rule": "fixed_total_number", "N": 5}, {"weight": 3.0})
    nest.Connect(
        nrns[10:],
        nrns[:12],
        "all_to_all",
        {"synapse_model": "stdp_synapse", "weight": nest.random.uniform(min=1.0, max=5.0)},
    )
    nest.Connect(nrns, nrns[12:], {"rule": "fixed_indegree", "indegree": 3})
    conns = nest.GetConnections(synapse_model="stdp_synapse")
    g = conns.get(["source", "target", "weight"])
    all_conns = nest.GetConnections()
    return (list(g["source"]), list(g["target"]), np.array(g["weight"]), len(all_conns),
            conns.get("Wmax"), sorted(set(all_conns.get("synapse_model"))))


def test_synapsecollection_example_stdp_part(run_both):
    theirs, mine = run_both(synapsecollection_stdp_part)
    src_n, tgt_n, w_n, n_all_n, wmax_n, models_n = theirs
    src_o, tgt_o, w_o, n_all_o, wmax_o, models_o = mine
    assert sorted(zip(src_o, tgt_o)) == sorted(zip(src_n, tgt_n))    # the rules are deterministic here
    assert len(src_o) == 5 + 5 * 12
    assert wmax_o == wmax_n == [100.0] * len(src_n)
    assert models_o == models_n == ["static_synapse", "stdp_synapse"]
    # pairwise_bernoulli draws differ between the simulators' streams; the other rules fix their counts
    assert abs(n_all_o - n_all_n) < 30
    uni_o = w_o[np.array(src_o) > 10]
    assert uni_o.min() >= 1.0 and uni_o.max() <= 5.0 and w_n[np.array(src_n) > 10].min() >= 1.0


CHUNKS_MS = (150.0, 200.0, 400.0, 250.0)
DELAY_MS = 1.5


def plastic_network(nest, model: str, chunks=CHUNKS_MS):
    """12 iaf_psc_alpha neurons, all-to-all plastic among themselves (stdp_synapse with its parameters
    per Connect, or a CopyModel of stdp_synapse_hom), driven by spike_generators (until 700 ms) and a
    subthreshold I_e; the posts' tau_minus differs from the default. Returns spikes and the weights
    after each Simulate, sorted by (source, target), and the sources in that order."""
    nest.resolution = 0.1
    rng = np.random.default_rng(5)
    n = nest.Create("iaf_psc_alpha", 12, params={"tau_minus": 25.0, "I_e": 300.0})
    n.set({"I_e": list(300.0 + 40.0 * rng.random(12))})
    gens = nest.Create("spike_generator", 12)
    for k, g in enumerate(gens):
        g.set({"spike_times": list(np.round(np.sort(rng.uniform(1.0, 700.0, 60)), 1))})
    nest.Connect(gens, n, "one_to_one", {"weight": 600.0, "delay": 1.0})
    params = {"tau_plus": 17.0, "lambda": 0.03, "alpha": 1.05, "mu_plus": 0.7, "mu_minus": 0.9, "Wmax": 90.0}
    if model == "stdp_synapse_hom":
        nest.CopyModel("stdp_synapse_hom", "stdp_net", params)
        syn = {"synapse_model": "stdp_net"}
    else:
        syn = {"synapse_model": "stdp_synapse", **params}
        nest.CopyModel("stdp_synapse", "stdp_net")      # GetConnections by the name used below
        syn["synapse_model"] = "stdp_net"
        nest.SetDefaults("stdp_net", {"Wmax": 1.0})     # the Connect's own values win
    nest.Connect(n, n, {"rule": "all_to_all", "allow_autapses": False},
                 {**syn, "weight": 45.0, "delay": DELAY_MS})
    sr = nest.Create("spike_recorder")
    nest.Connect(n, sr)
    weights = []
    for c in chunks:
        nest.Simulate(c)
        conns = nest.GetConnections(synapse_model="stdp_net")
        s, t, w = (np.array(conns.get(k)) for k in ("source", "target", "weight"))
        order = np.lexsort((t, s))
        weights.append(w[order])
    ev = sr.get("events")
    return np.array(ev["senders"]), np.array(ev["times"]), np.array(weights), s[order]


@pytest.mark.parametrize("model", ["stdp_synapse", "stdp_synapse_hom"])
def test_small_plastic_network_spikes_and_weights_equal_nest(run_both, model):
    """Every spike equal; the weights equal wherever no spike of the synapse's source is in flight at
    the read (NEST updates a weight when it hands the spike to the synapse, in the min-delay slice
    after emission, cortex_gpu when the spike arrives: issue 16 item 6, not built), and at the last
    read, after the activity has died out, every weight."""
    (s_n, t_n, w_n, src), (s_o, t_o, w_o, src_o) = run_both(plastic_network, model)
    assert t_n.size > 500 and t_n.max() < sum(CHUNKS_MS[:-1])      # the last chunk is quiet
    o_n, o_o = np.lexsort((s_n, t_n)), np.lexsort((s_o, t_o))
    np.testing.assert_array_equal(s_o[o_o], s_n[o_n])
    np.testing.assert_allclose(t_o[o_o], t_n[o_n], atol=1e-9)
    np.testing.assert_array_equal(src_o, src)
    assert np.ptp(w_n[-1]) > 1.0                               # the weights learned
    rel = np.abs(w_o - w_n) / np.abs(w_n)
    reads = np.cumsum(CHUNKS_MS)
    in_flight = np.array([[np.any((s_n == g) & (t_n > r - DELAY_MS - 0.05) & (t_n <= r)) for g in src]
                          for r in reads])
    print(f"{model}: {t_n.size} spikes equal; max relative weight difference {rel[~in_flight].max():.2e} "
          f"({in_flight.sum()} of {in_flight.size} reads with a spike in flight: up to {rel.max():.2e})")
    assert not in_flight[-1].any() and in_flight.any()
    assert rel[~in_flight].max() <= 1e-12


def test_parameter_errors_as_nest(run_both):
    def script(nest):
        n = nest.Create("iaf_psc_alpha", 2)
        out = []
        for spec in ({"synapse_model": "stdp_synapse_hom", "tau_plus": 5.0},
                     {"synapse_model": "stdp_synapse", "foo": 1.0}):
            try:
                nest.Connect(n, n, syn_spec=spec)
                out.append("ok")
            except Exception as e:     # noqa: BLE001 - the class names are compared below
                out.append(str(e))
        return out
    theirs, mine = run_both(script)
    assert "SetDefaults" in theirs[0] and "SetDefaults" in mine[0] and "tau_plus" in mine[0]
    assert "foo" in theirs[1] and "foo" in mine[1]


def test_negative_tau_plus_is_refused_naming_model_parameter_value(nest_ours):
    """NEST 3.10 accepts tau_plus < 0 (Kplus then grows without bound); cortex_gpu refuses it."""
    nest = nest_ours
    n = nest.Create("iaf_psc_alpha", 2)
    with pytest.raises(ValueError, match=r"stdp_synapse parameter tau_plus must be > 0 ms, got -3"):
        nest.Connect(n, n, syn_spec={"synapse_model": "stdp_synapse", "tau_plus": -3.0})
    with pytest.raises(ValueError, match=r"stdp_synapse_hom parameter tau_plus must be > 0 ms, got -3"):
        nest.SetDefaults("stdp_synapse_hom", {"tau_plus": -3.0})
