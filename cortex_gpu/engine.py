"""The engine: build a rank's sub-graph, then run the step loop on a backend.

Each step, for every backend: deliver the spikes now due into the
post-synaptic accumulators, update the neurons exactly, collect the new
spikes, put them in the ring of recent spike lists, record. Steps run in
intervals of at most the minimum delay, the span in which no new spike is
due anywhere (I7).
"""
from __future__ import annotations

import os
import resource
import sys
import time
from dataclasses import dataclass
from typing import Callable

import numba
import numpy as np

from . import generators as gens, philox, profiling
from .backends import cpu, resolve_backend
from .build import LocalGraph, build_local
from .comm import LocalComm
from .models import NEURON_MODELS, col
from .models.synapses import synapse_rule
from .network import Network, locate
from .partition import DEFAULT_TILE_SIZE, make_partition
from .record import RECORDABLE_CODES, SpikeBuffer, StateSampler

__all__ = ["Simulation", "BuildReport", "peak_rss_mb"]

#: Steps per call into the kernels; bounds the latency of progress reports.
CHUNK_STEPS = 1000
#: weight_recorder events each worker buffers between two drains (at half full, between intervals).
WEIGHT_EVENTS_PER_WORKER = 1 << 16
#: Post spikes each neuron keeps for plastic synapses onto it (see Simulation's post_history).
POST_HISTORY = 128
#: Post spikes kept in the short ring that serves nearly every STDP update (a power of two).
SHORT_HISTORY = 8
#: NEST's default time base: tics per ms (Time's TICS_PER_MS); STDP times are computed from tics as NEST does.
TICS_PER_MS = 1000
#: Environment variable that turns the ownership check on (see Simulation's check_ownership).
CHECK_OWNERSHIP_ENV = "CORTEX_GPU_CHECK_OWNERSHIP"
#: Where ``Simulation(construction=...)`` draws the synapses.
CONSTRUCTIONS = ("auto", "device", "host")
#: Steps of generator table rows made at once (3 doubles per step and table generator).
TABLE_STEPS = 100_000


class OwnershipError(RuntimeError):
    """A kernel wrote to a post neuron or synapse that its worker does not own (ownership check mode)."""


def _kernel_layout(L) -> cpu.Layout:
    return cpu.Layout(L.seg_off, L.delay_off, L.syn_post, L.syn_weight, L.n_pre, L.max_delay, L.min_delay,
                      L.section_size, L.n_sections, L.syn_port)


def _no_layout(weight_dtype) -> cpu.Layout:
    """An empty group: the kernels return at once (same array types as a real one)."""
    return cpu.Layout(np.zeros(1, np.int64), np.zeros(0, np.uint16), np.zeros(0, np.uint16),
                      np.zeros(0, weight_dtype), 0, 1, 1, 1, 1, np.zeros(0, np.uint8))


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB (VmHWM, 1 MB = 2**20 bytes).

    Linux keeps ``ru_maxrss`` across ``execve``: a process started from a
    large one (pytest after many tests, a benchmark driver) inherits its
    parent's high-water mark. VmHWM belongs to the process's own address
    space, so it starts afresh; ``ru_maxrss`` is the fallback elsewhere.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


@dataclass
class BuildReport:
    n_neurons: int
    n_synapses: int
    bytes_per_synapse: float
    layout_bytes: int
    build_s: float
    min_delay_steps: int
    max_delay_steps: int
    device: str = ""     # the cuda backend's GPU for this rank (cuda_ranks.device_note); empty on the CPU

    def __str__(self) -> str:
        return (f"built {self.n_neurons} neurons, {self.n_synapses} synapses in {self.build_s:.2f} s; "
                f"delivery layout {self.bytes_per_synapse:.2f} bytes/synapse"
                + (f"; {self.device}" if self.device else ""))


