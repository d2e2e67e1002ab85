"""Communication between ranks: the spikes of each minimum-delay window, and a few reductions.

A rank's neurons spike; the ranks whose posts those neurons project onto
need the spikes before their delays run out. With a minimum delay of ``m``
steps, a spike emitted in window ``w`` (steps ``[w m, (w + 1) m)``) is due
no earlier than window ``w + 1``, so ranks exchange once per window and
the exchange may run while the kernels deliver older spikes (I7).

Spikes travel as int64 words ``gid * m + k`` (``k``: step inside the
window). Three communicators share one small protocol:

- :class:`LocalComm`: one rank, nothing to send.
- :class:`MPIComm` over mpi4py, host-staged: ``exchange='neighbour'``
  sends each window's spikes point to point to the ranks that hold
  synapses from this rank's neurons (the partition's rank graph), into
  receive buffers sized once for the sender's largest window;
  ``exchange='allgather'`` is the plain all-gather baseline.
- :class:`MPIComm` in mode ``cuda-aware``: the same exchanges with CuPy
  device buffers handed straight to mpi4py (``__cuda_array_interface__``),
  for the CUDA backend on an MPI library that accepts device memory.

Whether the library does is asked at start-up (:func:`mpi_cuda_support`:
mpi4py's ``MPI.Query_cuda_support`` where it has one, else the library's
own ``MPIX_Query_cuda_support``, which MPICH and Open MPI export);
``--comm auto`` then picks CUDA-aware for the CUDA backend when the answer
is yes and host-staged otherwise, and an explicit ``--comm cuda-aware``
on a library that says no fails, naming the library and its answer.
"""
from __future__ import annotations

import ctypes
import os
import sys
import time
from typing import Any

import numpy as np

__all__ = ["LocalComm", "MPIComm", "launched_by_mpi", "world", "COMM_MODES", "EXCHANGES", "abort_other_ranks",
           "mpi_cuda_support", "choose_mode"]

COMM_MODES = ("auto", "host", "cuda-aware")
EXCHANGES = ("neighbour", "allgather")

#: Environment variables that MPI launchers (MPICH/Hydra, Open MPI, PMIx, Slurm) set in every rank.
_LAUNCHER_VARS = ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS")
_SLURM_VARS = ("SLURM_NTASKS", "SLURM_PROCID")


def launched_by_mpi() -> bool:
    """Whether this process runs under mpiexec/mpirun/srun with more than one task possible.

    MPI is only initialised then, so a plain ``cortex-gpu run`` never needs
    an MPI library.
    """
    if any(v in os.environ for v in _LAUNCHER_VARS):
        return True
    # srun sets these; a batch script's own shell has them too, but with one task
    return all(v in os.environ for v in _SLURM_VARS) and os.environ.get("SLURM_STEP_ID") is not None


class LocalComm:
    """One rank: every neuron is local, there is nothing to exchange."""

    rank = 0
    size = 1
    local_rank = 0
    local_size = 1
    exchange = "none"
    mode = "host"

    def setup(self, in_ranks: np.ndarray, max_send: int) -> None:
        pass

    def start(self, send: np.ndarray) -> None:
        pass

    def wait(self) -> np.ndarray:
        return np.zeros(0, np.int64)

    def allreduce_sum(self, a: np.ndarray) -> np.ndarray:
        return np.asarray(a).copy()

    def allgather(self, obj: Any) -> list:
        return [obj]

    def bcast(self, obj: Any) -> Any:
        return obj

    def barrier(self) -> None:
        pass

    def abort(self, code: int = 1) -> None:
        raise SystemExit(code)


