"""Helpers shared by test modules (imported as ``helpers``: pytest puts tests/ on sys.path)."""
from __future__ import annotations

import numpy as np


def synapse_table(graphs) -> np.ndarray:
    """All synapses of built ``graphs`` as rows (source, target, delay_steps, weight), sorted:
    equal tables mean the same synapses, whoever built them."""
    parts = []
    for g in graphs:
        for lay in g.layouts:
            s = lay.synapses(g.neurons.gids)
            parts.append(np.column_stack([s["source"].astype(float), s["target"].astype(float),
                                          s["delay_steps"].astype(float), s["weight"]]))
    t = np.concatenate(parts) if parts else np.zeros((0, 4))
    return t[np.lexsort(t.T[::-1])]


#: hpc_benchmark's neuron and STDP parameters (MODELS.md section 4), for small plastic test networks.
HPC_NEURON = {"E_L": 0.0, "C_m": 250.0, "tau_m": 10.0, "t_ref": 0.5, "V_th": 20.0, "V_reset": 0.0,
              "tau_syn_ex": 0.32582722403722841, "tau_syn_in": 0.32582722403722841, "tau_minus": 30.0}
HPC_STDP = {"tau_plus": 15.0, "lambda": 0.1, "alpha": 0.0513, "mu": 0.4}
JE_PA = 45.6096


#: The pair rule's parameters for plastic_network(model="stdp_synapse"): fractional exponents, Wmax near JE.
PAIR_STDP = {"tau_plus": 15.0, "lambda": 0.02, "alpha": 1.2, "mu_plus": 0.5, "mu_minus": 0.7, "Wmax": 60.0}


def plastic_network(n_e: int = 160, n_i: int = 40, c_e: int = 80, c_i: int = 20, drive_hz: float = 14000.0,
                    n_parrots: int = 10, model: str = "stdp_pl_synapse_hom"):
    """A small balanced network in hpc_benchmark's image: plastic E->E (``model``: the power law, or
    stdp_synapse / stdp_synapse_hom with PAIR_STDP), static elsewhere, Poisson drive, and parrots
    relaying 50 Hz Poisson trains onto the E neurons (every synapse group and the parrots' drive in
    one network). Returns (network, E gids, all neuron gids)."""
    from cortex_gpu.distributions import Normal
    from cortex_gpu.network import Network
    net = Network(0.1)
    E = net.add_population("iaf_psc_alpha", n_e, {**HPC_NEURON, "V_m": Normal(5.7, 7.2)}, name="E")
    I = net.add_population("iaf_psc_alpha", n_i, {**HPC_NEURON, "V_m": Normal(5.7, 7.2)}, name="I")
    P = net.add_population("parrot_neuron", n_parrots, name="P")
    net.copy_synapse_model(model, "stdp_hpc", HPC_STDP if model == "stdp_pl_synapse_hom" else PAIR_STDP)
    both = np.concatenate([E.gids, I.gids])
    net.connect(E.gids, E.gids, "fixed_indegree", indegree=c_e, allow_autapses=False, weight=JE_PA, delay=1.5,
                synapse_model="stdp_hpc")
    net.connect(E.gids, I.gids, "fixed_indegree", indegree=c_e, allow_autapses=False, weight=JE_PA, delay=1.5)
    net.connect(I.gids, both, "fixed_indegree", indegree=c_i, allow_autapses=False, weight=-5 * JE_PA, delay=1.5)
    net.connect(P.gids, E.gids, "fixed_indegree", indegree=2, weight=JE_PA, delay=1.0)
    net.drive(net.add_generator("poisson_generator", {"rate": drive_hz}), both, weight=JE_PA, delay_ms=0.1)
    net.drive(net.add_generator("poisson_generator", {"rate": 50.0}), P.gids, weight=1.0, delay_ms=0.1)
    net.record_spikes(np.concatenate([both, P.gids]))
    return net, E.gids, both


def weight_table(conns: dict) -> np.ndarray:
    """Plastic synapses of ``Simulation.connections()`` output as sorted rows (source, target, delay, weight)."""
    sel = conns["synapse_model"] != "static_synapse"
    t = np.column_stack([conns["source"][sel], conns["target"][sel], conns["delay"][sel], conns["weight"][sel]])
    return t[np.lexsort(t.T[::-1])]
