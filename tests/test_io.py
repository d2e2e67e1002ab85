"""Tests of cortex_gpu.io: per-rank spike files, metadata, and the merging reader."""
from __future__ import annotations

import json

import numpy as np
import pytest

from cortex_gpu import io


def _write_ranks(out, parts, resolution_ms=0.1, seed=7):
    for rank, (senders, steps) in enumerate(parts):
        io.write_rank_spikes(out, rank, senders, steps, n_neurons=10)
    io.write_spikes_metadata(out, n_ranks=len(parts), resolution_ms=resolution_ms, seed=seed,
                             extra={"populations": ["A"]})


def test_round_trip_merges_ranks_sorted_by_time_then_sender(tmp_path):
    rng = np.random.default_rng(1)
    parts = []
    for rank in range(3):
        # Each rank owns gids congruent to its rank mod 3 (round robin), in recording order.
        steps = np.sort(rng.integers(1, 200, 50))
        senders = rank + 3 * rng.integers(0, 100, 50)
        parts.append((senders, steps))
    _write_ranks(tmp_path, parts, resolution_ms=0.25)
    got = io.read_spikes(tmp_path, with_steps=True)

    all_s = np.concatenate([p[0] for p in parts])
    all_t = np.concatenate([p[1] for p in parts])
    assert got["senders"].size == all_s.size == 150
    # Same multiset of (sender, step) pairs ...
    want = sorted(zip(all_t.tolist(), all_s.tolist()))
    assert list(zip(got["t_steps"].tolist(), got["senders"].tolist())) == want
    # ... ordered by time, ties by sender, with times = stamp * resolution.
    key = got["t_steps"] * 10**6 + got["senders"]
    assert np.all(np.diff(key) >= 0)
    np.testing.assert_array_equal(got["times"], got["t_steps"] * 0.25)
    assert got["senders"].dtype == np.int64 and got["times"].dtype == np.float64


def test_merge_does_not_depend_on_rank_split(tmp_path):
    senders = np.array([5, 1, 4, 2, 3, 0])
    steps = np.array([3, 1, 2, 2, 1, 3])
    one = tmp_path / "one"
    two = tmp_path / "two"
    _write_ranks(one, [(senders, steps)])
    _write_ranks(two, [(senders[::2], steps[::2]), (senders[1::2], steps[1::2])])
    a, b = io.read_spikes(one), io.read_spikes(two)
    np.testing.assert_array_equal(a["senders"], b["senders"])
    np.testing.assert_array_equal(a["times"], b["times"])
    np.testing.assert_array_equal(a["senders"], [1, 3, 2, 4, 0, 5])


def test_file_layout_is_the_documented_one(tmp_path):
    _write_ranks(tmp_path, [(np.array([7, 8]), np.array([11, 12]))], resolution_ms=0.1, seed=99)
    raw = (tmp_path / "spikes-rank00000.bin").read_bytes()
    assert len(raw) == 2 * 16
    assert np.frombuffer(raw, "<i8").tolist() == [7, 11, 8, 12]
    meta = json.loads((tmp_path / "spikes.json").read_text())
    assert meta["format"] == "cortex_gpu.spikes" and meta["format_version"] == 1
    assert meta["n_ranks"] == 1 and meta["seed"] == 99 and meta["resolution_ms"] == 0.1
    assert meta["files"] == ["spikes-rank00000.bin"]
    assert meta["populations"] == ["A"]
    assert {"cortex_gpu", "numpy", "python"} <= set(meta["versions"])
    rank = json.loads((tmp_path / "spikes-rank00000.json").read_text())
    assert rank == {"rank": 0, "n_spikes": 2, "n_neurons": 10}


def test_empty_rank_is_fine(tmp_path):
    _write_ranks(tmp_path, [(np.array([1]), np.array([4])), (np.zeros(0, int), np.zeros(0, int))])
    got = io.read_spikes(tmp_path)
    assert got["senders"].tolist() == [1]
    assert got["times"].tolist() == pytest.approx([0.4])


def test_missing_rank_file_fails(tmp_path):
    _write_ranks(tmp_path, [(np.array([1]), np.array([1])), (np.array([2]), np.array([2]))])
    (tmp_path / "spikes-rank00001.bin").unlink()
    with pytest.raises(FileNotFoundError, match="rank 1"):
        io.read_spikes(tmp_path)


def test_truncated_rank_file_fails(tmp_path):
    _write_ranks(tmp_path, [(np.array([1, 2, 3]), np.array([1, 2, 3]))])
    path = tmp_path / "spikes-rank00000.bin"
    path.write_bytes(path.read_bytes()[:-16])     # one whole record lost
    with pytest.raises(ValueError, match="record says 3"):
        io.read_spikes(tmp_path)
    path.write_bytes(path.read_bytes()[:-3])      # a partial record
    with pytest.raises(ValueError, match="whole number"):
        io.read_spikes(tmp_path)


def test_no_metadata_and_wrong_format_fail(tmp_path):
    with pytest.raises(FileNotFoundError, match="spikes.json"):
        io.read_spikes(tmp_path)
    (tmp_path / "spikes.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(ValueError, match="not a cortex_gpu.spikes"):
        io.read_spikes(tmp_path)


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="equal length"):
        io.write_rank_spikes(tmp_path, 0, np.array([1, 2]), np.array([1]))
    with pytest.raises(ValueError, match="override"):
        io.write_spikes_metadata(tmp_path, n_ranks=1, resolution_ms=0.1, seed=1, extra={"seed": 2})
    with pytest.raises(ValueError):
        io.rank_file(-1)


def test_doctests_of_io_and_plot():
    import doctest

    from cortex_gpu import plot
    for module in (io, plot):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__