class MPIComm:
    """Host-staged spike exchange over mpi4py; see the module docstring.

    Parameters
    ----------
    comm : an mpi4py communicator (default ``MPI.COMM_WORLD``).
    exchange : 'neighbour' (point to point along the rank graph) or 'allgather'.
    mode : 'host' (NumPy buffers) or 'cuda-aware' (CuPy device buffers, sent and received by
        the MPI library directly; :meth:`wait` then returns a CuPy array). Settable with
        :meth:`set_mode` until :meth:`setup` sizes the buffers.

    ``local_rank``/``local_size``: this rank among the ranks of its node
    (``Split_type(COMM_TYPE_SHARED)``, so the same under mpiexec and srun);
    the CUDA backend maps it to a GPU.
    """

    _TAG = 0x5350  # "SP"

    def __init__(self, comm=None, exchange: str = "neighbour", mode: str = "host"):
        from mpi4py import MPI
        if exchange not in EXCHANGES:
            raise ValueError(f"unknown exchange '{exchange}' (known: {', '.join(EXCHANGES)})")
        self.MPI = MPI
        self.comm = comm if comm is not None else MPI.COMM_WORLD
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        node = self.comm.Split_type(MPI.COMM_TYPE_SHARED, key=self.rank)
        self.local_rank, self.local_size = node.Get_rank(), node.Get_size()
        node.Free()
        self.exchange = exchange
        self.mode = "host"
        self.mode_note = ""
        self._xp = np
        self._set_up = False
        self.set_mode(mode)
        self.sources = np.zeros(0, np.int64)
        self.targets = np.zeros(0, np.int64)
        self._pending: list = []
        self._recv: list[np.ndarray] = []
        self._counts = np.zeros(0, np.int64)
        self.wait_s = 0.0       # time spent blocked in wait(): exchange not hidden
        self.start_s = 0.0      # time spent posting the exchange
        self.n_exchanges = 0

    def set_mode(self, mode: str, note: str = "") -> None:
        """Host-staged ('host') or device buffers ('cuda-aware'); ``note`` says why (for the run's report)."""
        if mode not in ("host", "cuda-aware"):
            raise ValueError(f"comm mode must be 'host' or 'cuda-aware', got {mode!r}")
        if self._set_up and mode != self.mode:
            raise RuntimeError("the comm mode cannot change after setup() allocated the receive buffers")
        self.mode, self.mode_note = mode, note
        if mode == "cuda-aware":
            import cupy
            self._xp = cupy
        else:
            self._xp = np

    def setup(self, in_ranks: np.ndarray, max_send: int) -> None:
        """Learn the rank graph and size the receive buffers (device buffers in mode 'cuda-aware').

        ``in_ranks``: the ranks owning pre-synaptic neurons of this rank's
        synapses; ``max_send``: the most spike words this rank sends in one
        window. Every rank calls this once, collectively.
        """
        MPI = self.MPI
        need = np.zeros(self.size, np.int8)
        need[np.asarray(in_ranks, np.int64)] = 1
        need[self.rank] = 0
        # row r of the all-gathered matrix: the ranks that rank r receives from
        rows = np.empty((self.size, self.size), np.int8)
        self.comm.Allgather([need, MPI.INT8_T], [rows, MPI.INT8_T])
        self.sources = np.flatnonzero(rows[self.rank]).astype(np.int64)
        self.targets = np.flatnonzero(rows[:, self.rank]).astype(np.int64)
        caps = np.empty(self.size, np.int64)
        self.comm.Allgather([np.array([max_send], np.int64), MPI.INT64_T], [caps, MPI.INT64_T])
        self._caps = caps
        xp = self._xp
        if self.exchange == "neighbour":
            self._recv = [xp.zeros(max(int(caps[s]), 1), np.int64) for s in self.sources]
        else:
            self._recv = [xp.zeros(max(int(caps.sum()), 1), np.int64)]
        if xp is not np:
            # cupy.zeros clears on the current stream, and MPI writes device memory with no regard for any
            # stream (mpi4py: make sure the GPU buffer is ready before any MPI operation)
            xp.cuda.get_current_stream().synchronize()
        self._set_up = True

    @property
    def recv_capacity(self) -> int:
        """The most spike words one :meth:`wait` can return (after :meth:`setup`)."""
        return int(sum(b.size for b in self._recv))

    def start(self, send) -> None:
        """Post the exchange of this window's spike words (``send`` must stay untouched until wait; a
        CuPy array in mode 'cuda-aware', whose kernels have finished: MPI reads it directly)."""
        MPI = self.MPI
        t0 = time.perf_counter()
        reqs = []
        if self.exchange == "neighbour":
            for buf, src in zip(self._recv, self.sources):
                reqs.append(self.comm.Irecv([buf, MPI.INT64_T], source=int(src), tag=self._TAG))
            for dst in self.targets:
                reqs.append(self.comm.Isend([send, MPI.INT64_T], dest=int(dst), tag=self._TAG))
        else:
            counts = np.empty(self.size, np.int64)
            self.comm.Allgather([np.array([send.size], np.int64), MPI.INT64_T], [counts, MPI.INT64_T])
            displs = np.concatenate([[0], np.cumsum(counts)[:-1]])
            self._counts, self._displs = counts, displs
            reqs.append(self.comm.Iallgatherv([send, MPI.INT64_T],
                                              [self._recv[0], (counts, displs), MPI.INT64_T]))
        self._pending = reqs
        self._send = send
        self.start_s += time.perf_counter() - t0

    def wait(self):
        """Complete the posted exchange; the spike words received from other ranks (a NumPy array, or
        a CuPy array in mode 'cuda-aware')."""
        MPI, xp = self.MPI, self._xp
        t0 = time.perf_counter()
        if not self._pending:
            return xp.zeros(0, np.int64)
        if self.exchange == "neighbour":
            statuses = [MPI.Status() for _ in self._pending]
            MPI.Request.Waitall(self._pending, statuses)
            parts = [buf[:st.Get_count(MPI.INT64_T)] for buf, st in zip(self._recv, statuses)]
            out = xp.concatenate(parts) if parts else xp.zeros(0, np.int64)
        else:
            MPI.Request.Waitall(self._pending)
            r = self.rank
            total = int(self._counts.sum())
            own = slice(int(self._displs[r]), int(self._displs[r] + self._counts[r]))
            out = xp.concatenate([self._recv[0][:own.start], self._recv[0][own.stop:total]])
        self._pending = []
        self.wait_s += time.perf_counter() - t0
        self.n_exchanges += 1
        return out

    def allreduce_sum(self, a: np.ndarray) -> np.ndarray:
        a = np.ascontiguousarray(a)
        out = np.empty_like(a)
        self.comm.Allreduce(a, out, op=self.MPI.SUM)
        return out

    def allgather(self, obj: Any) -> list:
        return self.comm.allgather(obj)

    def bcast(self, obj: Any) -> Any:
        return self.comm.bcast(obj, root=0)

    def barrier(self) -> None:
        self.comm.Barrier()

    def abort(self, code: int = 1) -> None:
        sys.stderr.flush()
        sys.stdout.flush()
        self.comm.Abort(code)


