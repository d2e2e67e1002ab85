"""The CUDA backend on many MPI ranks: one rank per GPU (or several sharing one), spikes exchanged once per window.

A window is ``m`` steps, ``m`` the smallest delay anywhere: a spike emitted
in window ``w`` is due no earlier than window ``w + 1``. As on the CPU
(:meth:`cortex_gpu.engine.Simulation._run_windows`), a window splits in two:

1. graph A (captured once per window length, replayed): for each step ``k``
   of the window, ``ring.cu:gather_due`` and ``deliver.cu`` add every ring
   entry due at step ``t_w + k`` to accumulator row ``k``. The host waits
   for the previous window's exchange meanwhile (I7).
2. the received spike words go to the device (host-staged: through pinned
   host buffers; CUDA-aware MPI: received straight into device memory) and
   ``exchange.cu:append_received`` puts them into the ring, noting each
   slot's count before (``q0``);
3. graph B: per step, ``exchange.cu:gather_new`` lists the received entries
   due now (``[q0, count)``), ``deliver.cu`` adds them to row ``k``,
   ``update.cu`` integrates from row ``k``, ``exchange.cu:pack_send``
   appends the step's spikes to the send words (``gid * m + k``) and
   ``ring.cu:merge_step`` puts them into the ring and the recording buffers.
   The send words go to the host (or stay on the device for CUDA-aware MPI)
   and the exchange is posted.

The deliver and update kernels are the single-rank runner's, given rows of
per-step accumulator arrays; fixed-point sums make the result independent
of which part delivered an entry, so spikes equal the CPU backend's on one
rank bit for bit (I3).

Device choice: rank ``r`` of a node uses GPU ``local_rank % n_devices``
(the local rank comes from MPI's shared-memory split, so mpiexec and srun
agree; with ``CUDA_VISIBLE_DEVICES`` set per task each rank sees one GPU).

Not built here (refused with a message, see :func:`ranks_unsupported_reason`):
plastic synapses and ``parrot_neuron`` on several ranks.
"""
from __future__ import annotations

import time
from typing import Callable

import numpy as np

from .. import profiling
from .cuda import (RING_THREADS, UPDATE_THREADS, CudaRunner, check_device_memory, device_free_bytes,
                   generator_tables)

__all__ = ["CudaWindowRunner", "ranks_unsupported_reason", "select_device", "device_note", "make_runner"]

#: Threads per block of exchange.cu:window_begin (one per step of a window).
_BEGIN_THREADS = 128


def ranks_unsupported_reason(net, n_ranks: int) -> str | None:
    """Why the cuda backend cannot run ``net`` on ``n_ranks`` > 1 ranks, or None (also for one rank)."""
    if n_ranks <= 1:
        return None
    what = []
    plastic = sorted({p.synapse_model for p in net.projections if net.is_plastic(p.synapse_model)})
    if plastic:
        what.append(f"plastic synapses ({', '.join(plastic)})")
    if any(p.model == "parrot_neuron" for p in net.populations):
        what.append("parrot_neuron")
    if not what:
        return None
    return (f"{' and '.join(what)} on several ranks are not built on the cuda backend (its spike exchange "
            f"carries static-synapse spikes only; {n_ranks} ranks asked): use --backend cpu, or one rank")


def select_device(local_rank: int, n_ranks: int = 2) -> tuple[int, int]:
    """Make GPU ``local_rank % n_devices`` this process's current CuPy device; ``(device, n_devices)``.

    Ranks of one node share out its GPUs round robin; more ranks than GPUs
    share GPUs (each rank its own context and memory). A run of one rank
    (``n_ranks == 1``) keeps the device already current, which a script may
    have chosen with ``cupy.cuda.Device(i).use()``.
    """
    import cupy
    n = int(cupy.cuda.runtime.getDeviceCount())
    if n < 1:
        raise RuntimeError("the cuda backend found no CUDA device")
    if n_ranks == 1:
        return int(cupy.cuda.Device().id), n
    dev = int(local_rank) % n
    cupy.cuda.Device(dev).use()
    return dev, n


