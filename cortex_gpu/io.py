"""Spike files: per-rank raw binary records plus JSON metadata, and a reader that merges ranks.

Format (``format = "cortex_gpu.spikes"``, ``format_version = 1``)
------------------------------------------------------------------
A run writes, into one output directory ``DIR``:

``DIR/spikes.json``
    One metadata record, written by rank 0: ``format``, ``format_version``,
    ``n_ranks``, ``resolution_ms``, ``seed``, ``partition`` (strategy name),
    ``versions`` (cortex_gpu, numpy, python), ``record_dtype`` (the NumPy
    description of one record, below), ``files`` (the rank file names, in
    rank order) and any extra entries the caller adds (for the CLI:
    ``populations``, ``gid_ranges``, ``t_presim_ms``, ``t_sim_ms``).

``DIR/spikes-rankRRRRR.bin`` (``RRRRR`` = rank, 5 digits, zero padded)
    The spikes recorded by one rank, as packed little-endian records of two
    64-bit signed integers::

        sender   <i8   global id (gid) of the neuron that spiked
        t_step   <i8   time stamp in steps: time_ms = t_step * resolution_ms

    No header: the file holds ``size / 16`` records, in the order the rank
    recorded them (by time step, then by gid within a step). A neuron that
    crosses threshold in step ``s`` is stamped ``t_step = s + 1`` (NEST's
    convention), so times are exact multiples of the resolution and
    comparing runs needs no floating-point tolerance. Ranks append records
    as they flush, so a rank never needs another rank's data.

``DIR/spikes-rankRRRRR.json``
    The rank's own small record: ``rank``, ``n_spikes`` (records in its
    ``.bin``; a reader uses it to detect a truncated file) and ``n_neurons``
    (neurons the rank owns).

:func:`read_spikes` reads every rank, checks the counts, and returns
``senders`` (int64) and ``times`` (float64, ms) sorted by (time, sender), so
the merged result does not depend on the number of ranks or the partition.
Checkpoints (:mod:`cortex_gpu.checkpoint`, format documented there) are read without a simulation by
:func:`read_checkpoint`.

Reading by hand, for one rank::

    rec = numpy.fromfile("DIR/spikes-rank00000.bin", dtype=[("sender", "<i8"), ("t_step", "<i8")])
    times_ms = rec["t_step"] * resolution_ms
"""
from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "SPIKE_DTYPE", "FORMAT", "FORMAT_VERSION", "rank_file", "write_rank_spikes",
    "write_spikes_metadata", "read_spikes_metadata", "read_spikes", "read_checkpoint",
]

#: One spike record on disk: sender gid and time stamp in steps.
SPIKE_DTYPE = np.dtype([("sender", "<i8"), ("t_step", "<i8")])
FORMAT = "cortex_gpu.spikes"
FORMAT_VERSION = 1
METADATA_FILE = "spikes.json"


def rank_file(rank: int, suffix: str = ".bin") -> str:
    """File name of one rank's spikes (``.bin``) or its record (``.json``).

    >>> rank_file(3)
    'spikes-rank00003.bin'
    """
    if rank < 0:
        raise ValueError(f"rank must be >= 0, got {rank}")
    return f"spikes-rank{rank:05d}{suffix}"


def _versions() -> dict[str, str]:
    from . import __version__
    return {"cortex_gpu": __version__, "numpy": np.__version__, "python": platform.python_version()}


