"""Checkpoint and restart (issue 19): T ms straight equals T/2, checkpoint, new process, restore, T/2 --
spikes and final state bit for bit -- on one and several ranks, across rank counts, partitions and
backends; damaged or foreign checkpoints are refused before any state changes.

The final states are compared as :class:`cortex_gpu.runstate.RunState`: every per-neuron array as
bits (V, currents, refractory counts, spike counts, STDP post histories), the STDP pre traces, the
plastic weights by (pre, post, delay) and every recorded spike and multimeter sample.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from cortex_gpu import Simulation
from cortex_gpu import checkpoint as ck
from cortex_gpu.io import read_checkpoint
from cortex_gpu.runstate import NEURON_CONFIG, NEURON_STATE, RunState, merge
from checkpoint_cases import CASES, switch

SCRIPT = Path(__file__).resolve().parent / "checkpoint_cases.py"
ROOT = SCRIPT.parents[1]
#: one Numba thread per process (several ranks fit on CI's 2 cores); this checkout's cortex_gpu
ENV = {**os.environ, "NUMBA_NUM_THREADS": "1",
       "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
MPIEXEC = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which("mpiexec")


def _bits(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    return a.view(np.uint8) if a.dtype.kind in "fiub" else a


def assert_same_state(ref: RunState, got: RunState, in_flight: bool = True) -> None:
    """Two run states equal bit for bit (``in_flight``: the ring's spikes too, for the same layout: another
    layout keeps the spikes that are still due, each rank those of its own pres)."""
    assert ref.step == got.step
    assert sorted(ref.neurons) == sorted(got.neurons)
    for k in ref.neurons:
        assert np.array_equal(_bits(ref.neurons[k]), _bits(got.neurons[k])), f"neurons/{k}"
    assert sorted(ref.pres) == sorted(got.pres)
    for k in ref.pres:
        assert np.array_equal(_bits(ref.pres[k]), _bits(got.pres[k])), f"pres/{k}"
    if in_flight:
        for k in ref.spikes:
            assert np.array_equal(_bits(ref.spikes[k]), _bits(got.spikes[k])), f"spikes/{k}"
    if ref.plastic:
        rows = []
        for st in (ref, got):
            p = st.plastic
            t = np.column_stack([p["pre"], p["post"], p["delay"], p["weight"].view(np.int64)])
            rows.append(t[np.lexsort(t.T[::-1])])
        assert rows[0].shape == rows[1].shape and np.array_equal(rows[0], rows[1]), "plastic weights"
    for st in (ref, got):
        o = np.lexsort((st.recorded["gid"], st.recorded["step"]))
        st.recorded = {k: v[o] for k, v in st.recorded.items()}
    assert ref.recorded["gid"].size > 50
    for k in ("gid", "step"):
        assert np.array_equal(ref.recorded[k], got.recorded[k]), f"recorded/{k}"
    if ref.sampled:
        assert np.array_equal(ref.sampled["times"], got.sampled["times"])
        key = lambda s: np.lexsort((s["gid"], s["var"], s["mm"]))  # noqa: E731
        a, b = ref.sampled["values"][:, key(ref.sampled)], got.sampled["values"][:, key(got.sampled)]
        assert np.array_equal(_bits(a), _bits(b)), "sampled"
    assert ref.generators == got.generators


def straight(case: str, t_ms: float, seed: int = 11, switched: bool = False, **kw) -> RunState:
    """T ms in one process; with ``switched`` the generator change at T/2 (two Simulate calls, as in NEST)."""
    sim = Simulation(CASES[case](), seed=seed, **kw)
    if switched:
        sim.run(t_ms / 2)
        switch(sim)
        sim.run(t_ms / 2)
    else:
        sim.run(t_ms)
    return sim.run_state()


def script(tmp: Path, case: str, *args: str, n_ranks: int = 1, timeout: float = 240) -> None:
    cmd = [sys.executable, str(SCRIPT), case, *args]
    if n_ranks > 1:
        cmd = [MPIEXEC, "-n", str(n_ranks), *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=timeout, cwd=tmp)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.parametrize("case,t_ms", [("pd14", 60.0), ("hpc", 200.0)])
def test_new_process_bit_identical(tmp_path, case, t_ms):
    """PD14 (reduced) and the hpc_benchmark with STDP: T straight vs T/2, checkpoint, a new process that
    restores and runs T/2 -- spikes, neuron state, traces and plastic weights bit for bit."""
    ref = straight(case, t_ms)
    sim = Simulation(CASES[case](), seed=11)
    sim.run(t_ms / 2)
    sim.save_checkpoint(tmp_path / "half")
    half = read_checkpoint(tmp_path / "half")
    assert_same_state(sim.run_state(), half.state)           # what was written is what the run holds
    script(tmp_path, case, "--restore", str(tmp_path / "half"), "--run", str(t_ms / 2), "--final",
           str(tmp_path / "final"))
    got = read_checkpoint(tmp_path / "final").state
    assert_same_state(ref, got)
    if case == "hpc":
        assert got.plastic["weight"].size > 1000 and np.unique(got.plastic["weight"]).size > 20   # they learn
        assert half.manifest["n_ranks"] == 1 and half.manifest["seed"] == 11


def test_every_generator_kind_and_generator_state(tmp_path):
    """Poisson, dc and spike generators, parrots, STDP and a multimeter; a generator changed at T/2
    (stored in the checkpoint, set on the restored network); restored twice in a row."""
    ref = straight("every_kind", 60.0, switched=True)
    sim = Simulation(CASES["every_kind"](), seed=11)
    sim.run(30.0)
    switch(sim)
    sim.save_checkpoint(tmp_path / "a")
    net = CASES["every_kind"]()                      # the script's description: the old rate
    r = Simulation.restore(tmp_path / "a", net, threads=2)
    assert net.generators[-1].params["rate"] == 9000.0
    r.run(20.0)
    r.save_checkpoint(tmp_path / "a")                # the same directory: the previous shards are replaced
    assert len(list((tmp_path / "a").glob("rank*.npz"))) == 1
    r2 = Simulation.restore(tmp_path / "a", CASES["every_kind"]())
    r2.run(10.0)
    assert_same_state(ref, r2.run_state())


def test_every_neuron_field_is_declared():
    """A field added to cpu.Neurons must be declared run state, listed as configuration, or refused."""
    from cortex_gpu.backends import cpu
    from cortex_gpu.runstate import UNSUPPORTED_STATE
    declared = {attr for holder, attr in NEURON_STATE.values() if holder == "neurons"}
    assert set(cpu.Neurons._fields) == declared | set(NEURON_CONFIG) | set(UNSUPPORTED_STATE)


def test_receptor_port_models_are_refused_by_name(tmp_path):
    """The multisynapse models' per-port currents are not in the run state yet: saving says so."""
    from cortex_gpu import Network
    net = Network(resolution_ms=0.1)
    pop = net.add_population("iaf_psc_exp_multisynapse", 3, {"tau_syn": [2.0, 5.0]})
    src = net.add_population("spike_generator", 1, spike_times_ms=[np.array([1.0, 2.0])])
    net.connect(src, pop, "all_to_all", weight=50.0, delay=1.0, receptor_type=2)
    sim = Simulation(net, seed=1)
    sim.run(5.0)
    with pytest.raises(NotImplementedError, match="multisynapse"):
        sim.save_checkpoint(tmp_path / "c")