def device_note(rank: int, n_ranks: int, local_rank: int, local_size: int, device: int, n_devices: int) -> str:
    """One line for the build report: which GPU this rank runs on, and whether ranks share it."""
    shared = -(-local_size // n_devices) if local_size > n_devices else 1
    return (f"rank {rank} of {n_ranks} (local rank {local_rank} of {local_size}) on GPU {device} of {n_devices}"
            + (f", shared by up to {shared} ranks" if shared > 1 else ""))


def make_runner(sim) -> CudaRunner:
    """The runner of a built simulation: one rank steps alone, several run windows with exchanges."""
    if sim.comm is not None and sim.comm.size > 1:
        return CudaWindowRunner(sim)
    return CudaRunner(sim)


class CudaWindowRunner(CudaRunner):
    """A built rank's state on its GPU, run in windows of ``m`` steps with spikes exchanged between ranks.

    Parameters
    ----------
    sim : the rank's :class:`~cortex_gpu.engine.Simulation`, built, with a communicator of more than
        one rank (``sim.comm``; ``mode`` 'host' or 'cuda-aware', see :mod:`cortex_gpu.comm`).
    posts_per_warp : as :class:`~cortex_gpu.backends.cuda.CudaRunner`.
    """

    def __init__(self, sim, posts_per_warp: int | None = None):
        super().__init__(sim, posts_per_warp)
        cp = self.cp
        self.comm = sim.comm
        self.m = int(sim._m)                     # the window: the smallest delay of every rank
        self.record_sources = int(sim.rank == 0)
        s = self.tables.scalars
        n = s["n"]
        self.send_cap = self.m * n
        self.cuda_aware = getattr(self.comm, "mode", "host") == "cuda-aware"
        recv_cap = 0 if self.cuda_aware else max(int(getattr(self.comm, "recv_capacity", 0)), 1)
        N = sim._N
        pre_gids = np.ascontiguousarray(sim.graph.layout.pre_gids, np.int64)
        extra = {"acc_rows_ex": N.acc_ex.reshape(-1), "acc_rows_in": N.acc_in.reshape(-1),
                 "pre_gids": pre_gids, "win_t": np.zeros(self.m, np.int64), "n_send": np.zeros(1, np.int64),
                 "send": np.zeros(max(self.send_cap, 1), np.int64),
                 "send_off": np.zeros(max(self.n_ublocks, 1), np.int32),
                 "q0": np.zeros(s["n_slots"], np.int32), "recv": np.zeros(max(recv_cap, 1), np.int64)}
        if N.acc_ex.shape != (self.m, n):
            raise RuntimeError(f"internal: accumulators of shape {N.acc_ex.shape}, expected one row per step "
                               f"of the {self.m}-step window")
        pinned_bytes = 8 * (self.send_cap + recv_cap)
        check_device_memory(sum(a.nbytes for a in extra.values()), device_free_bytes(),
                            f"the window buffers of rank {sim.rank} ({self.m} accumulator rows of {n:,} neurons)")
        with self.stream:
            for name, host in extra.items():
                self.d[name] = cp.asarray(host)
        self.stream.synchronize()
        self.device_bytes = int(sum(x.nbytes for x in self.d.values()))
        # host staging of the exchange (pinned, so that the copies run at full speed and asynchronously)
        self._send_host = self._pinned(0 if self.cuda_aware else self.send_cap)
        self._recv_host = self._pinned(recv_cap)
        self.pinned_bytes = pinned_bytes
        self._pending: tuple[int, int] | None = None       # (first step, steps) of the window in flight
        self._win_events = [cp.cuda.Event() for _ in range(4)]
        self.timings.update({"window_a_gpu_s": 0.0, "window_b_gpu_s": 0.0, "windows": 0})

    def _pinned(self, n: int) -> np.ndarray:
        """An int64 host array of ``n`` words in page-locked memory."""
        mem = self.cp.cuda.alloc_pinned_memory(max(n, 1) * 8)
        return np.frombuffer(mem, np.int64, max(n, 1))

    # ------------------------------------------------------------ the two graphs of a window
    def _row(self, k: int) -> tuple:
        """Views of accumulator row ``k`` (step ``t_w + k`` of the window)."""
        n = self.tables.scalars["n"]
        return self.d["acc_rows_ex"][k * n:(k + 1) * n], self.d["acc_rows_in"][k * n:(k + 1) * n]

    def _launch_ring_part(self, mm: int) -> None:
        """Graph A: start the window, then deliver every ring entry due at each of its ``mm`` steps."""
        d = self.d
        self._k["window_begin"]((-(-mm // _BEGIN_THREADS),), (_BEGIN_THREADS,),
                                (d["clock"], np.int32(mm), d["win_t"], d["n_send"]))
        for k in range(mm):
            self._launch_gather(d["win_t"][k:k + 1])
            self._launch_deliver(*self._row(k))

    def _launch_received_part(self, mm: int) -> None:
        """Graph B: per step, deliver the received entries due now, update, pack the send words, merge."""
        d, s = self.d, self.tables.scalars
        i32, i64 = np.int32, np.int64
        for k in range(mm):
            self._k["gather_new"]((1,), (RING_THREADS,), (
                d["clock"], d["ring_pre"], d["ring_count"], d["q0"], i32(s["n_slots"]), i32(s["cap"]), i32(s["m"]),
                i32(s["D"]), d["due_pre"], d["due_d"], d["n_due"]))
            row = self._row(k)
            self._launch_deliver(*row)
            self._launch_update(*row)
            self._k["pack_send"]((1,), (RING_THREADS,), (
                d["clock"], d["win_t"], i32(mm), i32(self.n_ublocks), i32(UPDATE_THREADS), d["blk_count"],
                d["blk_spk"], d["send_off"], d["gid"], d["send"], d["n_send"], i64(self.send_cap)))
            self._launch_merge()

    def _window_graph(self, part: str, mm: int):
        """The captured graph of part 'A' or 'B' of an ``mm``-step window (dropped when a buffer moves)."""
        key = (part, mm)
        g = self._graphs.get(key)
        if g is None:
            c0 = time.perf_counter()
            launch = self._launch_ring_part if part == "A" else self._launch_received_part
            with self.stream:
                self.stream.begin_capture()
                try:
                    launch(mm)
                finally:
                    g = self.stream.end_capture()
            self._graphs[key] = g
            self.timings["capture_s"] += time.perf_counter() - c0
        return g

    # ------------------------------------------------------------ the exchange
    def _append(self, words, m_prev: int, t_prev: int) -> None:
        """Launch append_received for ``words`` (a device array, or None for none): sets q0."""
        d, s = self.d, self.tables.scalars
        n_words = 0 if words is None else int(words.size)
        # on the runner's stream (a RawKernel launches on the current one): after graph A and the copy of
        # the received words, before graph B; the legacy null stream would order with neither
        with self.stream:
            self._k["append_received"]((1,), (RING_THREADS,), (
                d["recv"] if words is None or n_words == 0 else words, np.int32(n_words),
                np.int32(max(m_prev, 1)), np.int64(t_prev), d["pre_gids"], np.int64(d["pre_gids"].size),
                d["ring_pre"], d["ring_count"], np.int32(s["n_slots"]), np.int32(s["cap"]), d["q0"]))

    def _complete_exchange(self) -> None:
        """Wait for the last posted window's spikes and append them to the ring on the device.

        With nothing in flight, only sets ``q0`` to the slot counts, so that
        graph B delivers no entry twice.
        """
        if self._pending is None:
            self._append(None, 1, 0)
            return
        t_prev, mm = self._pending
        with self.stream:                  # a CUDA-aware wait concatenates on the device: on this stream
            words = self.comm.wait()
        self._pending = None
        n = int(words.size)
        if n == 0:
            self._append(None, mm, t_prev)
            return
        if self.cuda_aware:
            self._append(words, mm, t_prev)
            return
        if n > self.d["recv"].size:        # more than the comm's receive buffers hold: cannot happen
            raise RuntimeError(f"internal: {n} spike words received, buffers sized for {self.d['recv'].size}")
        np.copyto(self._recv_host[:n], words)
        self.d["recv"][:n].set(self._recv_host[:n], stream=self.stream)
        self._append(self.d["recv"][:n], mm, t_prev)

    def _post(self, t_w: int, mm: int) -> None:
        """Copy the window's send words out (host-staged) and post the exchange."""
        n_send = int(self.d["n_send"].get(stream=self.stream)[0])    # waits for graph B
        if n_send > self.send_cap:
            raise RuntimeError(f"internal: {n_send} spike words in a window sized for {self.send_cap}")
        if self.cuda_aware:
            send = self.d["send"][:n_send]
        else:
            send = self._send_host[:n_send]
            if n_send:
                self.d["send"][:n_send].get(stream=self.stream, out=send)
        self.comm.start(send)
        self._pending = (t_w, mm)

    def _window(self, t_w: int, mm: int) -> None:
        """One window of ``mm`` steps from ``t_w`` (``clock[0] == t_w`` on the device)."""
        T, ev, cp = self.sim.timings, self._win_events, self.cp
        clock = time.perf_counter
        c0 = clock()
        with profiling.range("deliver"):
            ev[0].record(self.stream)
            self._window_graph("A", mm).launch(self.stream)
            ev[1].record(self.stream)
        c1 = clock()
        with profiling.range("exchange"):
            self._complete_exchange()
        c2 = clock()
        with profiling.range("update"):
            ev[2].record(self.stream)
            self._window_graph("B", mm).launch(self.stream)
            ev[3].record(self.stream)
            self._post(t_w, mm)
        c3 = clock()
        if not self.sim.overlap:
            self._complete_exchange()
        c4 = clock()
        a_s, b_s = cp.cuda.get_elapsed_time(ev[0], ev[1]) * 1e-3, cp.cuda.get_elapsed_time(ev[2], ev[3]) * 1e-3
        self.timings["window_a_gpu_s"] += a_s
        self.timings["window_b_gpu_s"] += b_s
        self.timings["graph_gpu_s"] += a_s + b_s
        self.timings["graph_steps"] += mm
        self.timings["windows"] += 1
        T["deliver_ring_s"] += c1 - c0
        T["exchange_wait_s"] += c2 - c1
        T["update_s"] += c3 - c2
        T["exchange_post_s"] += c4 - c3
        T["windows"] += 1

    # ------------------------------------------------------------ the run
    def run(self, n_steps: int, progress: Callable[[float, float], None] | None = None, *,
            timed_steps: int = 0) -> None:
        """Advance by ``n_steps`` steps in windows of ``m`` (a last, shorter one when ``n_steps`` is not a
        multiple), every rank in step; updates ``sim.step``, ``sim.sim_s`` and the host state."""
        if timed_steps:
            raise NotImplementedError("timing kernel by kernel (timed_steps) runs on one rank only")
        sim = self.sim
        t_wall = time.perf_counter()
        for name, arr in generator_tables(sim._G).items():   # set_generator may have changed them
            self._put(name, arr)
        m = self.m
        per_chunk = max(self._chunk_steps() // m, 1) * m
        end = sim.step + n_steps
        chunks = []                        # (first step, steps, window length): the CPU engine's windows
        t = sim.step
        while t < end:
            span = min(end - t, per_chunk)
            mm = m if span >= m else span
            span = span // mm * mm
            chunks.append((t, span, mm))
            t += span
        self._prepare_buffers([(t0, L) for t0, L, _ in chunks], sim._sources[0])
        for t0, L, mm in chunks:
            self._load_sources(t0, L)
            self.d["clock"].set(np.array([t0, t0], np.int64), stream=self.stream)
            self.d["spk_n"].set(np.zeros(1, np.int64), stream=self.stream)
            for t_w in range(t0, t0 + L, mm):
                self._window(t_w, mm)
            c0 = time.perf_counter()
            with profiling.range("record"):
                self._flush(t0, L)
            self.timings["flush_s"] += time.perf_counter() - c0
            sim.step = t0 + L
            if progress is not None:
                progress(sim.t_ms, time.perf_counter() - t_wall)
        self._complete_exchange()          # the last window's spikes are due in the next run
        self._copy_state_back()
        sim.sim_s += time.perf_counter() - t_wall
