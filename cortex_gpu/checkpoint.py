"""Checkpoints: a simulation's run state on disk, restorable bit for bit on any rank count, partition or backend.

A checkpoint holds the :class:`cortex_gpu.runstate.RunState` of every rank
and nothing that can be rebuilt: static synapses are redrawn from the
keyed counters by :meth:`Simulation.restore`, not read.

Format (``format = "cortex_gpu.checkpoint"``, ``format_version = 1``)
---------------------------------------------------------------------
A checkpoint is a directory ``DIR``:

``DIR/manifest.json``
    Written last, by rank 0: ``format``, ``format_version``, ``versions``
    (cortex_gpu, numpy, python), ``model_sha256`` (the network
    description's digest, :func:`model_digest`; generator parameters left
    out, as they are stored), ``step``, ``t_ms``, ``resolution_ms``,
    ``seed``, ``n_ranks``, ``partition`` and ``tile_size``, ``backend``,
    ``weight_dtype``, ``post_history``, ``generators`` (each generator's
    parameters, in id order), ``arrays`` (the names every shard may hold),
    ``shards`` (per rank: ``rank``, ``file``, ``bytes``, ``sha256``,
    ``n_neurons``) and ``extra`` (the caller's, e.g. the CLI's recorder
    positions).

``DIR/rankRRRRR-<generation>.npz``
    One per rank, written by that rank: a NumPy ``.npz`` (zip of ``.npy``
    files, read with ``allow_pickle=False``) whose members are the rank's
    run state, ``group/name`` (see :mod:`cortex_gpu.runstate`):
    ``neurons/gid`` and each per-neuron array, sorted by gid;
    ``spikes/gid``, ``spikes/step`` (emission step), ``spikes/kplus``,
    ``spikes/tlast`` for the spikes in flight; ``pres/*`` the STDP pre traces
    by gid; ``plastic/pre``, ``post``, ``delay`` (steps), ``index``,
    ``weight`` (pA); ``recorded/gid``, ``recorded/step``; ``sampled/*``.
    ``<generation>`` is the step and a random token, so a new checkpoint
    into the same directory never overwrites a file the current manifest
    names.

Crash safety: every file is written to a temporary name, flushed
(``fsync``) and renamed; the manifest, renamed last, is what makes a
checkpoint exist, so a crash while writing leaves the previous checkpoint
loadable. Shards of earlier generations are removed only after the new
manifest is in place.

Restoring checks everything before any state changes: the manifest's
format and versions, the model digest against the network given, and every
shard's size and sha256; a failure raises :class:`CheckpointError` naming
the file and the reason.

Reading without a simulation: :func:`read_checkpoint` (also
``cortex_gpu.io.read_checkpoint``).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .runstate import RunState, capture, merge

__all__ = ["CheckpointError", "Checkpoint", "FORMAT", "FORMAT_VERSION", "MANIFEST", "save", "read_checkpoint",
           "model_digest", "restore"]

FORMAT = "cortex_gpu.checkpoint"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_CHUNK = 1 << 22


class CheckpointError(ValueError):
    """A checkpoint that cannot be restored: missing, damaged, or from another model or version."""


def _versions() -> dict[str, str]:
    from . import __version__
    return {"cortex_gpu": __version__, "numpy": np.__version__, "python": platform.python_version()}


# ------------------------------------------------------------------ model digest
def _feed(h, obj: Any) -> None:
    """Feed a canonical encoding of ``obj`` to hash ``h`` (types tagged, arrays by dtype, shape and bytes)."""
    if isinstance(obj, np.ndarray):
        a = np.ascontiguousarray(obj)
        if a.dtype == object:
            h.update(b"O")
            for x in a.ravel():
                _feed(h, x)
            return
        h.update(f"A{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    elif isinstance(obj, (bool, np.bool_)):
        h.update(b"b1" if obj else b"b0")
    elif isinstance(obj, (int, np.integer)):
        h.update(f"i{int(obj)};".encode())
    elif isinstance(obj, (float, np.floating)):
        h.update(f"f{float(obj).hex()};".encode())
    elif isinstance(obj, str):
        h.update(f"s{len(obj)}:".encode() + obj.encode())
    elif obj is None:
        h.update(b"N")
    elif isinstance(obj, dict):
        h.update(f"d{len(obj)}".encode())
        for k in sorted(obj, key=str):
            _feed(h, str(k))
            _feed(h, obj[k])
    elif isinstance(obj, (list, tuple)):
        h.update(f"l{len(obj)}".encode())
        for x in obj:
            _feed(h, x)
    elif dataclasses.is_dataclass(obj):
        h.update(f"D{type(obj).__name__}".encode())
        for f in dataclasses.fields(obj):
            if type(obj).__name__ == "Generator" and f.name == "params":
                continue            # stored in the checkpoint: set_generator may change them between runs
            _feed(h, f.name)
            _feed(h, getattr(obj, f.name))
    elif hasattr(obj, "__dict__"):
        h.update(f"C{type(obj).__name__}".encode())
        _feed(h, {k: v for k, v in vars(obj).items() if not k.startswith("_")})
    else:
        raise TypeError(f"cannot digest a {type(obj).__name__} in the network description")


def model_digest(net) -> str:
    """sha256 of the network description (populations, projections, synapse models, drives, recorders;
    not the generators' current parameters), hex."""
    h = hashlib.sha256()
    _feed(h, net)
    return h.hexdigest()


# ------------------------------------------------------------------ writing
def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_atomic(path: Path, write) -> None:
    """``write(file)`` into a temporary name next to ``path``, fsync, rename onto ``path``."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def save(sim, path, extra: dict | None = None) -> Path:
    """Write ``sim``'s run state to checkpoint directory ``path`` (every rank calls it); returns the manifest."""
    sim.build()
    comm = sim.comm
    path = Path(path)
    lead = sim.rank == 0
    if lead:
        path.mkdir(parents=True, exist_ok=True)
    token = f"s{sim.step:012d}-{secrets.token_hex(4)}" if lead else None
    if comm is not None and comm.size > 1:
        token = comm.bcast(token)
        comm.barrier()
    st = capture(sim)
    shard = path / f"rank{sim.rank:05d}-{token}.npz"
    _write_atomic(shard, lambda f: np.savez(f, **st.arrays()))
    record = {"rank": sim.rank, "file": shard.name, "bytes": shard.stat().st_size, "sha256": _sha256(shard),
              "n_neurons": int(st.neurons["gid"].size), "arrays": sorted(st.arrays())}
    records = comm.allgather(record) if comm is not None and comm.size > 1 else [record]
    manifest = path / MANIFEST
    if lead:
        arrays = sorted({a for r in records for a in r.pop("arrays")})
        doc = {"format": FORMAT, "format_version": FORMAT_VERSION, "versions": _versions(),
               "model_sha256": model_digest(sim.net), "step": int(sim.step), "t_ms": float(sim.t_ms),
               "resolution_ms": float(sim.h), "seed": int(sim.seed), "n_ranks": int(sim.n_ranks),
               "partition": sim.partition.strategy, "tile_size": int(sim.tile_size),
               "backend": sim.backend, "weight_dtype": sim.weight_dtype.name, "post_history": int(sim.post_history),
               "generators": st.generators, "arrays": arrays, "shards": sorted(records, key=lambda r: r["rank"]),
               "extra": extra or {}}
        text = json.dumps(doc, indent=1) + "\n"
        _write_atomic(manifest, lambda f: f.write(text.encode()))
        _fsync_dir(path)
        keep = {r["file"] for r in records} | {MANIFEST}
        for old in path.iterdir():   # earlier generations and temporaries of interrupted writes
            if old.name not in keep and (old.name.startswith("rank") and old.suffix == ".npz"
                                         or old.name.startswith(".") and ".tmp-" in old.name):
                try:
                    old.unlink()
                except OSError:
                    pass
    if comm is not None and comm.size > 1:
        comm.barrier()
    return manifest


# ------------------------------------------------------------------ reading
@dataclass
class Checkpoint:
    """A checkpoint read from disk: its manifest and each rank's :class:`RunState` part (rank order)."""

    path: Path
    manifest: dict
    parts: list[RunState]

    @property
    def state(self) -> RunState:
        """Every rank's part merged: neurons in gid order, each in-flight spike once."""
        return merge(self.parts) if len(self.parts) > 1 else self.parts[0]

    @property
    def step(self) -> int:
        return int(self.manifest["step"])


def read_manifest(path) -> dict:
    """The manifest of checkpoint directory ``path``, its format checked."""
    path = Path(path)
    m = path / MANIFEST
    if not m.is_file():
        raise CheckpointError(f"{m}: no checkpoint manifest (not a checkpoint, or its first write did not finish)")
    try:
        doc = json.loads(m.read_text())
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{m}: unreadable manifest ({e})") from None
    if doc.get("format") != FORMAT:
        raise CheckpointError(f"{m}: not a cortex_gpu checkpoint (format {doc.get('format')!r})")
    if doc.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{m}: checkpoint format version {doc.get('format_version')}, this cortex_gpu "
                              f"reads version {FORMAT_VERSION}")
    return doc


