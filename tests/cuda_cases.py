"""Networks and a comparison shared by the CUDA backend's tests: on a GPU (test_cuda.py, marker gpu)
and through the CPU emulation of the kernels (test_cuda_emulated.py)."""
from __future__ import annotations

import numpy as np

import functools
import json
import shutil
import subprocess
import sys
from pathlib import Path

from cortex_gpu import Network, Simulation
from cortex_gpu.distributions import Lognormal, Normal, Redraw, Uniform
from cortex_gpu.models import microcircuit
from cortex_gpu.models.hpc_benchmark import hpc_benchmark

__all__ = ["single_neuron", "small_network", "generator_network", "windowed_network", "pd14_small", "stdp_parrots",
           "hpc_small",
           "build_zoo", "delta_network", "run_case", "assert_same", "assert_same_layouts", "build_emulator", "CASES",
           "cpu_reference", "ranks_command", "assert_same_as_cpu"]

#: hpc_benchmark's STDP parameters and the post trace time constant (MODELS.md sections 3, 4).
_STDP = {"tau_plus": 15.0, "lambda": 0.1, "alpha": 0.0513, "mu": 0.4}
#: The pair rule (stdp_synapse, stdp_synapse_hom) with fractional exponents (philox.ppow) and a Wmax
#: the weights reach; its sign picks excitatory or inhibitory synapses (the weights take it).
_STDP_PAIR = {"tau_plus": 16.8, "lambda": 0.05, "alpha": 1.1, "mu_plus": 0.6, "mu_minus": 0.8, "Wmax": 450.0}


def single_neuron(model: str = "iaf_psc_exp"):
    """Two neurons under Poisson drive (excitatory and inhibitory) and a switched dc_generator on the
    first; spikes and V_m, I_syn_ex, I_syn_in recorded every step."""
    net = Network(0.1)
    pop = net.add_population(model, 2, {"I_e": 60.0})
    exc = net.add_generator("poisson_generator", {"rate": 18000.0})
    inh = net.add_generator("poisson_generator", {"rate": 4000.0, "start": 5.0})
    dc = net.add_generator("dc_generator", {"amplitude": 180.0, "start": 20.0, "stop": 120.0})
    net.drive(exc, pop.gids, weight=25.0)
    net.drive(inh, pop.gids, weight=-40.0, delay_ms=0.5)
    net.drive(dc, pop.gids[:1], weight=1.5)
    net.record_spikes(pop.gids)
    net.record_state(pop.gids, ("V_m", "I_syn_ex", "I_syn_in"), interval_ms=0.1)
    return net


def small_network(exc_delay=None, record_vm: bool = True):
    """200 neurons of both current-based models, random delays and weights, a spike_generator, Poisson
    and dc drive; all spikes and (``record_vm``) V_m of 6 neurons recorded. ``exc_delay``: the E
    delays (default Redraw(Normal(1.5, 0.6), 0.1 .. 4.0) ms)."""
    net = Network(0.1)
    v0 = Uniform(-70.0, -56.0)
    exc = net.add_population("iaf_psc_exp", 150, {"V_m": v0})
    inh = net.add_population("iaf_psc_alpha", 50, {"V_m": v0, "tau_syn_ex": 1.0})
    times = [np.array([5.0, 5.1, 30.0]), np.array([12.3]), np.array([5.0, 40.0, 40.0])]
    src = net.add_population("spike_generator", 3, spike_times_ms=times)
    every = np.concatenate([exc.gids, inh.gids])
    net.connect(exc.gids, every, "fixed_indegree", indegree=30, weight=Normal(45.0, 8.0),
                delay=exc_delay if exc_delay is not None else Redraw(Normal(1.5, 0.6), low=0.1, high=4.0))
    net.connect(inh.gids, every, "pairwise_bernoulli", p=0.2, weight=-150.0, delay=0.8)
    net.connect(src.gids, exc.gids, "all_to_all", weight=300.0, delay=1.2)
    pg = net.add_generator("poisson_generator", {"rate": 9000.0})
    net.drive(pg, every, weight=30.0)
    dc = net.add_generator("dc_generator", {"amplitude": 80.0})
    net.drive(dc, inh.gids[::3], weight=1.0)
    net.record_spikes(np.concatenate([every, src.gids]))
    if record_vm:
        net.record_state(np.array([0, 1, 77, 150, 151, 199]), ("V_m",), interval_ms=0.1)
    return net


