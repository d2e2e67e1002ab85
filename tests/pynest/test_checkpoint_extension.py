"""The PyNEST layer's checkpoint extension (nest.SaveCheckpoint / nest.RestoreCheckpoint; NEST has none):
a run cut in two by a checkpoint, a kernel reset and a rebuilt network gives NEST's uninterrupted run."""
from __future__ import annotations

import numpy as np
import pytest


def _build(nest):
    nest.SetKernelStatus({"resolution": 0.1})
    a = nest.Create("iaf_psc_alpha", 6, params={"I_e": 390.0})
    b = nest.Create("iaf_psc_exp", 4, params={"I_e": 200.0, "tau_m": 12.0})
    sg = nest.Create("spike_generator", params={"spike_times": [3.0, 17.2, 41.0, 41.5, 77.7]})
    dc = nest.Create("dc_generator", params={"amplitude": 150.0, "start": 30.0, "stop": 70.0})
    sr = nest.Create("spike_recorder")
    mm = nest.Create("multimeter", params={"record_from": ["V_m"], "interval": 0.5})
    nest.Connect(a, b, "all_to_all", {"weight": 120.0, "delay": 1.5})
    nest.Connect(b, a, "all_to_all", {"weight": -60.0, "delay": 0.7})
    nest.Connect(sg, a + b, syn_spec={"weight": 300.0, "delay": 1.0})
    nest.Connect(dc, b)
    nest.Connect(a + b, sr)
    nest.Connect(mm, a[:2] + b[:1])
    return a + b, sr, mm, dc


def cut_run(nest, ckpt_dir):
    """40 ms, a dc_generator changed, 60 ms; with the extension a checkpoint after the change (which has not
    reached the targets yet), ResetKernel, the network built again, RestoreCheckpoint, then the 60 ms."""
    nodes, sr, mm, dc = _build(nest)
    nest.Simulate(40.0)
    dc.set(amplitude=40.0)
    if hasattr(nest, "SaveCheckpoint"):
        nest.SaveCheckpoint(ckpt_dir)
        dtype = nest.weight_dtype            # the test session's setting (float64), which ResetKernel resets
        nest.ResetKernel()
        nest.weight_dtype = dtype
        nodes, sr, mm, dc = _build(nest)
        nest.RestoreCheckpoint(ckpt_dir)
        assert nest.GetKernelStatus("biological_time") == 40.0
    nest.Simulate(60.0)
    ev, vm = sr.get("events"), mm.get("events")
    return {"senders": np.asarray(ev["senders"]), "times": np.asarray(ev["times"]),
            "vm_times": np.asarray(vm["times"]), "vm_senders": np.asarray(vm["senders"]), "V_m": np.asarray(vm["V_m"]),
            "V_final": np.asarray(nodes.get("V_m"))}


def test_cut_run_equals_nest_uninterrupted(run_both, tmp_path):
    theirs, mine = run_both(cut_run, tmp_path / "ckpt")
    assert theirs["senders"].size > 20
    order = lambda r: np.lexsort((r["senders"], r["times"]))  # noqa: E731
    for k in ("senders", "times"):
        np.testing.assert_array_equal(mine[k][order(mine)], theirs[k][order(theirs)])
    for k in ("vm_times", "vm_senders"):
        np.testing.assert_array_equal(mine[k], theirs[k])
    np.testing.assert_allclose(mine["V_m"], theirs["V_m"], rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(mine["V_final"], theirs["V_final"], rtol=1e-12, atol=1e-10)


def test_restore_refuses_another_network(tmp_path):
    import cortex_gpu.pynest as nest
    from cortex_gpu.checkpoint import CheckpointError
    nest.ResetKernel()
    _build(nest)
    nest.Simulate(10.0)
    nest.SaveCheckpoint(tmp_path / "c")
    nest.ResetKernel()
    _build(nest)
    nest.Create("iaf_psc_alpha")
    with pytest.raises(CheckpointError, match="another model"):
        nest.RestoreCheckpoint(tmp_path / "c")
    nest.ResetKernel()
