"""The receptor-port models (iaf_psc_exp_multisynapse, iaf_psc_alpha_multisynapse) on 1 and 2 CPU ranks
(``mpiexec -n 2``): identical spikes, and identical V_m and port currents at the end, bit for bit (I3).

The network draws a port per synapse (uniform), drives every port with Poisson input and feeds the
spikes back through several delays, so that the window split, the per-port accumulator rows and the
exchange are all exercised.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from test_mpi import ENV, MPIEXEC

pytestmark = [pytest.mark.mpi, pytest.mark.skipif(MPIEXEC is None, reason="no mpiexec (pip install mpich)")]

SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    from cortex_gpu.comm import world
    from cortex_gpu.distributions import Normal, Uniform
    from cortex_gpu.engine import Simulation
    from cortex_gpu.network import Network
    net = Network(resolution_ms=0.1)
    ports = [0.3, 1.0, 2.5, 4.0, 6.0]
    e = net.add_population("iaf_psc_exp_multisynapse", 120, {"tau_syn": ports, "I_e": 200.0})
    a = net.add_population("iaf_psc_alpha_multisynapse", 80, {"tau_syn": ports[:3], "I_e": 150.0,
                                                             "V_min": -80.0})
    every = np.concatenate([e.gids, a.gids])
    net.connect(e.gids, e.gids, "fixed_indegree", indegree=20, weight=Normal(40.0, 5.0), delay=1.5,
                receptor_type=Uniform(1, 6))
    net.connect(e.gids, a.gids, "fixed_indegree", indegree=15, weight=30.0, delay=Uniform(1.0, 3.0),
                receptor_type=2)
    net.connect(a.gids, every[:150], "fixed_indegree", indegree=10, weight=-60.0, delay=2.0,
                receptor_type=Uniform(1, 4))
    for port in (1, 3, 5):
        net.drive(net.add_generator("poisson_generator", {"rate": 4000.0}), e.gids, weight=12.5,
                  delay_ms=1.0, receptor_type=port)
    net.drive(net.add_generator("poisson_generator", {"rate": 6000.0}), a.gids, weight=10.0, delay_ms=0.5,
              receptor_type=3)
    net.record_spikes(every)
    sim = Simulation(net, seed=5, comm=world(), check_ownership=True, tile_size=16)
    sim.run(300.0)
    gids, steps = sim.all_spikes()
    np.savez(f"{sys.argv[1]}.{sim.rank}.npz", gids=gids, steps=steps, local=sim.local_gids,
             V=sim.state("V_m"), I1=sim.state("I_syn_1"), I=sim.state("I_syn"))
""")


def _run(tmp_path: Path, n_ranks: int):
    script = tmp_path / "ports.py"
    script.write_text(SCRIPT)
    stem = tmp_path / f"r{n_ranks}"
    cmd = [sys.executable, str(script), str(stem)]
    proc = subprocess.run(([MPIEXEC, "-n", str(n_ranks)] if n_ranks > 1 else []) + cmd, capture_output=True,
                          text=True, timeout=600,
                          env={**ENV, "PYTHONPATH": str(Path(__file__).parents[1])})   # this checkout's cortex_gpu
    assert proc.returncode == 0, proc.stderr[-3000:]
    parts = [np.load(f"{stem}.{r}.npz") for r in range(n_ranks)]
    g = np.concatenate([p["gids"] for p in parts])
    s = np.concatenate([p["steps"] for p in parts])
    order = np.lexsort((g, s))
    local = np.concatenate([p["local"] for p in parts])
    by = np.argsort(local)
    state = {k: np.concatenate([p[k] for p in parts])[by] for k in ("V", "I1", "I")}
    return np.column_stack([g[order], s[order]]), state


def test_ports_same_on_one_and_two_ranks(tmp_path):
    one, s1 = _run(tmp_path, 1)
    two, s2 = _run(tmp_path, 2)
    assert one.shape[0] > 500 and np.unique(one[:, 0]).size > 150
    np.testing.assert_array_equal(one, two)
    for k in s1:
        np.testing.assert_array_equal(s1[k], s2[k])