def delta_network():
    """120 iaf_psc_delta neurons in two populations (one with refractory_input, one with V_min and a
    longer t_ref), recurrent E and I synapses (mV jumps), Poisson and dc drive; all spikes and V_m of 4
    neurons recorded."""
    net = Network(0.1)
    v0 = Uniform(-70.0, -56.0)
    a = net.add_population("iaf_psc_delta", 80, {"V_m": v0, "refractory_input": 1.0, "I_e": 100.0})
    b = net.add_population("iaf_psc_delta", 40, {"V_m": v0, "V_min": -71.0, "t_ref": 3.3, "tau_m": 12.0})
    every = np.concatenate([a.gids, b.gids])
    net.connect(a.gids, every, "fixed_indegree", indegree=20, weight=Normal(0.4, 0.1),
                delay=Redraw(Normal(1.5, 0.6), low=0.1, high=4.0))
    net.connect(b.gids, every, "pairwise_bernoulli", p=0.2, weight=-1.2, delay=0.8)
    pg = net.add_generator("poisson_generator", {"rate": 20000.0})
    net.drive(pg, every, weight=0.15)
    dc = net.add_generator("dc_generator", {"amplitude": 150.0, "start": 20.0, "stop": 70.0})
    net.drive(dc, b.gids[::2], weight=1.0)
    net.record_spikes(every)
    net.record_state(np.array([0, 1, 80, 119]), ("V_m",), interval_ms=0.1)
    return net


def windowed_network():
    """small_network's populations and drives with every delay >= 0.5 ms: windows of 5 steps between
    exchanges (a step's spikes wait in the ring while later steps of the window run)."""
    return small_network(exc_delay=Uniform(0.5, 3.0), record_vm=False)


def generator_network(parrots: bool = True):
    """Every generator kind: step_current, ac, noise (with std_mod), sinusoidal_poisson (a train per
    target and a shared one, into parrots and neurons), pulsepacket, dc and poisson, onto both current-based models,
    with delays of 0.5 to 2 ms and a recurrent projection (windows of 5 steps on several ranks); all
    spikes and V_m of 6 neurons recorded. Without ``parrots`` (the cuda backend builds them on one rank
    only) the parrot population and its connections are left out."""
    net = Network(0.1)
    a = net.add_population("iaf_psc_alpha", 40, {"I_e": 200.0})
    e = net.add_population("iaf_psc_exp", 40, {"I_e": 150.0})
    every = np.concatenate([a.gids, e.gids])
    net.connect(every, every, "fixed_indegree", indegree=4, weight=40.0, delay=Uniform(0.5, 2.0))
    recorded = every
    if parrots:
        par = net.add_population("parrot_neuron", 6)
        net.connect(par.gids, every, "fixed_indegree", indegree=2, weight=60.0, delay=0.8)
        recorded = np.concatenate([every, par.gids])
    sc = net.add_generator("step_current_generator", {"amplitude_times": np.array([5.0, 20.0, 20.1, 41.0]),
                                                       "amplitude_values": np.array([150.0, -80.0, 220.0, 30.0])})
    ac = net.add_generator("ac_generator", {"amplitude": 120.0, "offset": 20.0, "frequency": 40.0, "phase": 10.0,
                                            "start": 3.0, "stop": 45.0})
    nz = net.add_generator("noise_generator", {"mean": 30.0, "std": 150.0, "std_mod": 100.0, "frequency": 25.0,
                                               "dt": 0.3})
    sp = net.add_generator("sinusoidal_poisson_generator", {"rate": 3000.0, "amplitude": 2500.0,
                                                            "frequency": 30.0})
    sh = net.add_generator("sinusoidal_poisson_generator", {"rate": 800.0, "amplitude": 700.0, "frequency": 15.0,
                                                            "individual_spike_trains": False})
    dc = net.add_generator("dc_generator", {"amplitude": 60.0, "start": 0.0, "stop": 30.0})
    pg = net.add_generator("poisson_generator", {"rate": 5000.0, "start": 2.0})
    pp = net.add_generator("pulsepacket_generator", {"pulse_times": np.array([8.0, 26.0, 45.0]), "activity": 40,
                                                     "sdev": 2.0})
    net.drive(pp, every[4:30], weight=25.0, delay_ms=1.0)
    net.drive(sc, every[::2], weight=1.2, delay_ms=1.0)
    net.drive(ac, every, weight=0.8, delay_ms=2.0)
    net.drive(nz, every[1::2], weight=1.0, delay_ms=0.5)
    net.drive(sp, every[:16], weight=12.0, delay_ms=1.5)
    if parrots:
        net.drive(sp, par.gids, delay_ms=0.5)
    net.drive(sh, every[8:], weight=-15.0, delay_ms=1.0)
    net.drive(dc, every[::3], weight=1.0, delay_ms=0.5)
    net.drive(pg, every, weight=10.0)
    net.record_spikes(recorded)
    net.record_state(every[[0, 1, 12, 13, 5, 20]], ("V_m",), interval_ms=0.1)
    return net


