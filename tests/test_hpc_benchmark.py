"""The hpc_benchmark model: Lambert W, the PSP -> PSC conversion, derived numbers, the built network."""
from __future__ import annotations

import math

import numpy as np
import pytest

from cortex_gpu.engine import Simulation
from cortex_gpu.models.hpc_benchmark import (
    CE, CI, NEURON_PARAMS, STDP_PARAMS, SYNAPSE_MODEL, TAU_SYN, hpc_benchmark, hpc_parameters, lambert_w,
    plastic_weight_moments, psc_over_psp_alpha, weight_stats)
from cortex_gpu.models.registry import NETWORKS, make_model
from cortex_gpu.network import Network

SCALE = 0.02       # 180 E + 45 I neurons, 2.5 M synapses


# ------------------------------------------------------------------ Lambert W
@pytest.mark.parametrize("branch", [0, -1])
def test_lambert_w_solves_its_equation_and_matches_scipy(branch):
    special = pytest.importorskip("scipy.special")
    near = -1.0 / math.e + np.logspace(-8, -0.5, 60)          # away from the ill-conditioned branch point
    far = -np.logspace(-300, math.log10(1.0 / math.e) - 1e-3, 60)
    xs = np.concatenate([near, far] + ([np.logspace(-300, 300, 60)] if branch == 0 else []))
    for x in xs:
        w = lambert_w(float(x), branch)
        assert (w >= -1.0) if branch == 0 else (w <= -1.0)
        # exp(w) alone carries a relative rounding error of ~|w| ulp
        assert w * math.exp(w) == pytest.approx(x, rel=(2.0 + abs(w)) * 2.3e-16, abs=1e-300)
        assert w == pytest.approx(special.lambertw(x, branch).real, rel=1e-12, abs=1e-300)


def test_lambert_w_special_values_and_domain():
    assert lambert_w(0.0) == 0.0
    assert lambert_w(math.e) == pytest.approx(1.0, rel=1e-15)
    assert lambert_w(-1.0 / math.e) == pytest.approx(-1.0, abs=1e-7)
    assert lambert_w(-1.0 / math.e, -1) == pytest.approx(-1.0, abs=1e-7)
    assert lambert_w(-2.0 * math.exp(-2.0), -1) == pytest.approx(-2.0, rel=1e-14)
    for x, branch in ((-0.5, 0), (0.1, -1), (float("nan"), 0), (1.0, 2)):
        with pytest.raises(ValueError):
            lambert_w(x, branch)


# ------------------------------------------------------------- derived numbers
def test_psc_conversion_gives_nests_je():
    conv = psc_over_psp_alpha(10.0, TAU_SYN, 250.0)
    assert round(0.14 * conv, 4) == 45.6096
    p = hpc_parameters(1.0)
    assert round(p.JE_pA, 4) == 45.6096 and p.JI_pA == pytest.approx(-5.0 * p.JE_pA, rel=1e-15)
    assert round(p.JI_pA, 3) == -228.048
    assert p.t_rise_ms == pytest.approx(1.700759, abs=5e-7)      # the rise time NEST chose tau_syn for
    assert round(p.poisson_rate_hz, 2) == 20856.04


def test_je_gives_a_0_14_mV_psp_in_the_simulator():
    """One spike of weight JE onto a resting hpc neuron: V_m peaks 0.14 mV above rest, ~1.7 ms later."""
    p = hpc_parameters(1.0)
    net = Network(0.01)
    n = net.add_population("iaf_psc_alpha", 1, {**NEURON_PARAMS, "V_m": 0.0})
    sg = net.add_population("spike_generator", 1, spike_times_ms=[np.array([1.0])])
    net.connect(sg, n, "one_to_one", weight=p.JE_pA, delay=0.01)
    mm = net.record_state(n.gids, ("V_m",), interval_ms=0.01)
    sim = Simulation(net, seed=1, weight_dtype="float64")
    sim.run(10.0)
    ev = sim.multimeter_events(mm)
    k = int(np.argmax(ev["V_m"]))
    assert ev["V_m"][k] == pytest.approx(0.14, rel=1e-5)         # sampled within 0.005 ms of the peak
    assert ev["times"][k] - 1.01 == pytest.approx(p.t_rise_ms, abs=0.011)


@pytest.mark.parametrize("scale, ne, ni", [(0.1, 900, 225), (0.2, 1800, 450), (1.0, 9000, 2250),
                                           (10.0, 90000, 22500), (0.15, 1350, 337)])
def test_sizes_and_fixed_indegrees(scale, ne, ni):
    p = hpc_parameters(scale)
    assert (p.NE, p.NI, p.CE, p.CI) == (ne, ni, 9000, 2250)
    assert p.n_synapses == (ne + ni) * 11250 and p.n_plastic == ne * 9000
    assert p.stdp_params == {"tau_plus": 15.0, "lambda": 0.1, "alpha": 0.0513, "mu": 0.4}
    assert p.neuron_params["tau_minus"] == 30.0 and p.delay_ms == 1.5


def test_bad_scales_and_arguments():
    for scale in (0.0, -1.0, float("nan"), 1e-4):
        with pytest.raises(ValueError, match="scale"):
            hpc_parameters(scale)
    with pytest.raises(ValueError, match="Poisson"):
        hpc_benchmark(SCALE, drive="dc")
    with pytest.raises(TypeError, match="n_areas"):
        hpc_benchmark(SCALE, n_areas=3)