def write_rank_spikes(out_dir: str | Path, rank: int, senders: np.ndarray, t_steps: np.ndarray,
                      n_neurons: int | None = None) -> Path:
    """Write one rank's spikes as ``spikes-rankRRRRR.bin`` and its ``.json`` record.

    Parameters
    ----------
    out_dir : output directory (created if missing).
    rank : this rank's number.
    senders : gids of the spikes, integer array.
    t_steps : time stamps in steps (time_ms = t_step * resolution_ms), same length.
    n_neurons : neurons owned by this rank, for the record.

    Returns
    -------
    Path of the ``.bin`` file.
    """
    senders = np.asarray(senders)
    t_steps = np.asarray(t_steps)
    if senders.shape != t_steps.shape or senders.ndim != 1:
        raise ValueError(f"senders and t_steps must be 1-d and of equal length, got shapes "
                         f"{senders.shape} and {t_steps.shape}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rec = np.empty(senders.size, SPIKE_DTYPE)
    rec["sender"] = senders
    rec["t_step"] = t_steps
    path = out / rank_file(rank)
    rec.tofile(path)
    info = {"rank": int(rank), "n_spikes": int(senders.size),
            "n_neurons": None if n_neurons is None else int(n_neurons)}
    (out / rank_file(rank, ".json")).write_text(json.dumps(info, indent=1) + "\n")
    return path


def write_spikes_metadata(out_dir: str | Path, *, n_ranks: int, resolution_ms: float, seed: int,
                          partition: str = "round_robin", extra: dict[str, Any] | None = None) -> Path:
    """Write ``spikes.json``, the record that names the run's rank files (rank 0 does this).

    ``extra`` entries are stored as they are (they must be JSON-serialisable)
    and may not override the format's own keys.
    """
    if n_ranks < 1:
        raise ValueError(f"n_ranks must be >= 1, got {n_ranks}")
    meta: dict[str, Any] = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "n_ranks": int(n_ranks),
        "resolution_ms": float(resolution_ms), "seed": int(seed), "partition": partition,
        "versions": _versions(), "record_dtype": SPIKE_DTYPE.descr,
        "files": [rank_file(r) for r in range(n_ranks)],
    }
    for key, value in (extra or {}).items():
        if key in meta:
            raise ValueError(f"extra metadata may not override '{key}'")
        meta[key] = value
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / METADATA_FILE
    path.write_text(json.dumps(meta, indent=1) + "\n")
    return path


def read_spikes_metadata(out_dir: str | Path) -> dict[str, Any]:
    """The ``spikes.json`` record of a run, checked for format and version."""
    path = Path(out_dir) / METADATA_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no spike metadata {path} (was the run recorded with --record none?)")
    meta = json.loads(path.read_text())
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} record (format={meta.get('format')!r})")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path}: format_version {meta.get('format_version')} is not supported "
                         f"(this reader knows {FORMAT_VERSION})")
    return meta


def read_spikes(out_dir: str | Path, *, with_steps: bool = False) -> dict[str, np.ndarray]:
    """Read and merge every rank's spikes, sorted by (time, sender).

    Parameters
    ----------
    out_dir : the directory holding ``spikes.json`` and the rank files.
    with_steps : also return ``t_steps`` (int64 time stamps in steps).

    Returns
    -------
    dict with ``senders`` (int64 gids) and ``times`` (float64, ms), and
    ``t_steps`` when asked.

    Raises
    ------
    FileNotFoundError : a rank file named by the metadata is missing.
    ValueError : a rank file's size or spike count disagrees with its record.
    """
    out = Path(out_dir)
    meta = read_spikes_metadata(out)
    parts = []
    for rank, name in enumerate(meta["files"]):
        path = out / name
        if not path.is_file():
            raise FileNotFoundError(f"{path}: rank {rank} of {meta['n_ranks']} has no spike file")
        size = path.stat().st_size
        if size % SPIKE_DTYPE.itemsize:
            raise ValueError(f"{path}: size {size} bytes is not a whole number of "
                             f"{SPIKE_DTYPE.itemsize}-byte records (truncated?)")
        rec = np.fromfile(path, SPIKE_DTYPE)
        info_path = out / rank_file(rank, ".json")
        if info_path.is_file():
            expected = json.loads(info_path.read_text())["n_spikes"]
            if expected != rec.size:
                raise ValueError(f"{path}: holds {rec.size} spikes, its record says {expected}")
        parts.append(rec)
    rec = np.concatenate(parts) if parts else np.empty(0, SPIKE_DTYPE)
    # Sorting on the integer stamps keeps the order exact; ties in time go by gid.
    order = np.lexsort((rec["sender"], rec["t_step"]))
    senders = rec["sender"][order].astype(np.int64)
    t_steps = rec["t_step"][order].astype(np.int64)
    result = {"senders": senders, "times": t_steps * float(meta["resolution_ms"])}
    if with_steps:
        result["t_steps"] = t_steps
    return result


def read_checkpoint(path, *, ranks=None, check: bool = True):
    """Read a checkpoint directory without running anything: :func:`cortex_gpu.checkpoint.read_checkpoint`
    (manifest, each rank's run state, and ``state``, the ranks merged; sizes and sha256 verified first)."""
    from .checkpoint import read_checkpoint as read
    return read(path, ranks=ranks, check=check)
