"""Networks and a run script for the checkpoint tests (tests/test_checkpoint.py).

Run as a script (one process, or every rank under ``mpiexec``)::

    python checkpoint_cases.py CASE --seed S [--restore DIR] --run MS [--save DIR] --final DIR [--partition P]

it builds CASE (or restores DIR), runs MS ms, saves a checkpoint to ``--save``
and the final state to ``--final`` (a checkpoint too, which the test reads
with ``cortex_gpu.io.read_checkpoint``).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cuda_cases import hpc_small, pd14_small, small_network, stdp_parrots  # noqa: E402
from helpers import plastic_network  # noqa: E402

#: the model time of the first half of a split run, ms: generator parameters change there
T_SWITCH_MS = 30.0


def every_kind():
    """plastic_network (STDP E->E, parrots, Poisson drive) with every generator kind that exists: a
    spike_generator onto E, a dc_generator onto I and a second poisson_generator whose rate the test
    changes between runs (``switch``); V_m and I_syn_ex of four neurons sampled every 0.5 ms."""
    net, E, both = plastic_network(n_e=120, n_i=30, c_e=40, c_i=10)
    src = net.add_population("spike_generator", 2, spike_times_ms=[np.array([2.0, 11.3, 11.3, 47.0]),
                                                                   np.array([5.5, 33.3])])
    net.connect(src.gids, E[:40], "all_to_all", weight=300.0, delay=1.2)
    dc = net.add_generator("dc_generator", {"amplitude": 60.0, "start": 10.0, "stop": 55.0})
    net.drive(dc, both[120:], weight=1.0)
    pg = net.add_generator("poisson_generator", {"rate": 2000.0})
    net.drive(pg, E[::3], weight=40.0, delay_ms=0.5)
    net.record_spikes(src.gids)
    net.record_state(np.array([0, 7, 121, 140]), ("V_m", "I_syn_ex"), interval_ms=0.5)
    return net


def switch(sim) -> None:
    """The generator change of a split run (NEST's SetStatus between Simulate calls)."""
    sim.set_generator(len(sim.net.generators) - 1, {"rate": 9000.0})


CASES = {"every_kind": every_kind, "pd14": pd14_small, "hpc": hpc_small, "small": small_network,
         "stdp_parrots": stdp_parrots}


def main() -> None:
    from cortex_gpu.comm import world
    from cortex_gpu.engine import Simulation
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=CASES)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--restore", default=None)
    ap.add_argument("--run", type=float, required=True)
    ap.add_argument("--save", default=None)
    ap.add_argument("--final", required=True)
    ap.add_argument("--partition", default="round_robin")
    ap.add_argument("--switch", action="store_true", help="switch the every_kind generator after running")
    a = ap.parse_args()
    net = CASES[a.case]()
    kw = dict(comm=world(), partition=a.partition, tile_size=16)
    if a.restore:
        sim = Simulation.restore(a.restore, net, **kw)
    else:
        sim = Simulation(net, seed=a.seed, **kw)
    sim.run(a.run)
    if a.switch:
        switch(sim)
    if a.save:
        sim.save_checkpoint(a.save)
    sim.save_checkpoint(a.final)


if __name__ == "__main__":
    main()