def _corrupt(d: Path, how: str) -> Path:
    m = json.loads((d / ck.MANIFEST).read_text())
    shard = d / m["shards"][0]["file"]
    if how == "truncated":
        shard.write_bytes(shard.read_bytes()[:-100])
    elif how == "flipped":
        b = bytearray(shard.read_bytes())
        b[len(b) // 2] ^= 0x10
        shard.write_bytes(bytes(b))
    elif how == "missing":
        shard.unlink()
    elif how == "version":
        m["versions"]["cortex_gpu"] = "0.0.1"
        (d / ck.MANIFEST).write_text(json.dumps(m))
        return d / ck.MANIFEST
    return shard


@pytest.fixture(scope="module")
def small_ckpt(tmp_path_factory):
    d = tmp_path_factory.mktemp("ck") / "small"
    sim = Simulation(CASES["small"](), seed=11)
    sim.run(20.0)
    sim.save_checkpoint(d)
    return d


@pytest.mark.parametrize("how,reason", [("truncated", "bytes"), ("flipped", "sha256"), ("missing", "missing"),
                                        ("version", "written by cortex_gpu 0.0.1")])
def test_damaged_checkpoint_refused(tmp_path, small_ckpt, how, reason):
    d = tmp_path / "c"
    shutil.copytree(small_ckpt, d)
    named = _corrupt(d, how)
    with pytest.raises(ck.CheckpointError, match=reason) as e:
        Simulation.restore(d, CASES["small"]())
    assert str(named) in str(e.value)


def test_other_model_refused(small_ckpt):
    net = CASES["small"]()
    net.populations[0].params["I_e"] = 1.0
    with pytest.raises(ck.CheckpointError, match="another model"):
        Simulation.restore(small_ckpt, net)
    with pytest.raises(ck.CheckpointError, match="seed=11"):
        Simulation.restore(small_ckpt, CASES["small"](), seed=12)


def test_crash_at_every_write_step_leaves_previous_loadable(tmp_path, monkeypatch):
    """A failure at each rename of save_checkpoint (shard, manifest) leaves the previous checkpoint whole."""
    sim = Simulation(CASES["small"](), seed=11)
    sim.run(10.0)
    d = tmp_path / "c"
    sim.save_checkpoint(d)
    before = read_checkpoint(d).state
    sim.run(5.0)
    real = os.replace
    for fail_at in (0, 1):
        calls = []

        def crashing(a, b):
            calls.append(b)
            if len(calls) - 1 == fail_at:
                raise KeyboardInterrupt("simulated crash")
            return real(a, b)
        monkeypatch.setattr(os, "replace", crashing)
        with pytest.raises(KeyboardInterrupt):
            sim.save_checkpoint(d)
        monkeypatch.setattr(os, "replace", real)
        assert_same_state(before, read_checkpoint(d).state)
    sim.save_checkpoint(d)
    assert read_checkpoint(d).step == sim.step


_KILL_LOOP = """
import sys
sys.path.insert(0, {tests!r})
from checkpoint_cases import CASES
from cortex_gpu import Simulation
sim = Simulation(CASES["small"](), seed=11)
sim.run(5.0)
sim.save_checkpoint(sys.argv[1])
print("first", flush=True)
while True:
    sim.run(0.5)
    sim.save_checkpoint(sys.argv[1])
"""


def test_sigkill_during_saves_leaves_a_loadable_checkpoint(tmp_path):
    """SIGKILL at random points of a loop of saves into one directory: what is left reads and verifies."""
    prog = tmp_path / "loop.py"
    prog.write_text(_KILL_LOOP.format(tests=str(SCRIPT.parent)))
    rng = np.random.default_rng(19)
    for k in range(2):
        d = tmp_path / f"c{k}"
        p = subprocess.Popen([sys.executable, str(prog), str(d)], stdout=subprocess.PIPE, env=ENV, text=True)
        assert p.stdout.readline().strip() == "first"
        time.sleep(float(rng.uniform(0.05, 1.0)))
        p.send_signal(signal.SIGKILL)
        p.wait()
        c = read_checkpoint(d)
        assert c.step >= 50 and c.state.neurons["gid"].size == 200
        r = Simulation.restore(d, CASES["small"]())
        r.run(1.0)


# ------------------------------------------------------------------ CUDA emulation
def test_cuda_emulated_checkpoints(tmp_path, fake_cupy):
    """A checkpoint of the cuda backend (emulated kernels) restored on the CPU and on cuda, and a CPU
    checkpoint restored on cuda: the CPU's straight run bit for bit, plastic weights included."""
    for case in ("small", "stdp_parrots"):
        ref = straight(case, 60.0)
        g = Simulation(CASES[case](), seed=11, backend="cuda")
        g.run(30.0)
        g.save_checkpoint(tmp_path / f"{case}_gpu")
        c = Simulation(CASES[case](), seed=11)
        c.run(30.0)
        c.save_checkpoint(tmp_path / f"{case}_cpu")
        assert_same_state(c.run_state(), g.run_state())
        for src, backend in (("gpu", "cpu"), ("gpu", "cuda"), ("cpu", "cuda")):
            r = Simulation.restore(tmp_path / f"{case}_{src}", CASES[case](), backend=backend)
            r.run(30.0)
            assert_same_state(ref, r.run_state())


# ------------------------------------------------------------------ ranks
@pytest.mark.mpi
@pytest.mark.skipif(MPIEXEC is None, reason="no mpiexec (pip install mpich)")
def test_across_rank_counts_and_partitions(tmp_path):
    """2 -> 2 ranks (the same layout), 2 -> 4 (another partition), 4 -> 1: every restored run equals the
    straight run on one rank, bit for bit (1 -> 2: the CLI test)."""
    pytest.importorskip("mpi4py")
    case, T = "every_kind", 60.0
    ref = straight(case, T, switched=True)
    s = Simulation(CASES[case](), seed=11, tile_size=16)
    s.run(T / 2)
    switch(s)
    s.save_checkpoint(tmp_path / "r1")
    half = str(T / 2)
    script(tmp_path, case, "--run", half, "--switch", "--save", "r2", "--final", "ignored", n_ranks=2)
    script(tmp_path, case, "--restore", "r2", "--run", half, "--final", "f22", n_ranks=2)
    script(tmp_path, case, "--restore", "r2", "--run", str(T / 4), "--save", "r4", "--final", "ignored",
           "--partition", "contiguous", n_ranks=4)
    assert read_checkpoint(tmp_path / "r4").manifest["n_ranks"] == 4
    r = Simulation.restore(tmp_path / "r4", CASES[case](), threads=2)
    r.run(T / 4)
    assert_same_state(ref, r.run_state(), in_flight=False)
    c = read_checkpoint(tmp_path / "f22")
    assert len(c.parts) == 2
    assert_same_state(ref, c.state, in_flight=False)
    assert_same_state(read_checkpoint(tmp_path / "r1").state, read_checkpoint(tmp_path / "r2").state,
                      in_flight=False)
    assert merge(read_checkpoint(tmp_path / "f22").parts).step == ref.step


# ------------------------------------------------------------------ CLI
def _cli(tmp: Path, *args: str, n_ranks: int = 1) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "cortex_gpu.cli", *args]
    if n_ranks > 1:
        cmd = [MPIEXEC, "-n", str(n_ranks), *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**ENV, "MPLBACKEND": "Agg"}, timeout=300,
                          cwd=tmp)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_cli_interrupted_and_resumed_equals_uninterrupted(tmp_path):
    """``run --checkpoint-every 20 --stop-after 50`` (the job limit), then ``resume DIR``: the spike files
    and the summary's spike counts and rates equal those of the uninterrupted run, byte for byte."""
    from cortex_gpu.io import read_spikes
    model = ["run", "microcircuit", "--scale", "0.02", "--t-sim", "100", "--t-presim", "10", "--threads", "1"]
    _cli(tmp_path, *model, "--out", "straight")
    p = _cli(tmp_path, *model, "--out", "cut", "--checkpoint-every", "20", "--stop-after", "50")
    assert "stopped at 50 ms" in p.stderr and not (tmp_path / "cut" / "summary.json").exists()
    man = json.loads((tmp_path / "cut" / "checkpoint" / ck.MANIFEST).read_text())
    assert man["step"] == 500 and man["extra"]["recorded_per_rank"][0] == (tmp_path / "cut" / "spikes-rank00000.bin"
                                                                             ).stat().st_size // 16
    _cli(tmp_path, "resume", "cut/checkpoint")
    a, b = tmp_path / "straight", tmp_path / "cut"
    assert (a / "spikes-rank00000.bin").read_bytes() == (b / "spikes-rank00000.bin").read_bytes()
    sa, sb = (json.loads((d / "summary.json").read_text()) for d in (a, b))
    assert sa["n_spikes"] == sb["n_spikes"] > 100 and sa["rates_hz"] == sb["rates_hz"]
    if MPIEXEC is not None:      # and resumed from the first checkpoint on two ranks, another partition
        shutil.rmtree(b)
        _cli(tmp_path, *model, "--out", "cut", "--checkpoint-every", "20", "--stop-after", "20")
        _cli(tmp_path, "resume", "cut/checkpoint", "--partition", "contiguous", n_ranks=2)
        ra, rb = read_spikes(a, with_steps=True), read_spikes(b, with_steps=True)
        assert np.array_equal(ra["senders"], rb["senders"]) and np.array_equal(ra["t_steps"], rb["t_steps"])