def pd14_small(N_scaling: float = 0.02, K_scaling: float = 0.1):
    """The PD14 microcircuit at reduced scale (as tests/test_engine.py), Poisson drive, all spikes
    recorded, V_m of 8 neurons."""
    net, info = microcircuit(N_scaling=N_scaling, K_scaling=K_scaling, drive="poisson")
    firsts = [a for a, _ in info["gid_ranges"]]
    net.record_state(np.array(firsts), ("V_m",), interval_ms=0.1)
    return net


def stdp_parrots(seed: int = 3, model: str = "stdp_pl_synapse_hom", sign: float = 1.0):
    """Plastic synapses fed by parrots, as NEST's STDP tests build them: spike_generators -> parrots
    (two generators per parrot, some times shared and some repeated, so parrots spike with
    multiplicity 2 to 4) -> ``model`` (stdp_pl_synapse_hom, or the pair rule's stdp_synapse /
    stdp_synapse_hom, inhibitory for ``sign`` -1: Wmax and weights negative) -> iaf_psc_alpha
    posts under Poisson drive; a spike_generator with repeated times also feeds plastic synapses
    directly (a pre twice in one ring slot). Spikes of every node recorded."""
    rng = np.random.default_rng(seed)
    net = Network(0.1)
    base = np.round(np.sort(rng.uniform(1.0, 240.0, 40)), 1)
    times = []
    for k in range(8):
        own = np.round(np.sort(rng.uniform(1.0, 240.0, 12)), 1)
        times.append(np.sort(np.concatenate([own, base[k::4], own[:2]])))   # own[:2]: repeated times
    gens = net.add_population("spike_generator", 8, spike_times_ms=times)
    parrots = net.add_population("parrot_neuron", 6)
    posts = net.add_population("iaf_psc_alpha", 12, {"tau_minus": 30.0, "tau_syn_ex": 0.5, "I_e": 250.0})
    # delays of 3 steps and more: windows of 3 steps, in which a parrot may spike more than once
    net.connect(gens.gids, parrots.gids, "fixed_indegree", indegree=2, weight=1.0, delay=0.3)
    params = _STDP if model == "stdp_pl_synapse_hom" else {**_STDP_PAIR, "Wmax": sign * _STDP_PAIR["Wmax"]}
    net.copy_synapse_model(model, "stdp_test", params)
    w = Redraw(Uniform(200.0, 400.0), low=0.0) if sign > 0 else Uniform(-400.0, -200.0)
    net.connect(parrots.gids, posts.gids, "fixed_indegree", indegree=4, weight=w,
                delay=Redraw(Normal(1.5, 0.5), low=0.3, high=3.0), synapse_model="stdp_test")
    net.connect(gens.gids[:1], posts.gids, "all_to_all", weight=sign * 250.0, delay=1.0, synapse_model="stdp_test")
    net.drive(net.add_generator("poisson_generator", {"rate": 6000.0}), posts.gids, weight=40.0)
    net.record_spikes(np.concatenate([gens.gids, parrots.gids, posts.gids]))
    return net


def hpc_small(scale: float = 0.02):
    """hpc_benchmark (MODELS.md section 4) at a small scale: plastic E->E, every spike recorded."""
    net, _ = hpc_benchmark(scale)
    return net