def verify(path, doc: dict, ranks=None) -> None:
    """Check that every shard (or those of ``ranks``) exists with the manifest's size and sha256."""
    path = Path(path)
    for r in doc["shards"]:
        if ranks is not None and r["rank"] not in ranks:
            continue
        f = path / r["file"]
        if not f.is_file():
            raise CheckpointError(f"{f}: shard of rank {r['rank']} is missing")
        size = f.stat().st_size
        if size != r["bytes"]:
            raise CheckpointError(f"{f}: shard of rank {r['rank']} has {size} bytes, the manifest says "
                                  f"{r['bytes']} (truncated or replaced)")
        if _sha256(f) != r["sha256"]:
            raise CheckpointError(f"{f}: shard of rank {r['rank']} fails its sha256 check (damaged)")


def _load_shard(path: Path, r: dict, step: int, generators) -> RunState:
    f = path / r["file"]
    try:
        with np.load(f, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as e:  # noqa: BLE001 - a damaged zip raises many kinds
        raise CheckpointError(f"{f}: unreadable shard ({e})") from None
    return RunState.from_arrays(step, arrays, generators)


def read_checkpoint(path, *, ranks=None, check: bool = True) -> Checkpoint:
    """Read checkpoint directory ``path`` without running anything.

    Parameters
    ----------
    ranks : the ranks whose shards to read (default: every rank).
    check : verify sizes and sha256 checksums first (raises :class:`CheckpointError`).

    Returns a :class:`Checkpoint`: ``manifest`` (dict), ``parts`` (one
    :class:`RunState` per rank read) and ``state`` (the parts merged, e.g.
    ``read_checkpoint(d).state.neurons["V"]``, every neuron's V_m - E_L in
    gid order).
    """
    path = Path(path)
    doc = read_manifest(path)
    if check:
        verify(path, doc, ranks)
    parts = [_load_shard(path, r, doc["step"], doc["generators"]) for r in doc["shards"]
             if ranks is None or r["rank"] in ranks]
    return Checkpoint(path, doc, parts)


def check_compatible(path, doc: dict, net) -> None:
    """Refuse a checkpoint of another cortex_gpu version or another model, naming the manifest."""
    m = Path(path) / MANIFEST
    mine = _versions()["cortex_gpu"]
    if doc["versions"].get("cortex_gpu") != mine:
        raise CheckpointError(f"{m}: written by cortex_gpu {doc['versions'].get('cortex_gpu')}, this is {mine}: "
                              "results would not be bit for bit the same")
    if abs(doc["resolution_ms"] - net.resolution_ms) > 1e-12 * net.resolution_ms:
        raise CheckpointError(f"{m}: resolution {doc['resolution_ms']} ms, the network's is {net.resolution_ms} ms")
    if doc["model_sha256"] != model_digest(net):
        raise CheckpointError(f"{m}: checkpoint of another model (model digest {doc['model_sha256'][:12]}..., "
                              f"this network's {model_digest(net)[:12]}...)")
    if len(doc["generators"]) != len(net.generators):
        raise CheckpointError(f"{m}: {len(doc['generators'])} generators, the network has {len(net.generators)}")


def restore(path, net, **sim_kw):
    """Rebuild ``net`` as a :class:`~cortex_gpu.engine.Simulation` and load checkpoint ``path`` into it.

    ``sim_kw`` go to ``Simulation`` (backend, threads, comm, n_ranks, rank,
    partition, tile_size, ...): the layout may differ from the one that
    wrote the checkpoint. ``seed``, ``weight_dtype`` and ``post_history``
    come from the checkpoint (another value raises). Every rank reads the
    manifest and verifies its shards before any state changes; the
    generators' stored parameters are set on ``net``.
    """
    from .engine import Simulation
    path = Path(path)
    doc = read_manifest(path)
    check_compatible(path, doc, net)
    for key, stored in (("seed", doc["seed"]), ("weight_dtype", doc["weight_dtype"]),
                        ("post_history", doc["post_history"])):
        given = sim_kw.pop(key, stored)
        if given != stored and not (key == "weight_dtype" and np.dtype(given) == np.dtype(stored)):
            raise CheckpointError(f"{path / MANIFEST}: the checkpoint was taken with {key}={stored!r}, "
                                  f"not {given!r}")
    comm = sim_kw.get("comm")
    n_ranks = comm.size if comm is not None else sim_kw.get("n_ranks", 1)
    rank = comm.rank if comm is not None else sim_kw.get("rank", 0)
    from .partition import DEFAULT_TILE_SIZE
    same_layout = (n_ranks == doc["n_ranks"] and sim_kw.get("partition", "round_robin") == doc["partition"]
                   and int(sim_kw.get("tile_size", DEFAULT_TILE_SIZE)) == doc["tile_size"])
    ranks = {rank} if same_layout else None       # the own shard suffices when the layout is the same
    verify(path, doc, ranks)
    ck = read_checkpoint(path, ranks=ranks, check=False)
    sim = Simulation(net, seed=doc["seed"], weight_dtype=doc["weight_dtype"], post_history=doc["post_history"],
                     **sim_kw)
    for g, params in zip(net.generators, doc["generators"]):
        net.set_generator(g, params)
    sim._restore_state = ck.state
    sim.build()
    return sim