def abort_other_ranks(message: str) -> None:
    """With other MPI ranks running, print ``message`` naming this rank and abort the whole job.

    Returns (doing nothing) in a single process, so the caller reports the
    error as usual. Abort makes the launcher end every rank within seconds:
    they would otherwise wait forever for this one in the next exchange.
    """
    MPI = sys.modules.get("mpi4py.MPI")
    if MPI is None or not MPI.Is_initialized() or MPI.Is_finalized():
        return
    w = MPI.COMM_WORLD
    if w.Get_size() < 2:
        return
    print(f"cortex-gpu: rank {w.Get_rank()} of {w.Get_size()} failed: {message}; aborting all ranks",
          file=sys.stderr, flush=True)
    sys.stdout.flush()
    w.Abort(1)


def _mpi_library_handles(MPI) -> list:
    """ctypes handles of the MPI shared library that mpi4py loaded (found in this process's memory
    map), then of the process's global symbols."""
    paths = []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1] if len(line.split()) >= 6 else ""
                name = os.path.basename(path)
                if name.startswith("libmpi") and ".so" in name and path not in paths:
                    paths.append(path)
    except OSError:                       # not Linux: no memory map to read
        pass
    handles = []
    for path in paths:
        try:
            handles.append(ctypes.CDLL(path))
        except OSError:
            continue
    handles.append(ctypes.CDLL(None))
    return handles