def build_zoo():
    """Every connection rule and value kind for the construction tests (not run): fixed_indegree with and
    without autapses and multapses, fixed_total_number, pairwise_bernoulli (p < 1 and p = 1),
    all_to_all and one_to_one with per-connection arrays, a spike source; normal, lognormal and
    uniform weights, bounded and not; grid-table, constant and per-connection delays. The normal
    weights of the first projection (1000 +- 100 pA) are the only ones above 500 pA."""
    rng = np.random.default_rng(5)
    net = Network(0.1)
    a = net.add_population("iaf_psc_exp", 120)
    b = net.add_population("iaf_psc_alpha", 80)
    src = net.add_population("spike_generator", 4, spike_times_ms=[np.array([1.0])] * 4)
    every = np.concatenate([a.gids, b.gids])
    net.connect(a.gids, every, "fixed_indegree", indegree=60, allow_autapses=False, allow_multapses=False,
                weight=Normal(1000.0, 100.0), delay=Redraw(Normal(1.5, 0.5), low=0.2, high=3.0))
    net.connect(b.gids, a.gids, "fixed_indegree", indegree=20, weight=Redraw(Lognormal(3.0, 0.5), low=5.0, high=60.0),
                delay=Uniform(0.5, 2.0))
    net.connect(a.gids, b.gids, "fixed_total_number", N=4000, weight=Uniform(-80.0, -20.0), delay=1.0)
    net.connect(b.gids, b.gids, "fixed_total_number", N=1500, allow_autapses=False,
                weight=Redraw(Normal(-300.0, 50.0), high=-250.0), delay=Redraw(Lognormal(0.0, 0.3), low=0.1))
    net.connect(a.gids, a.gids, "pairwise_bernoulli", p=0.1, allow_autapses=False, weight=Uniform(300.0, 400.0),
                delay=Redraw(Normal(2.0, 0.3), low=0.1))
    net.connect(b.gids, a.gids, "pairwise_bernoulli", p=1.0, weight=-10.0, delay=0.5)
    net.connect(a.gids, every, "pairwise_bernoulli", p=0.05, weight=Normal(5.0, 1.0),
                delay=Redraw(Uniform(0.1, 3.0), low=0.5))
    net.connect(a.gids[:10], a.gids[:15], "all_to_all", allow_autapses=False, weight=rng.uniform(1, 9, (15, 10)),
                delay=rng.integers(1, 30, (15, 10)) * 0.1)
    net.connect(a.gids[20:40], b.gids[:20], "one_to_one", weight=rng.uniform(10, 20, 20), delay=2.5)
    net.connect(np.tile(a.gids[:5], 2), b.gids[20:30], "one_to_one", weight=-3.0, delay=rng.uniform(0.1, 4.0, 10))
    net.connect(src.gids, a.gids, "all_to_all", weight=100.0, delay=0.7)
    return net


def assert_same_layouts(host, device) -> None:
    """Two :class:`~cortex_gpu.build.LocalGraph` s with the same synapse groups, pre gids, tables, post
    indices, weights (bits) and indegrees."""
    assert np.array_equal(host.indegree, device.indegree)
    for name in ("layout", "count_layout", "plastic_layout"):
        x, y = getattr(host, name), getattr(device, name)
        assert (x is None) == (y is None), name
        if x is None:
            continue
        y.fetch_host()
        for attr in ("section_size", "n_sections", "max_delay", "min_delay"):
            assert getattr(x, attr) == getattr(y, attr), (name, attr)
        for attr in ("pre_gids", "seg_off", "delay_off", "syn_post", "syn_weight"):
            u, v = getattr(x, attr), getattr(y, attr)
            assert u.dtype == v.dtype and u.shape == v.shape, (name, attr, u.dtype, v.dtype, u.shape, v.shape)
            bits = f"u{u.itemsize}"   # floats compared as bits
            bad = np.flatnonzero(u.view(bits) != v.view(bits))
            assert bad.size == 0, f"{name}.{attr}: {bad.size} differ, first at {bad[:5]}"
        assert np.array_equal(x.pre_index[x.pre_gids], y.pre_index[y.pre_gids])


#: The networks the many-rank scripts (tests/cuda_ranks_script.py) can name.
CASES = {"windowed": windowed_network, "small": small_network, "pd14": pd14_small, "delta": delta_network,
         "generators": functools.partial(generator_network, parrots=False)}