class Simulation:
    """A network, built for one rank, and its state over time.

    Parameters
    ----------
    net : the network description.
    seed : seed of every random draw (NEST's ``rng_seed``).
    threads : CPU workers; results do not depend on it.
    backend : 'auto', 'cpu' or 'cuda'.
    n_ranks, rank, partition, tile_size : the decomposition (neurons per tile: the unit a
        partition strategy places). With ``comm`` (a
        :mod:`cortex_gpu.comm` communicator) the rank count and rank come
        from it; without, ``n_ranks > 1`` can build one rank's part (for
        inspection and planning) but not run it.
    weight_dtype : 'float32' (6 bytes per synapse) or 'float64' (exact weights)
        for static synapses; plastic synapses always keep float64 weights.
    post_history : post spikes each neuron keeps for the plastic synapses onto
        it (12 bytes each; a power of two). A pre silent while its post fired more often
        than this makes the run stop with an error saying so.
    check_ownership : check every write to a post neuron or synapse against
        the ownership map (worker ranges inside a rank, the partition across
        ranks) and abort naming the ids on a violation; default from the
        environment variable CORTEX_GPU_CHECK_OWNERSHIP=1.
    construction : where the synapses are drawn: 'device' (on the rank's GPU,
        :mod:`cortex_gpu.backends.cuda_build`; cuda backend only), 'host' (the
        CPU builder, :func:`cortex_gpu.build.build_local`) or 'auto' (the
        device on the cuda backend). Both give the same layout, bit for bit.
    """

    def __init__(self, net: Network, *, seed: int = 12345, threads: int = 1, backend: str = "cpu",
                 n_ranks: int = 1, rank: int = 0, partition: str = "round_robin",
                 weight_dtype: str = "float32", section_size: int | None = None, comm=None,
                 post_history: int = POST_HISTORY, check_ownership: bool | None = None,
                 tile_size: int = DEFAULT_TILE_SIZE, construction: str = "auto"):
        if not 0 <= int(seed) < 2 ** 32:
            raise ValueError(f"seed must be in [0, 2**32), got {seed}")
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        if weight_dtype not in ("float32", "float64"):
            raise ValueError(f"weight_dtype must be 'float32' or 'float64', got {weight_dtype!r}")
        self.net = net
        self.seed = int(seed)
        self.threads = int(threads)
        self.backend = resolve_backend(backend)
        if comm is not None:
            n_ranks, rank = comm.size, comm.rank
        if not 0 <= rank < n_ranks:
            raise ValueError(f"rank {rank} outside 0..{n_ranks - 1}")
        self.comm = comm if comm is not None else (LocalComm() if n_ranks == 1 else None)
        self.partition = make_partition(net, n_ranks, partition, tile_size=tile_size)
        self.rank = rank
        self.n_ranks = n_ranks
        self.tile_size = int(tile_size)
        if check_ownership is None:
            check_ownership = os.environ.get(CHECK_OWNERSHIP_ENV, "0") not in ("", "0")
        self.check_ownership = bool(check_ownership)
        if construction not in CONSTRUCTIONS:
            raise ValueError(f"construction must be one of {', '.join(CONSTRUCTIONS)}, got {construction!r}")
        if self.backend == "cuda":
            self._check_cuda_supported(backend)
        if construction == "device" and self.backend != "cuda":
            raise ValueError(f"construction='device' draws the synapses on the GPU: it needs the cuda backend, "
                             f"not {self.backend}")
        #: 'device' or 'host': where build() draws the synapses
        if construction == "auto":
            construction = "device" if self.backend == "cuda" else "host"
        self.construction = construction
        if self.backend != "cuda" and getattr(self.comm, "mode", "host") == "cuda-aware":
            self.comm.set_mode("host", f"host-staged (the model runs on the {self.backend} backend)")
        self.device = ""
        self.overlap = True
        self.weight_dtype = np.dtype(weight_dtype)
        self.section_size = section_size
        if int(post_history) < 2 or int(post_history) & (int(post_history) - 1):
            raise ValueError(f"post_history must be a power of two >= 2, got {post_history}")
        self.post_history = int(post_history)
        self.graph: LocalGraph | None = None
        self.step = 0
        self.sim_s = 0.0
        #: a RunState that build() loads before the backend copies the state to its device (Simulation.restore)
        self._restore_state = None
        #: whether set_weights changed static weights, which a checkpoint cannot hold (they are redrawn)
        self._static_weights_set = False

    @property
    def h(self) -> float:
        return self.net.resolution_ms

    @property
    def t_ms(self) -> float:
        """Model time reached, in ms."""
        return self.step * self.h

    def _check_cuda_supported(self, requested: str) -> None:
        """Models the cuda backend cannot run raise; with backend 'auto' they run on the CPU instead."""
        from .backends.cuda import unsupported_reason
        why = unsupported_reason(self.net, self.n_ranks, self.check_ownership)
        if why is None:
            return
        if requested != "auto":
            raise NotImplementedError(why)
        print(f"cortex-gpu: note: {why}; running on the CPU", file=sys.stderr)
        self.backend = "cpu"

    # ------------------------------------------------------------------ build
    def build(self) -> BuildReport:
        """Draw this rank's synapses and set up state, drives and recorders."""
        if self.graph is not None:
            return self.report
        with profiling.range("build"):
            return self._build()

    def _build(self) -> BuildReport:
        t_start = time.perf_counter()
        if self.backend == "cuda":   # a model too large for the GPU fails here, before anything is drawn (I8)
            from .backends.cuda import precheck_device_memory
            from .backends.cuda_ranks import device_note, select_device
            comm = self.comm if self.comm is not None else LocalComm()
            dev, n_dev = select_device(comm.local_rank, self.n_ranks)
            self.device = device_note(self.rank, self.n_ranks, comm.local_rank, comm.local_size, dev, n_dev)
            precheck_device_memory(self.net, self.weight_dtype, self.post_history, self.n_ranks, self.rank,
                                   self.partition.strategy)
        self._set_threads()
        if self.construction == "device":
            from .backends.cuda_build import build_local_device
            with profiling.range("construct"):
                g = build_local_device(self.net, self.partition, self.rank, self.seed,
                                       weight_dtype=self.weight_dtype, section_size=self.section_size)
        else:
            g = build_local(self.net, self.partition, self.rank, self.seed, n_workers=self.threads,
                            weight_dtype=self.weight_dtype, section_size=self.section_size)
        self.graph = g
        L = g.layout
        nt = g.neurons
        n = nt.gids.size
        self._Y = cpu.Synapses(_kernel_layout(L),
                               _kernel_layout(g.count_layout) if g.count_layout else _no_layout(self.weight_dtype),
                               _kernel_layout(g.plastic_layout) if g.plastic_layout else _no_layout(np.float64))
        self._L = self._Y.static
        self._m = self._window(g.layouts)
        # a parrot's spike of multiplicity c is recorded c times (as NEST records it): room per step
        self._rec_extra = (cpu.PARROT_MAX_COPIES - 1) * int(np.count_nonzero(nt.kind == cpu.PARROT))
        el = nt.prop[:, cpu.EL]
        zeros = np.zeros(n)
        # neurons with equal model, propagators and refractory steps share one parameter set
        table = np.ascontiguousarray(np.column_stack([nt.prop, nt.kind.astype(float), nt.refr_steps.astype(float)]))
        # rows compared as raw bytes: np.unique(axis=0) sorts column by column, ~0.5 s for PD14
        rows = table.view(np.dtype((np.void, table.dtype.itemsize * table.shape[1]))).ravel()
        _, first, pset = np.unique(rows, return_index=True, return_inverse=True)
        sets = table[first]
        n_prop = nt.prop.shape[1]
        self._N = cpu.Neurons(nt.gids, pset.ravel().astype(np.int32), np.ascontiguousarray(sets[:, :n_prop]),
                              sets[:, n_prop].astype(np.int8), sets[:, n_prop + 1].astype(np.int32), nt.V_m - el,
                              nt.I_syn_ex.copy(), nt.I_syn_in.copy(), nt.dI_ex.copy(), nt.dI_in.copy(),
                              zeros.copy(), zeros.copy(), np.zeros(n, np.int32),
                              *self._accumulators(n), np.zeros(n, np.int64), np.full(n, self.h), nt.w.copy(),
                              nt.rx_off, nt.rx_prop, np.zeros(nt.rx_prop.shape[0]), np.zeros(nt.rx_prop.shape[0]),
                              self._accumulators(nt.rx_prop.shape[0])[0])
        self._G = self._drives(nt.gids)
        self._spikes = SpikeBuffer.for_network(self.net, nt.gids)
        self._sources = self._source_schedule()
        self._sources_rec = locate(self._spikes.rec_sources, self._sources[1])[1]   # per emission: recorded?
        n_slots = max(lay.max_delay for lay in g.layouts) + 1
        # room for every pre's spike, the spike sources' and the copies parrots repeat
        parrot_pres = int(np.isin(self.net.population_of(L.pre_gids), self._parrot_populations()).sum())
        cap = max(L.n_pre + self._sources[3] + (cpu.PARROT_MAX_COPIES - 1) * parrot_pres, 1)
        plastic = g.plastic_layout is not None
        self._R = cpu.Ring(np.zeros((n_slots, cap), np.int32), np.zeros(n_slots, np.int64),
                           np.zeros((n_slots, cap) if plastic else (0, 0)),
                           np.zeros((n_slots, cap) if plastic else (0, 0), np.int64))
        self._pre_of_local = L.pre_index[nt.gids].astype(np.int64)
        self._sampler = StateSampler.for_network(self.net, nt.gids)
        self._lo, self._hi = self._worker_ranges()
        self._S = self._stdp_state(plastic, L.n_pre, nt)
        self._weight_events: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self._O = self._ownership()
        self._q0 = np.zeros(n_slots, np.int64)      # first ring entry to deliver, per slot
        self._q_all = np.zeros(n_slots, np.int64)   # every entry
        self._pending = None                        # (first step, steps) of the window in flight
        self.timings = {"deliver_ring_s": 0.0, "exchange_wait_s": 0.0, "update_s": 0.0,
                        "exchange_post_s": 0.0, "windows": 0}
        self._setup_exchange()
        if self._restore_state is not None:
            from .runstate import apply
            apply(self, self._restore_state)
            self._restore_state = None
        if self.backend == "cuda":
            from .backends.cuda_ranks import make_runner
            if self.rank == 0 and self.construction == "host":
                print("cortex-gpu: cuda backend: synapses drawn on the host (construction='host'), layout "
                      "copied to the GPU", file=sys.stderr)
            self._cuda = make_runner(self)
        # the whole construction: synapses, neurons, drives, ring and recorders
        n_syn = g.n_synapses
        self.report = BuildReport(n, n_syn, g.layout_bytes / max(n_syn, 1), g.layout_bytes,
                                  time.perf_counter() - t_start, self._m,
                                  max(lay.max_delay for lay in g.layouts), self.device)
        return self.report

    def _parrot_populations(self) -> np.ndarray:
        return np.array([i for i, p in enumerate(self.net.populations) if p.model == "parrot_neuron"], np.int64)

    def _stdp_state(self, plastic: bool, n_pre: int, nt) -> cpu.Stdp:
        """The plastic model's parameters and the pre and post traces (empty without plastic synapses)."""
        n_workers = self._lo.size
        err = np.zeros((n_workers, 4), np.int64)
        if not plastic:
            return cpu.Stdp(0.0, 0.0, 0.0, 0.0, 0.0, 0, 0.0, np.zeros(0), np.zeros(0, np.int64),
                            np.zeros((0, 2), np.int32), np.zeros((0, 2)), np.zeros(0, np.int64),
                            np.zeros((0, 2), np.int32), np.zeros((0, 2)), np.zeros(0), err,
                            0, 1.0, 0.0, 0.0, 1.0, *self._weight_buffers(False))
        name, par = self.net.plastic_model()
        rule = synapse_rule(self.net.base_synapse_model(name))
        tics_per_step = int(round(self.h * TICS_PER_MS))
        if abs(tics_per_step / TICS_PER_MS - self.h) > 1e-12 * self.h:
            raise NotImplementedError(f"plastic synapses need a resolution that is a whole number of "
                                      f"{1000 // TICS_PER_MS} us tics, got {self.h} ms")
        n, H = nt.gids.size, self.post_history
        K = min(SHORT_HISTORY, H)
        return cpu.Stdp(par["lambda"], par["alpha"], par.get("mu", 0.0), 1.0 / par["tau_plus"], 1.0 / TICS_PER_MS,
                        tics_per_step, tics_per_step / TICS_PER_MS, np.zeros(n_pre), np.zeros(n_pre, np.int64),
                        np.zeros((n, H), np.int32), np.zeros((n, H)), np.zeros(n, np.int64),
                        np.zeros((n, K), np.int32), np.zeros((n, K)), 1.0 / nt.prop[:, col("tau_minus")], err,
                        rule, par["tau_plus"], par.get("mu_plus", 0.0), par.get("mu_minus", 0.0),
                        par.get("Wmax", 1.0), *self._weight_buffers(self.net.weights_recorded(name)))

    def _weight_buffers(self, recording: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The weight_recorder's per-worker buffers (cpu.Stdp ``wr_rec``, ``wr_w``, ``wr_n``); width 0 when
        no weight_recorder records the plastic model."""
        n_workers, cap = self._lo.size, (WEIGHT_EVENTS_PER_WORKER if recording else 0)
        return (np.zeros((n_workers, cap, 3), np.int64), np.zeros((n_workers, cap)), np.zeros(n_workers, np.int64))

    def _drain_weight_events(self) -> None:
        """Move the kernels' weight_recorder events into ``_weight_events`` (gids, ms) and empty the buffers."""
        S = self._S
        if S.wr_w.shape[1] == 0 or not S.wr_n.any():
            return
        pre_gids = self.graph.plastic_layout.pre_gids
        gids = self.graph.neurons.gids
        for w in range(S.wr_n.size):
            n = int(S.wr_n[w])
            rec = S.wr_rec[w, :n]
            self._weight_events.append((pre_gids[rec[:, 0]], gids[rec[:, 1]], rec[:, 2].copy(),
                                        S.wr_w[w, :n].copy()))
        S.wr_n[:] = 0

    def weight_events(self) -> dict[str, np.ndarray]:
        """weight_recorder events so far, as NEST's: ``senders`` (pre gids), ``targets`` (post gids), ``times``
        (ms, the pre spike's time) and ``weights`` (after the update), sorted by time, sender, target.

        An event is recorded when the spike reaches the synapse after its delay (NEST: when the spike is
        handed to the synapse, one min-delay slice after emission), so events of spikes in flight at the
        end of a run come with the next run (issue 16 item 6)."""
        self.build()
        self._drain_weight_events()
        parts = self._weight_events or [(np.zeros(0, np.int64),) * 3 + (np.zeros(0),)]
        s, t, stamp, w = (np.concatenate(x) for x in zip(*parts))
        order = np.lexsort((t, s, stamp))
        return {"senders": s[order], "targets": t[order], "times": stamp[order] * self.h, "weights": w[order]}

    def _ownership(self) -> cpu.Own:
        """The ownership map the check mode tests writes against (empty: no check).

        Inside a rank, worker w owns the posts ``[lo[w], hi[w])``; across ranks,
        the partition owns each gid: checked here once, for every local neuron
        and every synapse's post, before any kernel runs.
        """
        n_workers = self._lo.size
        err = np.zeros((n_workers, 4), np.int64)
        if not self.check_ownership:
            return cpu.Own(np.zeros(0, np.int32), err)
        g = self.graph
        local = g.neurons.gids
        owner_rank = self.partition.owner(local)
        if np.any(owner_rank != self.rank):
            bad = local[owner_rank != self.rank][0]
            raise OwnershipError(f"rank {self.rank} holds neuron {bad}, which the partition gives to rank "
                                 f"{self.partition.owner(np.array([bad]))[0]}")
        for lay in g.layouts:
            lay.fetch_host()
            posts = (np.repeat(np.arange(lay.seg_off.size - 1) // max(lay.n_pre, 1), np.diff(lay.seg_off))
                     * lay.section_size + lay.syn_post)
            if posts.size and posts.max() >= local.size:
                k = int(np.argmax(posts >= local.size))
                raise OwnershipError(f"rank {self.rank}: synapse {k} targets local index {posts[k]}, beyond its "
                                     f"{local.size} neurons")
        owner = np.full(local.size, -1, np.int32)
        for w in range(n_workers):
            owner[self._lo[w]:self._hi[w]] = w
        return cpu.Own(owner, err)

    def _check_errors(self) -> None:
        """Raise for what the kernels recorded: an ownership violation or a lost post history."""
        if not (self._O.err[:, 0].any() or self._S.err[:, 0].any()):
            return
        gids = self.graph.neurons.gids
        for w, (flag, i, k, t) in enumerate(self._O.err):
            if flag:
                what = f"synapse {k} onto" if k >= 0 else "the state or input of"
                raise OwnershipError(f"rank {self.rank}: worker {w} wrote {what} neuron {gids[i]} at step {t}, "
                                     f"but neuron {gids[i]} belongs to worker {self._O.owner[i]}")
        for w, (flag, i, stamp, _) in enumerate(self._S.err):
            if flag == 2:
                raise RuntimeError(f"weight_recorder: more than {WEIGHT_EVENTS_PER_WORKER // 2} weight events of "
                                   f"one worker in one interval (at {stamp * self.h:g} ms, onto neuron {gids[i]}); "
                                   "raise cortex_gpu.engine.WEIGHT_EVENTS_PER_WORKER")
            if flag:
                raise RuntimeError(f"neuron {gids[i]} spiked more than post_history={self.post_history} times "
                                   f"since the previous spike of one of its plastic synapses' pres (checked at "
                                   f"{stamp * self.h:g} ms); the STDP update needs all of them: raise post_history")

    def _window(self, layouts) -> int:
        """Steps per window: the smallest delay anywhere, so that no spike is due in its own window.

        With several ranks every rank must use the same window, so the
        global minimum is agreed on.
        """
        m = min((L.min_delay for L in layouts if L.n_synapses), default=10 ** 9)
        if self.comm is not None and self.comm.size > 1:
            m = min(self.comm.allgather(m))
        return m if m < 10 ** 9 else 10

    def _accumulators(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Fixed-point input accumulators: one row, or one row per step of a window with other ranks."""
        rows = self._m if self.n_ranks > 1 else 1
        return np.zeros((rows, n), np.int64), np.zeros((rows, n), np.int64)

    def _setup_exchange(self) -> None:
        """Tell the communicator which ranks this rank listens to, and how much it may send."""
        comm = self.comm
        if comm is None or comm.size == 1:
            return
        L = self.graph.layout
        owners = self.partition.owner(L.pre_gids)
        in_ranks = np.unique(owners[(owners >= 0) & (owners != self.rank)])
        nt = self.graph.neurons
        n_local = nt.gids.size
        n_parrots = int(np.count_nonzero(nt.kind == cpu.PARROT))
        max_send = (n_local + (cpu.PARROT_MAX_COPIES - 1) * n_parrots) * self._m
        self._send = np.zeros(max(max_send, 1), np.int64)
        comm.setup(in_ranks, max_send)
        self._remote_pre = int(np.count_nonzero((owners >= 0) & (owners != self.rank)))

    def _set_threads(self) -> None:
        if self.threads > numba.config.NUMBA_NUM_THREADS:
            raise ValueError(f"threads={self.threads} exceeds the {numba.config.NUMBA_NUM_THREADS} threads "
                             "Numba was started with (set NUMBA_NUM_THREADS)")
        numba.set_num_threads(self.threads)

    def _worker_ranges(self) -> tuple[np.ndarray, np.ndarray]:
        """Contiguous post ranges of about equal work (incoming synapses plus a per-neuron cost)."""
        n = self.graph.neurons.gids.size
        cost = self.graph.indegree.astype(float) + 64.0
        cum = np.cumsum(cost)
        cuts = np.searchsorted(cum, cum[-1] * np.arange(1, self.threads) / self.threads) if n else []
        bounds = np.concatenate([[0], np.asarray(cuts, np.int64), [n]])
        return bounds[:-1].astype(np.int64), bounds[1:].astype(np.int64)

    def _drives(self, local: np.ndarray) -> cpu.Drives:
        """Generator entries grouped by connection, and the generator table (see ``cpu.Drives``)."""
        net, h = self.net, self.h
        gens_ = net.generators
        kind = np.array([gens.kind_of(g) for g in gens_], np.int64)
        n_gen = len(gens_)
        value, start, stop = np.zeros(n_gen), np.zeros(n_gen, np.int64), np.zeros(n_gen, np.int64)
        cdf_lo = np.zeros(n_gen, np.int64)
        self._cdf_parts: list[np.ndarray] = [np.zeros(0)] * n_gen
        self._emitters = [gens.make_emitter(g, h, self.seed) for g in gens_]
        self._update_generators(gens_, value, start, stop)
        c_gen, c_delay, c_key, c_ptr = [], [], [], [0]
        e_local, e_weight, e_port = [], [], []
        parrot = self.graph.neurons.kind == cpu.PARROT
        for d in net.drives:   # in connection order: dc currents are summed in this order
            pos, ok = locate(local, d.targets)
            order = np.argsort(pos[ok], kind="stable")
            e_local.append(pos[ok][order])
            # a parrot counts arriving spikes as -1.0 in acc_in, whatever their weight (NEST ignores it)
            e_weight.append(np.where(parrot[pos[ok][order]], -1.0, d.weight[ok][order]))
            e_port.append(np.full(order.size, d.receptor_type, np.int64))
            c_gen.append(d.generator.id)
            c_delay.append(int(np.floor(d.delay_ms / h + 0.5)))
            c_key.append(d.id)
            c_ptr.append(c_ptr[-1] + int(ok.sum()))
        # emission steps a run reads before its first step: the generator's longest delay
        self._tab_depth = np.ones(n_gen, np.int64)
        for g, dl in zip(c_gen, c_delay):
            self._tab_depth[g] = max(self._tab_depth[g], dl)
        self._tab_tail = [np.zeros((int(self._tab_depth[g.id]), gens.ROW)) for g in gens_]
        cat = lambda parts, dt: np.concatenate(parts).astype(dt) if parts else np.zeros(0, dt)  # noqa: E731
        el = cat(e_local, np.int64)
        weight = cat(e_weight, np.float64)
        currents = any(kind[d.generator.id] in gens.CURRENT_KINDS for d in net.drives)
        return cpu.Drives(np.array(c_gen, np.int64), np.array(c_delay, np.int64), np.array(c_key, np.int64),
                          np.array(c_ptr, np.int64), el, local[el].astype(np.int64), weight,
                          np.rint(weight * cpu.FIXED_ONE).astype(np.int64), kind, value, cdf_lo,
                          *self._cdf_flat(cdf_lo), start, stop, currents, np.zeros(0), np.zeros(n_gen, np.int64),
                          cat(e_port, np.int64))

    def _fill_tables(self, t0: int, t1: int, pre_run: bool) -> None:
        """The table generators' rows for emission steps ``[t0 - depth, t1)``: those before ``t0`` kept
        from the last run (already emitted), the rest emitted now (``pre_run``: NEST's pre_run_hook first)."""
        parts, lo = [], np.zeros(len(self._emitters), np.int64)
        at = 0
        for g, em in enumerate(self._emitters):
            if em is None:
                continue
            D = int(self._tab_depth[g])
            rows = np.empty((D + t1 - t0, gens.ROW))
            rows[:D] = self._tab_tail[g]
            if pre_run:
                em.pre_run(t0)
            em.emit(t0, t1, rows[D:])
            self._tab_tail[g] = rows[-D:].copy()
            lo[g] = at - gens.ROW * (t0 - D)        # row of step s at lo[g] + ROW * s
            parts.append(rows.ravel())
            at += rows.size
        if parts:
            self._G = self._G._replace(tab=np.concatenate(parts), g_tab_lo=lo)

    def _cdf_flat(self, lo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The generators' Poisson CDF tables concatenated (setting where each starts in ``lo``)
        and their guide tables, generator ``g``'s at ``g * GUIDE_SIZE``."""
        sizes = np.array([c.size for c in self._cdf_parts], np.int64)
        lo[:] = np.cumsum(sizes) - sizes
        if not self._cdf_parts:
            return np.zeros(0), np.zeros(0, np.int64)
        guides = [philox.guide_table(c) if c.size else np.zeros(philox.GUIDE_SIZE, np.int64)
                  for c in self._cdf_parts]
        return np.concatenate(self._cdf_parts), np.concatenate(guides)

    def _update_generators(self, gens_, value, start, stop) -> None:
        h = self.h
        for g in gens_:
            p = g.params
            if g.model == "poisson_generator":
                value[g.id] = p["rate"] * h * 1e-3   # expected spikes per step
                self._cdf_parts[g.id] = philox.poisson_cdf(value[g.id])
            elif g.model == "dc_generator":
                value[g.id] = p["amplitude"]
            else:
                self._emitters[g.id].set_params()
            # NEST's activity window (generators.active_steps): a current generator emits in steps
            # t_min - 1 .. t_max - 2 (none before step 0), a spike generator in t_min + 1 .. t_max
            start[g.id], stop[g.id] = gens.active_steps(g, h)

    def set_generator(self, gen_id: int, params: dict[str, float]) -> None:
        """Change a generator's parameters between runs (NEST's SetStatus on a generator)."""
        g = self.net.generators[gen_id]
        self.net.set_generator(g, params)
        if self.graph is not None:
            G = self._G
            self._update_generators([g], G.g_value, G.g_start, G.g_stop)
            cdf, guide = self._cdf_flat(G.g_cdf_lo)
            self._G = G._replace(cdf=cdf, guide=guide)

    def _source_schedule(self):
        """Emission steps of every spike source, sorted by step: (steps, gids, pre index, max per step)."""
        steps, gids = [], []
        for pop in self.net.populations:
            if not pop.is_source:
                continue
            for k, times in enumerate(pop.spike_times_ms):
                s = np.rint(np.asarray(times) / self.h).astype(np.int64) - 1
                s = s[s >= 0]
                steps.append(s)
                gids.append(np.full(s.size, pop.first + k, np.int64))
        if not steps:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64), 0
        s = np.concatenate(steps)
        g = np.concatenate(gids)
        order = np.lexsort((g, s))
        s, g = s[order], g[order]
        pre = self.graph.layout.pre_index[g].astype(np.int64)
        per_step = np.bincount(s).max() if s.size else 0
        return s, g, pre, int(per_step)

    # -------------------------------------------------------------------- run
    def run(self, t_ms: float, progress: Callable[[float, float], None] | None = None) -> None:
        """Advance by ``t_ms`` (a multiple of the resolution), continuing from the current state."""
        steps = t_ms / self.h
        n_steps = int(round(steps))
        if t_ms < 0 or abs(steps - n_steps) > 1e-9 * max(1.0, steps):
            raise ValueError(f"simulation time {t_ms} ms must be a non-negative multiple of the "
                             f"resolution {self.h} ms")
        self.build()
        if self.comm is None:
            raise RuntimeError(f"rank {self.rank} of {self.n_ranks} was built without a communicator and can "
                               "only be inspected; run it under mpiexec with comm=cortex_gpu.comm.world()")
        if any(em is not None for em in self._emitters):
            # table generators: their rows in pieces of at most TABLE_STEPS steps (NEST's pre_run_hook once)
            end = self.step + n_steps
            first = True
            while self.step < end or first:
                t1 = min(end, self.step + TABLE_STEPS)
                self._fill_tables(self.step, t1, first)
                first = False
                self._run_steps(t1 - self.step, progress)
            return
        self._run_steps(n_steps, progress)

    def _run_steps(self, n_steps: int, progress: Callable[[float, float], None] | None) -> None:
        if self.backend == "cuda":
            self._cuda.run(n_steps, progress)   # advances self.step and self.sim_s
            return
        self._set_threads()
        t_wall = time.perf_counter()
        end = self.step + n_steps
        if self._S.hist_n.size and end >= 2 ** 31:
            raise ValueError(f"plastic synapses keep post spike stamps in 32 bits: at most {2 ** 31 - 1} steps")
        m = self._m
        n_workers = self._lo.size
        wk_spikes = np.zeros((n_workers, m, max(int((self._hi - self._lo).max(initial=0)), 1)), np.int32)
        wk_mult = np.zeros_like(wk_spikes)   # a parrot's multiplicity beside its entry in wk_spikes
        wk_count = np.zeros((n_workers, m), np.int64)
        src_s, src_g, src_p, src_max = self._sources
        src_r = self._sources_rec
        while self.step < end:
            span = min(end - self.step, max(CHUNK_STEPS // m, 1) * m)
            mm = m if span >= m else span
            n_iv = span // mm
            span = n_iv * mm
            t0 = self.step
            a, b = np.searchsorted(src_s, [t0, t0 + span])
            src_ptr = np.searchsorted(src_s[a:b], np.arange(t0, t0 + span + 1)).astype(np.int64)
            mm_buf = self._sampler.buffer(span)
            done = 0
            if self.comm.size > 1:
                self._run_windows(t0, n_iv, mm, src_ptr, src_p[a:b], src_g[a:b], src_r[a:b], mm_buf, wk_spikes,
                                  wk_mult, wk_count, src_max)
                done = n_iv
            while done < n_iv:
                self._spikes.reserve(2 * mm * (self._N.V.size + self._rec_extra + src_max + 1))
                rec = cpu.Recording(self._spikes.rec_local, self._spikes.gid, self._spikes.step,
                                    self._spikes.n, self._sampler.local, self._sampler.var, mm_buf)
                t_start = t0 + done * mm
                sp = src_ptr[done * mm:] - src_ptr[done * mm]
                e0 = a + src_ptr[done * mm]
                profiling.push("deliver+update")
                k = cpu.run_intervals(t_start, n_iv - done, mm, self.seed, self._lo, self._hi, *self._Y,
                                      self._N, self._G, self._R, self._S, self._O, self._q_all, self._pre_of_local, sp,
                                      src_p[e0:b], src_g[e0:b], src_r[e0:b], rec, wk_spikes, wk_mult, wk_count,
                                      self._rec_extra)
                profiling.pop()
                done += k
                self._check_errors()
                self._drain_weight_events()
            if self._sampler.local.size:
                profiling.push("record")
                self._sampler.collect(mm_buf, t0, span)
                profiling.pop()
            self.step = t0 + span
            if progress is not None:
                progress(self.t_ms, time.perf_counter() - t_wall)
        self._complete_exchange()
        self.sim_s += time.perf_counter() - t_wall

    def _run_windows(self, t0, n_windows, mm, src_ptr, src_pre, src_gid, src_rec, mm_buf, wk_spikes, wk_mult,
                     wk_count, src_max) -> None:
        """Windows of ``mm`` steps from ``t0`` with other ranks, the exchange overlapped (I7).

        Per window: deliver what is already in the ring (the exchange of the
        last window's spikes still in flight), complete that exchange and
        deliver what it brought, drive, update, merge, and post this
        window's spikes. Without overlap (``self.overlap`` False) the
        exchange completes as soon as it is posted, which measures its whole
        cost.
        """
        T = self.timings
        N, R, Y, S, O = self._N, self._R, self._Y, self._S, self._O
        clock = time.perf_counter
        n_local = N.V.size
        for j in range(n_windows):
            t_w = t0 + j * mm
            c0 = clock()
            profiling.push("deliver")
            cpu.deliver_window(t_w, mm, self._lo, self._hi, *Y, R, self._q_all, N.acc_ex, N.acc_in, S, O, N.rx_off,
                               N.acc_rx)
            c1 = clock()
            profiling.swap("exchange")
            self._complete_exchange()
            c2 = clock()
            self._spikes.reserve(mm * (n_local + self._rec_extra + src_max + 1))
            rec = cpu.Recording(self._spikes.rec_local, self._spikes.gid, self._spikes.step, self._spikes.n,
                                self._sampler.local, self._sampler.var, mm_buf)
            profiling.swap("update")
            n_send = cpu.finish_window(t_w, mm, self.seed, self._lo, self._hi, *Y, N, self._G, R, S, O, self._q0,
                                       self._pre_of_local, src_ptr, src_pre, src_gid, src_rec, rec, t0, wk_spikes,
                                       wk_mult, wk_count, self.rank == 0, self._send)
            profiling.pop()
            c3 = clock()
            self._check_errors()
            self._drain_weight_events()
            self.comm.start(self._send[:n_send])
            self._pending = (t_w, mm)
            if not self.overlap:
                self._complete_exchange()
            c4 = clock()
            T["deliver_ring_s"] += c1 - c0
            T["exchange_wait_s"] += c2 - c1
            T["update_s"] += c3 - c2
            T["exchange_post_s"] += c4 - c3
            T["windows"] += 1

    def _complete_exchange(self) -> None:
        """Wait for the spikes of the last posted window and put them in the ring.

        Sets ``_q0`` so that the next delivery reads only the received entries.
        """
        R = self._R
        if self._pending is None:
            self._q0[:] = R.count
            return
        t_prev, mm = self._pending
        words = self.comm.wait()
        self._pending = None
        P = self.graph.layout.pre_index
        cpu.append_received(words, mm, t_prev, P.keys, P.vals, P.shift, P.base, R, self._S, self._q0)

    # --------------------------------------------------------------- results
    def spike_events(self, rec) -> dict[str, np.ndarray]:
        """``senders`` (gids) and ``times`` (ms) recorded by spike recorder ``rec``."""
        return self._spikes.events(rec, self.h)

    def all_spikes(self) -> tuple[np.ndarray, np.ndarray]:
        """(gids, steps) of every recorded spike in recording order."""
        n = int(self._spikes.n[0])
        return self._spikes.gid[:n].copy(), self._spikes.step[:n].copy()

    @property
    def local_gids(self) -> np.ndarray:
        """Gids of this rank's neurons, in the order of :meth:`state` and :meth:`spike_counts`."""
        self.build()
        return self.graph.neurons.gids

    def spike_counts(self) -> np.ndarray:
        """Spikes emitted so far by each local neuron (int64), recorded or not.

        Counting costs nothing measurable (the serial merge touches only the
        step's spikes), so timing runs without recording still give rates.
        """
        self.build()
        return self._N.n_spikes.copy()

    def multimeter_events(self, mm) -> dict[str, np.ndarray]:
        return self._sampler.events(mm, self.h)

    def connections(self) -> dict[str, np.ndarray]:
        """Every local synapse: ``source``, ``target`` (gids), ``weight`` (pA; nS onto iaf_cond_exp; the
        current weight of plastic synapses), ``delay`` (ms) and ``synapse_model`` (the plastic model's
        name for plastic synapses, ``static_synapse`` for every other)."""
        self.build()
        g = self.graph
        plastic = self.net.plastic_model()
        parts = []
        for lay, name in ((g.layout, "static_synapse"), (g.count_layout, "static_synapse"),
                          (g.plastic_layout, plastic[0] if plastic else "")):
            if lay is None:
                continue
            s = lay.synapses(g.neurons.gids)
            s["synapse_model"] = np.full(s["source"].size, name, dtype=object)
            parts.append(s)
        out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        return {"source": out["source"], "target": out["target"], "weight": out["weight"],
                "delay": out["delay_steps"] * self.h, "synapse_model": out["synapse_model"]}

    def set_weights(self, index: np.ndarray, weight: np.ndarray) -> None:
        """Change the weights of built synapses: ``index`` are positions in the order of :meth:`connections`.

        The next :meth:`run` delivers with the new values (stored in the
        layout's weight type, as built weights are). Static and plastic
        synapses alike; a plastic synapse's weight then evolves from the new
        value.

        Raises
        ------
        NotImplementedError
            On the cuda backend, whose layout lives on the device.
        ValueError
            For positions out of range or weights that are not finite.
        """
        self.build()
        if self.backend == "cuda":
            raise NotImplementedError("changing the weights of built connections (SynapseCollection.set) is "
                                      "not supported on the cuda backend")
        index = np.asarray(index, np.int64).ravel()
        weight = np.broadcast_to(np.asarray(weight, np.float64), index.shape)
        if not np.all(np.isfinite(weight)):
            raise ValueError("connection weights must be finite")
        layouts = [lay for lay in (self.graph.layout, self.graph.count_layout, self.graph.plastic_layout)
                   if lay is not None]                                   # the order of connections()
        total = sum(lay.n_synapses for lay in layouts)
        if index.size and (index.min() < 0 or index.max() >= total):
            raise ValueError(f"synapse positions must lie in [0, {total}), got {index.min()}..{index.max()}")
        start = 0
        for lay in layouts:
            lay.fetch_host()
            n = lay.n_synapses
            mine = (index >= start) & (index < start + n)
            if lay is not self.graph.plastic_layout and mine.any():
                self._static_weights_set = True
            lay.syn_weight[index[mine] - start] = weight[mine]
            start += n

    # ------------------------------------------------------------ checkpoints
    def run_state(self):
        """This rank's :class:`cortex_gpu.runstate.RunState` at the current step (a copy)."""
        from .runstate import capture
        self.build()
        return capture(self)

    def save_checkpoint(self, path, extra: dict | None = None):
        """Write a checkpoint of the current step boundary into directory ``path`` (every rank calls it).

        See :mod:`cortex_gpu.checkpoint` for the format; ``extra`` (JSON-able)
        goes into the manifest. Returns the manifest's path.
        """
        from .checkpoint import save
        return save(self, path, extra)

    @classmethod
    def restore(cls, path, net: Network, **kw) -> "Simulation":
        """A simulation of ``net`` built and loaded from checkpoint ``path``, ready to ``run`` on.

        ``kw`` as for the constructor (threads, backend, comm, partition, ...),
        which may differ from the run that wrote the checkpoint; the seed,
        weight type and post history come from it. Static synapses are
        redrawn, not read. Raises :class:`cortex_gpu.checkpoint.CheckpointError`
        before any state changes for a missing or damaged shard or a
        checkpoint of another model or version.
        """
        from .checkpoint import restore
        return restore(path, net, **kw)

    def state(self, name: str) -> np.ndarray:
        """Current value of a state variable for every local neuron, in NEST units (V_m in mV,
        currents in pA, conductances in nS); NaN for neurons whose model has no such variable."""
        self.build()
        N = self._N
        if name == "I_syn" or name.startswith("I_syn_") and name[6:].isdigit():   # receptor ports
            k = 0 if name == "I_syn" else int(name[6:])
            out = np.full(N.V.size, np.nan)
            for i in range(N.V.size):
                a, b = N.rx_off[i], N.rx_off[i + 1]
                if b > a and k == 0:
                    out[i] = sum(N.rx_I[a:b].tolist(), 0.0)
                elif 0 < k <= b - a:
                    out[i] = N.rx_I[a + k - 1]
            return out
        owners = [m.kind for m in NEURON_MODELS.values() if name in m.slots]
        if not owners:
            raise KeyError(f"unknown state variable '{name}'")
        code = RECORDABLE_CODES[name]
        out = N.V + N.prop[N.pset, cpu.EL] if code == 0 else (None, N.I_ex, N.I_in, N.dI_ex, N.dI_in, N.w_ad)[code].copy()
        if len(owners) < len(NEURON_MODELS):
            out[~np.isin(N.kind[N.pset], owners)] = np.nan
        return out