# ---------------------------------------------------------------- the network
def test_network_description():
    net, info = make_model("hpc_benchmark", SCALE, record_spikes=False)
    assert "hpc_benchmark" in NETWORKS
    assert info["populations"] == ["E", "I"] and info["sizes"] == [180, 45]
    assert info["gid_ranges"] == [(0, 180), (180, 225)] and info["recorder"] is None
    E, I = net.populations
    assert E.model == I.model == "iaf_psc_alpha"
    assert {k: E.params[k] for k in NEURON_PARAMS} == NEURON_PARAMS
    assert (E.params["V_m"].mean, E.params["V_m"].std) == (5.7, 7.2)
    assert [(p.label, p.rule, p.indegree, p.allow_autapses, p.allow_multapses, p.synapse_model, p.delay)
            for p in net.projections] == [
        ("E->E", "fixed_indegree", CE, False, True, SYNAPSE_MODEL, 1.5),
        ("I->E", "fixed_indegree", CI, False, True, "static_synapse", 1.5),
        ("E->I", "fixed_indegree", CE, False, True, "static_synapse", 1.5),
        ("I->I", "fixed_indegree", CI, False, True, "static_synapse", 1.5)]
    assert net.plastic_model() == (SYNAPSE_MODEL, STDP_PARAMS)
    assert net.synapse_models[SYNAPSE_MODEL][0] == "stdp_pl_synapse_hom"
    (gen,), (drive,) = info["generators"], net.drives
    assert gen.params["rate"] == info["params"].poisson_rate_hz
    assert np.array_equal(drive.targets, np.arange(225)) and np.all(drive.weight == info["params"].JE_pA)
    assert drive.delay_ms == 1.5


@pytest.fixture(scope="module")
def built():
    net, info = hpc_benchmark(SCALE, record_spikes=True)
    sim = Simulation(net, seed=11, threads=2)
    sim.build()
    return net, info, sim


def test_built_synapses_follow_the_rules(built):
    net, info, sim = built
    p = info["params"]
    c = sim.connections()
    src, tgt, w = c["source"], c["target"], c["weight"]
    assert src.size == p.n_synapses == sim.report.n_synapses
    assert not np.any(src == tgt)                                    # no autapses
    assert np.all(c["delay"] == pytest.approx(1.5))
    from_e = src < p.NE
    for post in (tgt < p.NE, tgt >= p.NE):
        n_e = np.bincount(tgt[post & from_e], minlength=p.n_neurons)[np.unique(tgt[post])]
        n_i = np.bincount(tgt[post & ~from_e], minlength=p.n_neurons)[np.unique(tgt[post])]
        assert np.all(n_e == CE) and np.all(n_i == CI)               # fixed indegrees, multapses allowed
    plastic = c["synapse_model"] == SYNAPSE_MODEL
    assert np.array_equal(plastic, from_e & (tgt < p.NE))            # exactly the E -> E synapses
    # plastic weights start at JE exactly (float64), static ones are stored as float32
    assert np.all(w[plastic] == p.JE_pA)
    assert np.all(w[from_e & ~plastic] == np.float32(p.JE_pA)) and np.all(w[~from_e] == np.float32(p.JI_pA))
    # sources spread uniformly: each E neuron sends ~CE * NE / (NE - 1) E -> E synapses
    out_e = np.bincount(src[plastic], minlength=p.NE)
    assert abs(out_e.mean() - CE) < 1 and out_e.std() < 4 * math.sqrt(CE)


def test_initial_membrane_potentials(built):
    net, info, sim = built
    v = sim.state("V_m")
    assert abs(v.mean() - 5.7) < 4 * 7.2 / math.sqrt(v.size) and abs(v.std() - 7.2) < 1.5
    assert np.unique(v).size == v.size


def test_weights_learn_and_their_statistics_are_exact(built):
    net, info, sim = built
    p = info["params"]
    sim.run(120.0)
    c = sim.connections()
    w = c["weight"][c["synapse_model"] == SYNAPSE_MODEL]
    assert w.std() > 0 and np.all(w >= 0)
    static = c["synapse_model"] != SYNAPSE_MODEL
    assert np.all(c["weight"][static] == np.where(c["source"][static] < p.NE, np.float32(p.JE_pA),
                                                  np.float32(p.JI_pA)))
    n, s1, s2 = plastic_weight_moments(sim, shift=p.JE_pA)
    mean, std = weight_stats(n, s1, s2, p.JE_pA)
    assert n == w.size and mean == pytest.approx(w.mean(), rel=1e-13) and std == pytest.approx(w.std(), rel=1e-9)
    sel = (c["synapse_model"] == SYNAPSE_MODEL) & (c["source"] >= 10) & (c["source"] < 60)
    k, a1, a2 = plastic_weight_moments(sim, sources=(10, 60), shift=p.JE_pA)
    m_k, s_k = weight_stats(k, a1, a2, p.JE_pA)
    assert k == sel.sum() and m_k == pytest.approx(c["weight"][sel].mean(), rel=1e-13)
    assert s_k == pytest.approx(c["weight"][sel].std(), rel=1e-9)
    assert weight_stats(0, 0.0, 0.0)[0] != weight_stats(0, 0.0, 0.0)[0]   # NaN without synapses