def build_emulator(out: Path) -> Path:
    """Compile tests/cuda_emulator/emulator.cpp into the shared library ``out`` (g++ must be on PATH)."""
    from cortex_gpu.backends import cuda
    gxx = shutil.which("g++")
    if gxx is None:
        raise FileNotFoundError("g++ is not on PATH: the kernel emulator cannot be built")
    here = Path(__file__).resolve().parent / "cuda_emulator"
    cmd = [gxx, "-O2", "-std=c++17", "-shared", "-fPIC", "-ffp-contract=off", "-Wall", "-Werror",
           f"-I{cuda.KERNEL_DIR}", str(here / "emulator.cpp"), "-o", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(proc.stderr)
    return out


def run_case(net: Network, backend: str, seed: int = 11, runs=(100.0,), **sim_kw) -> dict[str, np.ndarray]:
    """Run ``net`` on ``backend`` for the model times in ``runs`` (ms, one ``run`` call each); returns
    every recorded spike, every multimeter trace, the final state and the spike counts."""
    sim = Simulation(net, seed=seed, backend=backend, **sim_kw)
    for t in runs:
        sim.run(t)
    out = {}
    out["spike_gids"], out["spike_steps"] = sim.all_spikes()
    for mm in net.multimeters:
        for key, value in sim.multimeter_events(mm).items():
            out[f"mm{mm.id}_{key}"] = value
    for name in ("V_m", "I_syn_ex", "I_syn_in"):
        out[f"state_{name}"] = sim.state(name)
    out["spike_counts"] = sim.spike_counts()
    if sim.graph.plastic_layout is not None:   # the plastic weights as the host holds them after the runs
        out["plastic_weights"] = sim.connections()["weight"][sim.connections()["synapse_model"] != "static_synapse"]
    out["_sim"] = sim
    return out


def assert_same(a: dict, b: dict) -> None:
    """Every array of two :func:`run_case` results equal bit for bit (NaN where both are NaN)."""
    keys = [k for k in a if not k.startswith("_")]
    assert keys == [k for k in b if not k.startswith("_")]
    for k in keys:
        x, y = np.asarray(a[k]), np.asarray(b[k])
        assert x.dtype == y.dtype and x.shape == y.shape, k
        if x.dtype.kind == "f":
            assert np.array_equal(x.view(np.int64), y.view(np.int64)), f"{k}: first difference at " \
                f"{np.flatnonzero(x.view(np.int64) != y.view(np.int64))[:5]}"
        else:
            assert np.array_equal(x, y), k


@functools.lru_cache(maxsize=None)
def cpu_reference(case: str, runs: str) -> dict[str, np.ndarray]:
    """The CPU backend on one rank (seed 11, the model times of ``runs``, comma-separated ms): spikes sorted
    by (step, gid), final V_m as int64 bits and spike counts by gid."""
    sim = Simulation(CASES[case](), seed=11, backend="cpu")
    for t in runs.split(","):
        sim.run(float(t))
    gids, steps = sim.all_spikes()
    order = np.lexsort((gids, steps))
    by_gid = np.argsort(sim.local_gids)
    return {"gids": gids[order], "steps": steps[order], "V": sim.state("V_m").view(np.int64)[by_gid],
            "counts": sim.spike_counts()[by_gid]}


def ranks_command(mpiexec: str, n_ranks: int, out: Path, case: str, runs: str, *extra: str,
                  emulator: Path | None = None) -> list[str]:
    """``mpiexec -n n_ranks`` tests/cuda_ranks_script.py for ``case`` (emulated kernels with ``emulator``)."""
    script = Path(__file__).resolve().parent / "cuda_ranks_script.py"
    emu = ["--emulator", str(emulator)] if emulator is not None else []
    return [mpiexec, "-n", str(n_ranks), sys.executable, str(script), str(out), case, *emu, "--runs", runs, *extra]


def assert_same_as_cpu(out: Path, case: str, runs: str) -> list[dict]:
    """The ranks' merged results (cuda_ranks_script.py's ``out``) equal the CPU's on one rank bit for bit;
    returns the ranks' info records."""
    ref = cpu_reference(case, runs)
    r = np.load(out)
    order = np.lexsort((r["gids"], r["steps"]))
    by_gid = np.argsort(r["local"])
    assert ref["gids"].size > 300
    np.testing.assert_array_equal(r["gids"][order], ref["gids"])
    np.testing.assert_array_equal(r["steps"][order], ref["steps"])
    np.testing.assert_array_equal(r["V"][by_gid], ref["V"])
    np.testing.assert_array_equal(r["counts"][by_gid], ref["counts"])
    return json.loads(str(r["info"]))
