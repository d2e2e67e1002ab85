"""The synthetic multi-area model: PD14 columns, areas and positions, inter-area projections."""
from __future__ import annotations

import numpy as np
import pytest

from cortex_gpu.models import microcircuit, multi_area
from cortex_gpu.models.microcircuit import POPULATIONS
from cortex_gpu.models.multi_area import CC_LAMBDA_MM, area_centres


@pytest.fixture(scope="module")
def model():
    return multi_area(6, scale=0.02, record_spikes=False)


def test_areas_populations_and_info(model):
    net, info = model
    assert info["areas"] == [f"A{a}" for a in range(6)]
    assert len(info["populations"]) == len(info["gid_ranges"]) == 6 * 8
    assert info["populations"][:2] == ["A0/L23E", "A0/L23I"] and info["populations"][-1] == "A5/L6I"
    for pop, a, (first, stop) in zip(net.populations, info["area_of_population"], info["gid_ranges"]):
        assert pop.area == info["areas"][a] and (pop.first, pop.stop) == (first, stop)
        c = info["area_centres_mm"][a]
        assert pop.positions.shape == (pop.n, 2)
        assert np.all(np.abs(pop.positions - c) <= 0.5)         # inside the area's 1 mm patch
    assert info["n_neurons"] == net.n_neurons
    np.testing.assert_array_equal(area_centres(6), [[0, 0], [1, 0], [2, 0], [0, 1], [1, 1], [2, 1]])


def test_consecutive_gids_are_close(model):
    """Morton order: consecutive neurons lie much closer than random pairs (~0.52 mm)."""
    net, _ = model
    pop = net.populations[0]
    step = np.linalg.norm(np.diff(pop.positions, axis=0), axis=1)
    assert np.median(step) < 0.1
    # a tile of 32 neurons spans a small part of the patch
    spans = [np.ptp(pop.positions[i:i + 32], axis=0).max() for i in range(0, pop.n - 32, 32)]
    assert np.median(spans) < 0.5


def test_inter_area_projections(model):
    net, info = model
    cc = [p for p in net.projections if p.label.split("/")[0] != p.label.split("->")[1].split("/")[0]]
    assert info["n_synapses_inter_area"] == sum(p.total for p in cc)
    assert 0.10 <= info["inter_area_share"] <= 0.20
    for p in cc:   # from L23E / L5E to excitatory populations only
        src, dst = p.label.split("->")
        assert src.split("/")[1] in ("L23E", "L5E") and dst.split("/")[1] in ("L23E", "L4E", "L5E", "L6E")
    # near areas send more than far ones: A1 gets more from A0 (1 mm) than from A5 (~2.2 mm)
    into_a1 = {a: sum(p.total for p in cc if p.label.startswith(f"A{a}/") and "->A1/" in p.label)
               for a in (0, 5)}
    ratio = into_a1[0] / into_a1[5]
    assert ratio == pytest.approx(np.exp((np.sqrt(2) - 1) / CC_LAMBDA_MM), rel=0.05)


def test_one_area_is_a_pd14_column():
    net, info = multi_area(1, scale=0.02, record_spikes=False)
    ref, ref_info = microcircuit(0.02, 0.02, record_spikes=False)
    assert info["n_synapses_inter_area"] == 0 and info["sizes"] == ref_info["sizes"]
    assert [(p.total, p.label.split("/", 1)[-1]) for p in net.projections if p.label.startswith("A0/")] == \
        [(p.total, p.label.replace("->", "->A0/")) for p in ref.projections]
    assert [g.params for g in info["generators"]] == [g.params for g in ref_info["generators"]]


def test_drive_loses_the_inter_area_input():
    _, one = multi_area(1, scale=0.05, record_spikes=False)
    _, two = multi_area(2, scale=0.05, record_spikes=False)
    r1 = np.array([g.params["rate"] for g in one["generators"]])
    r2 = np.array([g.params["rate"] for g in two["generators"]][:8])
    target = np.isin(POPULATIONS, ("L23E", "L4E", "L5E", "L6E"))
    assert np.all(r2[target] < r1[target]) and np.all(r2[~target] == r1[~target])
    net1, _ = multi_area(1, scale=0.05, drive="dc", record_spikes=False)
    net2, _ = multi_area(2, scale=0.05, drive="dc", record_spikes=False)
    i1 = np.array([p.params["I_e"] for p in net1.populations])
    i2 = np.array([p.params["I_e"] for p in net2.populations[:8]])
    assert np.all(i2[target] < i1[target]) and np.all(i2[~target] == i1[~target])


@pytest.mark.parametrize("n_areas", [0, -2, 1.5])
def test_bad_n_areas(n_areas):
    with pytest.raises(ValueError, match="n_areas"):
        multi_area(n_areas)