def mpi_cuda_support(MPI) -> tuple[bool, str]:
    """Whether the MPI library under mpi4py accepts CUDA device buffers, and how that was learnt.

    mpi4py's ``MPI.Query_cuda_support()`` where this mpi4py has it; else the
    library's ``MPIX_Query_cuda_support()`` (an MPICH and Open MPI extension,
    exported by their shared libraries) through ctypes, after MPI_Init, as
    both require; a library with neither is taken as not CUDA-aware.
    """
    lib = " ".join(MPI.Get_library_version().splitlines()[0].split()) if hasattr(MPI, "Get_library_version") else "MPI"
    query = getattr(MPI, "Query_cuda_support", None)
    if query is not None:
        ok = bool(query())
        return ok, f"{lib}: MPI.Query_cuda_support() = {ok}"
    for handle in _mpi_library_handles(MPI):
        fn = getattr(handle, "MPIX_Query_cuda_support", None)
        if fn is None:
            continue
        fn.restype, fn.argtypes = ctypes.c_int, []
        ok = fn() == 1
        return ok, f"{lib}: MPIX_Query_cuda_support() = {int(ok)}"
    return False, f"{lib}: neither MPI.Query_cuda_support nor MPIX_Query_cuda_support exists, so it cannot tell"


def choose_mode(mode: str, backend: str, cuda_support: tuple[bool, str]) -> tuple[str, str]:
    """The comm mode of a run with several ranks, and a note saying why.

    ``mode``: 'auto', 'host' or 'cuda-aware' (``--comm``); ``backend``: the
    backend that runs; ``cuda_support``: :func:`mpi_cuda_support`'s answer.
    'auto' picks 'cuda-aware' for the cuda backend on a CUDA-aware library,
    else 'host'; 'cuda-aware' on a library that is not raises RuntimeError.
    """
    ok, how = cuda_support
    if mode == "host":
        return "host", "host-staged (--comm host)"
    if mode == "cuda-aware":
        if backend != "cuda":
            raise ValueError("--comm cuda-aware hands device buffers to MPI and needs the cuda backend; "
                             f"this run uses the {backend} backend (use --comm host or auto)")
        if not ok:
            raise RuntimeError(f"--comm cuda-aware: the MPI library is not CUDA-aware ({how}), so it cannot "
                               "read or write GPU memory; use --comm host (or auto), or an MPI built with CUDA "
                               "support")
        return "cuda-aware", f"CUDA-aware ({how})"
    if mode != "auto":
        raise ValueError(f"unknown --comm '{mode}' (known: {', '.join(COMM_MODES)})")
    if backend != "cuda":
        return "host", f"host-staged (the {backend} backend has no device buffers)"
    if ok:
        return "cuda-aware", f"CUDA-aware ({how})"
    return "host", f"host-staged: the MPI library is not CUDA-aware ({how})"


def world(mode: str = "auto", exchange: str = "neighbour", backend: str = "cpu") -> LocalComm | MPIComm:
    """The communicator for this process: MPI when launched by an MPI launcher, else local.

    ``mode``: 'auto' (host-staged for the CPU backend; CUDA-aware for the
    CUDA backend when the library supports it, see :func:`choose_mode`),
    'host' or 'cuda-aware'. One process has nothing to exchange and gets
    :class:`LocalComm` whatever the mode.
    """
    if mode not in COMM_MODES:
        raise ValueError(f"unknown --comm '{mode}' (known: {', '.join(COMM_MODES)})")
    if exchange not in EXCHANGES:
        raise ValueError(f"unknown exchange '{exchange}' (known: {', '.join(EXCHANGES)})")
    if mode == "cuda-aware" and backend != "cuda":
        choose_mode(mode, backend, (False, ""))          # raises, naming the backend
    if not launched_by_mpi():
        return LocalComm()
    try:
        import mpi4py  # noqa: F401
    except ImportError as exc:
        raise RuntimeError("this process was started by an MPI launcher but mpi4py is not installed "
                           "(pip install 'cortex_gpu[mpi]')") from exc
    comm = MPIComm(exchange=exchange)
    if comm.size == 1:
        return LocalComm()
    if sys.excepthook is sys.__excepthook__:
        sys.excepthook = _abort_on_uncaught   # any script: one rank's error must end the job
    support = mpi_cuda_support(comm.MPI) if mode != "host" and backend == "cuda" else (False, "not asked")
    comm.set_mode(*choose_mode(mode, backend, support))
    return comm


def _abort_on_uncaught(exc_type, exc, tb) -> None:
    """An uncaught error on one rank ends every rank, naming this one (see ``abort_other_ranks``)."""
    sys.__excepthook__(exc_type, exc, tb)
    abort_other_ranks(f"{exc_type.__name__}: {exc}")
