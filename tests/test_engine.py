"""The engine (I3, I5): bit-identical runs for a seed, any thread count, section size and run split."""
from __future__ import annotations

import numba
import numpy as np
import pytest

from cortex_gpu.engine import Simulation
from cortex_gpu.models import microcircuit

T_MS = 200.0


def _pd14(drive: str = "poisson"):
    """A down-scaled PD14 (~1,500 neurons) that spikes in every population within 200 ms."""
    net, info = microcircuit(N_scaling=0.02, K_scaling=0.1, drive=drive)
    return net, info


def _run(seed: int, threads: int = 1, section_size: int | None = None, split: tuple[float, ...] = (T_MS,),
         drive: str = "poisson"):
    net, info = _pd14(drive)
    sim = Simulation(net, seed=seed, threads=threads, section_size=section_size)
    for t in split:
        sim.run(t)
    gids, steps = sim.all_spikes()
    return sim, info, gids, steps


@pytest.fixture(scope="module")
def reference():
    return _run(seed=7)


def test_reference_is_active(reference):
    sim, info, gids, steps = reference
    assert gids.size > 200
    for first, stop in info["gid_ranges"]:   # every population fires
        assert np.any((gids >= first) & (gids < stop))


def test_same_seed_twice_bit_identical(reference):
    sim, _, gids, steps = reference
    sim2, _, gids2, steps2 = _run(seed=7)
    np.testing.assert_array_equal(gids, gids2)
    np.testing.assert_array_equal(steps, steps2)
    np.testing.assert_array_equal(sim.state("V_m"), sim2.state("V_m"))   # bitwise, not approx


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="Numba runs with a single thread here")
def test_two_threads_bit_identical(reference):
    sim, _, gids, steps = reference
    sim2, _, gids2, steps2 = _run(seed=7, threads=2)
    assert sim2._lo.size == 2 and np.all(sim2._hi > sim2._lo)   # work really is split
    np.testing.assert_array_equal(gids, gids2)
    np.testing.assert_array_equal(steps, steps2)
    np.testing.assert_array_equal(sim.state("V_m"), sim2.state("V_m"))


@pytest.mark.parametrize("section_size", [97, 512])
def test_section_size_bit_identical(reference, section_size):
    """Sections change the delivery layout and path (more runs per spike), not the result."""
    sim, _, gids, steps = reference
    sim2, _, gids2, steps2 = _run(seed=7, section_size=section_size)
    assert sim2.graph.layout.n_sections > 1
    np.testing.assert_array_equal(gids, gids2)
    np.testing.assert_array_equal(steps, steps2)


def test_split_run_continues_exactly(reference):
    sim, _, gids, steps = reference
    sim2, _, gids2, steps2 = _run(seed=7, split=(70.0, 0.0, 130.0))
    assert sim2.t_ms == pytest.approx(T_MS)
    np.testing.assert_array_equal(gids, gids2)
    np.testing.assert_array_equal(steps, steps2)


def test_different_seed_gives_different_spikes(reference):
    _, _, gids, steps = reference
    _, _, gids2, steps2 = _run(seed=8)
    assert gids.size != gids2.size or not (np.array_equal(gids, gids2) and np.array_equal(steps, steps2))


def test_spike_counters_match_recorded_spikes(reference):
    sim, _, gids, _ = reference
    counts = sim.spike_counts()
    np.testing.assert_array_equal(counts, np.bincount(gids - sim.local_gids[0], minlength=counts.size))


def test_dc_drive_deterministic_and_layout_bytes():
    sim, _, gids, steps = _run(seed=3, drive="dc")
    sim2, _, gids2, steps2 = _run(seed=3, drive="dc")
    np.testing.assert_array_equal(gids, gids2)
    np.testing.assert_array_equal(steps, steps2)
    rep = sim.report
    assert rep.n_synapses == sim.graph.layout.n_synapses > 0
    assert rep.bytes_per_synapse <= 8.0    # I5, reported after every build
