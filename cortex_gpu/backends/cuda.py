"""CUDA backend: the CPU backend's step loop on one GPU, with CuPy arrays and the kernels of ``kernels/*.cu``.

What runs where
---------------
- Construction runs on the device (:mod:`cortex_gpu.backends.cuda_build`,
  ``kernels/construct.cu``): the rank's synapses are drawn and sorted there
  into the CPU build's layout arrays, bit for bit, and the runner takes them
  as they are; with ``construction='host'`` the CPU builder
  (:mod:`cortex_gpu.build`) draws them and the layout is uploaded.
- A step is five to seven kernels on one stream (``kernels/``): ``gather_due``
  (the ring entries due now), one delivery kernel per synapse group, each
  with one warp per post block and no atomics (``deliver_<w>_<d>`` static,
  ``deliver_count_<d>`` onto parrot_neurons, ``deliver_stdp_<d>`` plastic:
  the rule's update (stdp_pl_synapse_hom, stdp_synapse, stdp_synapse_hom), then delivery), ``update_f64`` (generator
  drive and neuron update, parrots included; spikes listed per block in id
  order), ``sample_state`` (multimeters only) and ``merge_step`` (the step's
  spikes into the ring, once per copy for a parrot; pre traces and post
  histories; the recording buffers).
  The step index lives on the device (``clock[0]``, advanced by
  ``merge_step``), so the kernels of ``k`` steps are captured once as a CUDA
  graph and replayed for every chunk of ``k`` steps: Python pays one launch
  per chunk, not five per step.
- Recorded spikes and multimeter rows collect in device buffers sized for a
  chunk and go to the host's :class:`~cortex_gpu.record.SpikeBuffer` and
  :class:`~cortex_gpu.record.StateSampler` after each chunk, with the error
  flags (a post history too short for an STDP update, a parrot repeating more
  than ``cpu.PARROT_MAX_COPIES`` copies), which raise the CPU engine's errors;
  spike counts, the neuron state, plastic weights and STDP traces are copied
  back to the engine's arrays after each run, so ``Simulation.connections()``
  returns the current weights.

Bit identity with the CPU backend (I3): the same layout arrays, propagators
and generator tables; synaptic input summed in 64-bit fixed point; the same
keyed Philox draws; kernels compiled without FMA contraction
(``--fmad=false``), as numba compiles ``cpu.update`` (no FMA in its code);
the STDP rule's exp and pow are ``cg_pexp``/``cg_ppow`` (kernels/philox.cuh),
twins of the ``philox.pexp``/``ppow`` that ``cpu.py`` calls.

Several ranks (one GPU each, or several sharing one) run the window loop of
:mod:`cortex_gpu.backends.cuda_ranks` on top of this runner's kernels.

Not built (``NotImplementedError`` naming it): the conductance models (``iaf_cond_exp``,
``iaf_cond_alpha``, ``iaf_cond_exp_sfa_rr``, ``aeif_cond_exp``, ``aeif_cond_alpha``), the
ownership check mode (``check_ownership``), and plastic synapses or
parrot_neuron on more than one rank.

The functions that prepare the device tables (:func:`device_tables`,
:func:`delivery_blocks`, :func:`drive_tables`) use NumPy only, so that
``tests/test_kernels_host.py`` can run the kernels' logic on them without a
GPU; :class:`CudaRunner` is the part that needs CuPy.
"""
from __future__ import annotations

import functools
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .. import profiling

__all__ = ["CudaRunner", "DeviceTables", "DeviceMemoryError", "device_tables", "delivery_blocks", "drive_tables",
           "unsupported_reason", "check_device_memory", "device_free_bytes", "estimate_device_bytes",
           "precheck_device_memory", "nvrtc_options", "kernel_source", "KERNEL_DIR", "KERNEL_FILES", "NVRTC_OPTIONS",
           "DELIVERY_KERNEL_FILES", "CONSTRUCT_KERNEL_FILE", "CONSTRUCT_THREADS"]

#: The CUDA sources (cortex_gpu/kernels is a link to the repository's kernels/, shipped in the wheel).
KERNEL_DIR = Path(__file__).resolve().parents[1] / "kernels"
#: Kernel files the backend loads, one cupy.RawModule each.
KERNEL_FILES = ("ring.cu", "deliver.cu", "deliver_stdp.cu", "update.cu", "record.cu", "exchange.cu")
#: The construction's kernel file (:mod:`cortex_gpu.backends.cuda_build`), loaded when a rank builds on its GPU.
CONSTRUCT_KERNEL_FILE = "construct.cu"
#: Files whose kernels deliver synaptic input; tests/test_kernels_compile.py forbids atomics in them.
DELIVERY_KERNEL_FILES = ("deliver.cu", "deliver_stdp.cu", "deliver_warp.cuh", "delivery.cuh", "stdp.cuh", "ring.cu",
                         "ring.cuh", "update.cu", "neuron.cuh", "scan.cuh", "exchange.cu", "exchange.cuh",
                         "search.cuh", "merge.cuh")
#: NVRTC options of every kernel file. --fmad=false: no FMA contraction, so the update rounds as numba's does.
#: --std=c++17: the kernels need C++17 (hexadecimal float literals in philox.cuh), and CuPy does not leave
#: the standard to NVRTC: cupy.RawModule appends --std=c++11 (CuPy 13; --std=c++14 later) to options that
#: name none (cupy/_core/core.pyx, assemble_cupy_compiler_options). CuPy also adds the device's -arch.
NVRTC_OPTIONS = ("--fmad=false", "--std=c++17")
#: Threads per block, passed to the kernels as -D defines (their #ifndef defaults are the same).
UPDATE_THREADS = 256
DELIVER_WARPS = 8
RING_THREADS = 1024
#: Threads per block of the construction kernels (kernels/construct.cu, one thread per entry, synapse or pre).
CONSTRUCT_THREADS = 128
SAMPLE_THREADS = 128
#: Steps per captured graph (one launch from Python per chunk), as the CPU engine's CHUNK_STEPS.
CHUNK_STEPS = 1000
#: Most device memory the recording buffers of one chunk may take; longer chunks are cut shorter.
RECORD_BUDGET_BYTES = 1 << 30
#: Device memory left free beyond what the backend allocates (CUDA context, modules, graphs).
RESERVE_BYTES = 256 << 20
#: Neuron models the kernels integrate (model kind ids of cortex_gpu.models).
SUPPORTED_MODELS = ("iaf_psc_exp", "iaf_psc_alpha", "iaf_psc_delta", "parrot_neuron")
#: Device bytes per local neuron: state and accumulators (V..i0_next 56, refr 4, acc 16, n_spikes 8, gid 8,
#: pset 4, pre_of_local 4), drive pointer 8, the update's spike list 4.
_NEURON_BYTES = 56 + 4 + 16 + 8 + 8 + 4 + 4 + 8 + 4


class DeviceMemoryError(RuntimeError):
    """The model does not fit in the GPU's free memory; raised before the device arrays are allocated."""


def nvrtc_options() -> tuple[str, ...]:
    """Every option the kernels are compiled with (tests compile with the same ones through nvcc; the
    headers need no -I: :func:`kernel_source` pastes them in)."""
    return NVRTC_OPTIONS + (f"-DCG_UPDATE_THREADS={UPDATE_THREADS}", f"-DCG_DELIVER_WARPS={DELIVER_WARPS}",
                            f"-DCG_RING_THREADS={RING_THREADS}", f"-DCG_CONSTRUCT_THREADS={CONSTRUCT_THREADS}")


#: Models integrated with NEST's adaptive RKF45 (backends/cpu.py ``_rkf45_evolve``): CPU only.
RKF45_MODELS = ("aeif_cond_alpha", "aeif_cond_exp", "iaf_cond_alpha", "iaf_cond_exp", "iaf_cond_exp_sfa_rr")


def unsupported_reason(net, n_ranks: int, check_ownership: bool = False) -> str | None:
    """Why the cuda backend cannot run ``net`` on ``n_ranks`` ranks, or None when it can."""
    if check_ownership:
        return ("the ownership check mode (check_ownership, CORTEX_GPU_CHECK_OWNERSHIP) is not built on the cuda "
                "backend: use --backend cpu to check ownership")
    if getattr(net, "weight_recorders", None):
        return ("weight_recorder is not built on the cuda backend (its delivery kernel keeps no event buffer): "
                "use --backend cpu")
    from .cuda_ranks import ranks_unsupported_reason
    why = ranks_unsupported_reason(net, n_ranks)
    if why is not None:
        return why
    models = sorted({p.model for p in net.populations if not p.is_source} - set(SUPPORTED_MODELS))
    rkf45 = [m for m in models if m in RKF45_MODELS]
    if rkf45:
        return (f"{', '.join(rkf45)} {'is' if len(rkf45) == 1 else 'are'} not built on the cuda backend: the "
                "adaptive RKF45 step control calls pow(), which CUDA and the C library do not round alike, so "
                "results would not match the CPU's bit for bit; use --backend cpu")
    if models:
        return f"neuron model(s) {', '.join(models)} are not built on the cuda backend; use --backend cpu"
    return None


# ------------------------------------------------------------------ memory checks (I8)
def check_device_memory(need_bytes: int, free_bytes: int, what: str) -> None:
    """Raise :class:`DeviceMemoryError` when ``need_bytes`` plus :data:`RESERVE_BYTES` exceed ``free_bytes``."""
    if need_bytes + RESERVE_BYTES > free_bytes:
        raise DeviceMemoryError(
            f"{what} needs {need_bytes:,} bytes of GPU memory (plus {RESERVE_BYTES:,} reserved for the CUDA "
            f"context and kernels) but {free_bytes:,} bytes are free: use a smaller model or --backend cpu")


def device_free_bytes() -> int:
    """Bytes a new CuPy allocation can get on the current GPU: the driver's free memory (cudaMemGetInfo)
    plus the blocks CuPy's default memory pool holds free. Freed arrays (the construction's scratch, an
    earlier run's buffers) stay cached in the pool, which the driver counts as used; the pool releases
    them when an allocation would otherwise fail (cupy/cuda/memory.pyx: _try_malloc)."""
    import cupy
    free, _ = cupy.cuda.runtime.memGetInfo()
    return int(free) + int(cupy.get_default_memory_pool().free_bytes())


def estimate_device_bytes(n_local: int, n_synapses: float, n_pre: float, n_sections: int, min_delay: int,
                          max_delay: int, weight_bytes: int, *, n_plastic: float = 0.0, n_groups: int = 1,
                          post_history: int = 0, short_history: int = 8) -> int:
    """Device bytes of a rank from the planner's expectations (before anything is drawn).

    Layout (post index, weight, segment and delay tables of each of the
    ``n_groups`` synapse groups), ring and due list, and the per-neuron
    arrays. The ``n_plastic`` plastic synapses (part of ``n_synapses``) keep
    float64 weights; with them come the ring entries' pre traces (float64
    Kplus, int64 stamp), the traces per pre (16 bytes) and each post's
    history of ``post_history`` and ``short_history`` spikes (int32 stamp,
    float64 Kminus) with its count and 1/tau_minus. Recording buffers are left
    out (their size is bounded by :data:`RECORD_BUDGET_BYTES`).
    """
    n_seg = n_sections * n_pre
    layout = ((2 + weight_bytes) * n_synapses + (8 - weight_bytes) * n_plastic
              + n_groups * (8 * (n_seg + 1) + 2 * n_seg * (max_delay - min_delay)))
    slots = (max_delay + 1) * n_pre
    ring = 4 * slots + 10 * (max_delay - min_delay + 1) * n_pre      # ring_pre; due_pre, due_d, due_at
    stdp = 0.0
    if n_plastic:
        stdp = 16 * slots + 16 * n_pre + n_local * (12 * (post_history + short_history) + 16)
    return int(layout + ring + stdp + _NEURON_BYTES * n_local)


def precheck_device_memory(net, weight_dtype, post_history: int = 0, n_ranks: int = 1, rank: int = 0,
                           strategy: str = "round_robin") -> int:
    """Refuse a model whose predicted device memory exceeds the GPU's free memory, before any build.

    Uses :func:`cortex_gpu.planner.plan_memory`'s expected synapse, pre and
    delay counts for rank ``rank`` of ``n_ranks``, and the expected plastic
    synapses of the plastic projections (plastic synapses run on one rank
    only); returns the estimate in bytes.
    """
    import cupy
    from types import SimpleNamespace
    from ..build import synapse_groups
    from ..partition import expected_tile_synapses
    from ..planner import plan_memory
    r = plan_memory(net, n_ranks, strategy=strategy, weight_dtype=np.dtype(weight_dtype).name).ranks[rank]
    groups = synapse_groups(net)
    everyone = (np.zeros(1, np.int64), np.full(1, net.n_nodes, np.int64))
    n_plastic = sum(float(expected_tile_synapses(SimpleNamespace(projections=[p]), *everyone).sum())
                    for p in net.projections if p.id in groups["plastic"])
    need = estimate_device_bytes(r.n_neurons, r.n_synapses, r.n_pre, r.n_sections, r.min_delay, r.max_delay,
                                 np.dtype(weight_dtype).itemsize, n_plastic=n_plastic,
                                 n_groups=sum(bool(v) for v in groups.values()) or 1, post_history=post_history)
    check_device_memory(need, device_free_bytes(), f"this model (planner estimate: {r.n_synapses:,.0f} synapses, "
                                         f"{r.n_neurons:,} neurons)")
    return need


# ------------------------------------------------------------------ device tables (NumPy only)
def delivery_blocks(n_local: int, section_size: int, posts_per_warp: int) -> tuple[np.ndarray, np.ndarray]:
    """``(lo, hi)`` int32: the post blocks of the delivery warps, ``posts_per_warp`` posts each, never
    crossing a section boundary (a warp searches the runs of one section)."""
    if posts_per_warp < 1:
        raise ValueError(f"posts_per_warp must be >= 1, got {posts_per_warp}")
    lo, hi = [], []
    for s0 in range(0, n_local, section_size):
        s1 = min(s0 + section_size, n_local)
        starts = np.arange(s0, s1, posts_per_warp, dtype=np.int64)
        lo.append(starts)
        hi.append(np.minimum(starts + posts_per_warp, s1))
    cat = (lambda parts: np.concatenate(parts).astype(np.int32)) if lo else (lambda parts: np.zeros(0, np.int32))
    return cat(lo), cat(hi)


def default_posts_per_warp(n_local: int, n_sm: int) -> int:
    """Posts per delivery warp: about four warps per multiprocessor, at least 32 posts each.

    Every warp searches every due ring entry, so more warps cost more
    searches in all, and fewer warps leave multiprocessors idle; four per
    multiprocessor is a starting point, not a measured optimum.
    """
    return max(32, math.ceil(n_local / max(4 * n_sm, 1)))


def drive_tables(G, n_local: int) -> dict[str, np.ndarray]:
    """The generator drive of ``cpu.Drives`` regrouped per target neuron (see kernels/neuron.cuh).

    Entries are sorted by target, stably, so each neuron's entries keep the
    connection order in which ``cpu.drive`` sums dc currents.
    """
    n_conn = G.c_gen.size
    conn = np.repeat(np.arange(n_conn, dtype=np.int32), np.diff(G.c_ptr))
    order = np.argsort(G.e_local, kind="stable")
    ptr = np.zeros(n_local + 1, np.int64)
    np.cumsum(np.bincount(G.e_local, minlength=n_local), out=ptr[1:])
    return {"d_ptr": ptr, "d_conn": conn[order], "d_w": G.e_weight[order].astype(np.float64),
            "d_wfx": G.e_weight_fx[order].astype(np.int64), "c_gen": G.c_gen.astype(np.int32),
            "c_delay": G.c_delay.astype(np.int64), "c_key": G.c_key.astype(np.int64),
            **generator_tables(G)}


def generator_tables(G) -> dict[str, np.ndarray]:
    """Per-generator arrays, which ``Simulation.set_generator`` may change between runs."""
    return {"g_kind": G.g_kind.astype(np.int32), "g_value": G.g_value.astype(np.float64),
            "g_cdf_lo": G.g_cdf_lo.astype(np.int64), "cdf": G.cdf.astype(np.float64),
            "guide": G.guide.astype(np.int64), "g_start": G.g_start.astype(np.int64),
            "g_stop": G.g_stop.astype(np.int64), "tab": G.tab.astype(np.float64),
            "g_tab_lo": G.g_tab_lo.astype(np.int64)}


@dataclass
class DeviceTables:
    """Every array the kernels read, in the kernels' dtypes, and the scalars they take: host copies,
    except a layout built on the GPU, whose arrays are already there (:func:`_layout_arrays`).

    ``arrays`` maps the kernels' argument names (kernels/*.cu) to contiguous
    NumPy arrays; ``scalars`` holds ``n``, ``n_pre``, ``m``, ``D``, ``S``,
    ``n_slots``, ``cap`` (ring entries per slot), ``has_dc`` and ``seed``.
    """

    arrays: dict[str, np.ndarray]
    scalars: dict[str, int]
    weight: str = field(default="f32")      # kernel suffix of syn_weight's dtype
    delay_off: str = field(default="u16")   # and of delay_off's

    @property
    def nbytes(self) -> int:
        return int(sum(a.nbytes for a in self.arrays.values()))

    @property
    def upload_bytes(self) -> int:
        """Bytes of the host arrays, which the runner allocates on the device."""
        return int(sum(a.nbytes for a in self.arrays.values() if isinstance(a, np.ndarray)))

    @property
    def deliver_kernel(self) -> str:
        return f"deliver_{self.weight}_{self.delay_off}"


def device_tables(sim, posts_per_warp: int) -> DeviceTables:
    """Everything the kernels need, from a built single-rank :class:`~cortex_gpu.engine.Simulation`."""
    L = sim.graph.layout
    N, R = sim._N, sim._R
    n = int(N.V.size)
    a: dict[str, np.ndarray] = {}
    a.update(_layout_arrays(L, "", weights=True))
    a["blk_lo"], a["blk_hi"] = delivery_blocks(n, L.section_size, posts_per_warp)
    groups = {"static": L}
    for prefix, lay in (("c_", sim.graph.count_layout), ("p_", sim.graph.plastic_layout)):
        if lay is None:
            continue
        groups[prefix] = lay
        # plastic weights are copied back after each run into the host array connections() reads
        a.update(_layout_arrays(lay, prefix, weights=prefix == "p_"))
    a.update(stdp_tables(sim._S, sim._R))
    a["blk_err"] = np.zeros(5 * max(a["blk_lo"].size, 1), np.int64)
    a["merge_err"] = np.zeros(1, np.int64)
    a["gid"] = N.gid.astype(np.int64)
    a["pset"] = N.pset.astype(np.int32)
    a["prop"] = np.ascontiguousarray(N.prop, np.float64).ravel()
    a["kind"] = N.kind.astype(np.int8)
    a["refr_steps"] = N.refr_steps.astype(np.int32)
    for name in ("V", "I_ex", "I_in", "dI_ex", "dI_in", "i_0", "i0_next"):
        a[name] = getattr(N, name).astype(np.float64)
    a["refr"] = N.refr.astype(np.int32)
    a["acc_ex"] = N.acc_ex[0].astype(np.int64)
    a["acc_in"] = N.acc_in[0].astype(np.int64)
    a["n_spikes"] = N.n_spikes.astype(np.int64)
    a.update(drive_tables(sim._G, n))
    a["ring_pre"] = R.pre.astype(np.int32).ravel()
    a["ring_count"] = R.count.astype(np.int32)
    a["pre_of_local"] = sim._pre_of_local.astype(np.int32)
    # the kernels index the recording flags by gid: on one rank (the only case run here) the local
    # neurons and the spike sources are every gid, so a gid-sized mask is the rank's own size
    rec_mask = np.zeros(sim.net.n_nodes, np.uint8)
    rec_mask[N.gid] = sim._spikes.rec_local
    rec_mask[sim._spikes.rec_sources] = 1
    a["rec_mask"] = rec_mask
    a["mm_local"] = sim._sampler.local.astype(np.int64)
    a["mm_var"] = sim._sampler.var.astype(np.int32)
    present = [lay for lay in groups.values() if lay.n_synapses]
    scalars = {"n": n, "n_pre": int(L.n_pre), "S": int(L.section_size), "n_slots": int(R.count.size),
               "cap": int(R.pre.shape[1]), "has_dc": int(bool(sim._G.has_dc)), "seed": int(sim.seed),
               # the due list spans every group's delays; each delivery kernel takes its own group's
               "m": min((lay.min_delay for lay in present), default=int(L.min_delay)),
               "D": max((lay.max_delay for lay in present), default=int(L.max_delay)),
               "plastic": int(sim.graph.plastic_layout is not None),
               "H": int(sim._S.hist_t.shape[1]), "K": int(sim._S.last_t.shape[1])}
    for prefix, lay in groups.items():
        key = "" if prefix == "static" else prefix
        scalars[key + "min_delay"], scalars[key + "max_delay"] = int(lay.min_delay), int(lay.max_delay)
        scalars[key + "n_syn"] = int(lay.n_synapses)
    if scalars["n_slots"] * scalars["cap"] >= 2 ** 31:
        raise NotImplementedError(f"the ring ({scalars['n_slots']} slots of {scalars['cap']} entries) is too large "
                                  "for the cuda backend's 32-bit ring positions; use --backend cpu")
    return DeviceTables(a, scalars, "f32" if L.syn_weight.dtype == np.float32 else "f64",
                        "u16" if L.delay_off.dtype == np.uint16 else "u32")


def _layout_arrays(lay, prefix: str, weights: bool) -> dict:
    """A layout's delivery arrays under the kernels' names (``prefix`` + seg_off, delay_off, syn_post,
    and syn_weight if ``weights``): the device arrays of a layout built on the GPU, else host arrays."""
    names = ("seg_off", "delay_off", "syn_post") + (("syn_weight",) if weights else ())
    if lay.device is not None:
        return {prefix + k: lay.device[k] for k in names}
    dtypes = {"seg_off": np.int64, "syn_post": np.uint16}
    return {prefix + k: np.ascontiguousarray(getattr(lay, k), dtypes.get(k)) for k in names}


def stdp_tables(S, R) -> dict[str, np.ndarray]:
    """The STDP traces (``cpu.Stdp``, ``cpu.Ring``) flattened for the kernels; one-element placeholders
    without plastic synapses, so that every kernel keeps one signature."""
    plastic = S.kplus.size > 0

    def flat(x, dtype):
        return np.ascontiguousarray(x, dtype).ravel() if plastic else np.zeros(1, dtype)
    return {"kplus": flat(S.kplus, np.float64), "tlast": flat(S.tlast, np.int64),
            "hist_t": flat(S.hist_t, np.int32), "hist_k": flat(S.hist_k, np.float64),
            "hist_n": flat(S.hist_n, np.int64), "last_t": flat(S.last_t, np.int32),
            "last_k": flat(S.last_k, np.float64), "tau_minus_inv": flat(S.tau_minus_inv, np.float64),
            "ring_kplus": flat(R.kplus, np.float64), "ring_tlast": flat(R.tlast, np.int64),
            "stdp_rule": rule_table(S)}


def rule_table(S) -> np.ndarray:
    """The plastic rule and its parameters in kernels/stdp.cuh's order (``CG_RP_RULE`` ... ``CG_RP_WMAX``)."""
    return np.array([S.rule, S.lam, S.alpha, S.mu, S.tau_plus, S.tau_plus_inv, S.mu_plus, S.mu_minus, S.wmax],
                    np.float64)


# ------------------------------------------------------------------ the runner (CuPy)
def kernel_source(name: str) -> str:
    """Kernel file ``name`` with its ``#include "..."`` headers pasted in, once each.

    CuPy keys its on-disk cache of compiled kernels by the source text and
    the options, not by the headers an #include pulls in: a changed header
    under an unchanged .cu file would load a stale binary. ``#line`` marks
    keep NVRTC's messages pointing at the right file and line.
    """
    done: set[str] = set()

    def expand(fname: str) -> list[str]:
        done.add(fname)
        out = [f'#line 1 "{fname}"']
        for n, line in enumerate((KERNEL_DIR / fname).read_text().splitlines(), 1):
            m = re.match(r'\s*#include\s+"([^"]+)"', line)
            if m is None:
                out.append(line)
                continue
            if m.group(1) not in done:
                out += expand(m.group(1))
            out.append(f'#line {n + 1} "{fname}"')
        return out

    return "\n".join(expand(name)) + "\n"


@functools.lru_cache(maxsize=None)
def _module(name: str):
    """The compiled kernel file ``name`` (cached per process; CuPy also caches the binary on disk)."""
    import cupy
    return cupy.RawModule(code=kernel_source(name), options=nvrtc_options())


class CudaRunner:
    """A built single-rank :class:`~cortex_gpu.engine.Simulation`'s state on the GPU, and its step loop.

    Parameters
    ----------
    sim : the simulation, built on the host (its ``_L``, ``_N``, ``_G``, ``_R`` hold the initial state).
    posts_per_warp : posts of each delivery warp's block (default :func:`default_posts_per_warp`).

    Raises :class:`DeviceMemoryError` before allocating when the arrays do
    not fit in the GPU's free memory.
    """

    def __init__(self, sim, posts_per_warp: int | None = None):
        import cupy
        self.cp = cupy
        self.sim = sim
        dev = cupy.cuda.Device()
        n = int(sim._N.V.size)
        self.posts_per_warp = posts_per_warp or default_posts_per_warp(n, dev.attributes["MultiProcessorCount"])
        clock = time.perf_counter
        c0 = clock()
        with profiling.range("upload"):
            t = device_tables(sim, self.posts_per_warp)
            c1 = clock()
            self.tables = t
            s = t.scalars
            self.n_ublocks = -(-n // UPDATE_THREADS)
            self.n_cols = int(t.arrays["mm_local"].size)
            n_src_rec = int(np.count_nonzero(sim._sources_rec))
            self._record_spikes = bool(np.any(sim._spikes.rec_local)) or n_src_rec > 0
            n_due_cap = (s["D"] - s["m"] + 1) * s["cap"]
            work = {"due_pre": (n_due_cap, np.int32), "due_d": (n_due_cap, np.uint16),
                    "due_at": (n_due_cap, np.int32), "n_due": (1, np.int32),
                    "blk_spk": (self.n_ublocks * UPDATE_THREADS, np.int32), "blk_count": (self.n_ublocks, np.int32),
                    "blk_off": (self.n_ublocks, np.int32), "clock": (2, np.int64), "spk_n": (1, np.int64)}
            need = (t.upload_bytes + sum(k * np.dtype(d).itemsize for k, d in work.values())
                    + self._record_bytes(self._chunk_steps()))
            check_device_memory(need, device_free_bytes(),
                                f"the built model ({sim.graph.layout.n_synapses:,} synapses, {n:,} neurons)")
            self.stream = cupy.cuda.Stream(non_blocking=True)
            with self.stream:
                self.d = {k: cupy.asarray(v) for k, v in t.arrays.items()}
                for k, (size, dtype) in work.items():
                    self.d[k] = cupy.zeros(max(size, 1), dtype)
            self.device_bytes = int(sum(x.nbytes for x in self.d.values()))
            self.stream.synchronize()
            c2 = clock()
            self._k = {}
            for f in KERNEL_FILES:
                mod = _module(f)
                for name in self._kernel_names(f):
                    self._k[name] = mod.get_function(name)
        self._graphs: dict[int, object] = {}
        self._spk_cap = 0
        #: Whether merge_step records spike-source emissions (every rank runs the sources; one records them).
        self.record_sources = 1
        self._events = (cupy.cuda.Event(), cupy.cuda.Event())
        #: Seconds of the set-up (host tables, upload, kernel compilation or cache load) and, summed
        #: over runs, the GPU time of the graph replays (CUDA events around each) and their steps.
        self.timings = {"tables_s": c1 - c0, "upload_s": c2 - c1, "compile_s": clock() - c2,
                        "graph_gpu_s": 0.0, "graph_steps": 0, "capture_s": 0.0, "flush_s": 0.0}

    # -------------------------------------------------------------- set-up
    def _kernel_names(self, f: str) -> tuple[str, ...]:
        t = self.tables
        return {"ring.cu": ("gather_due", "merge_step"),
                "deliver.cu": (t.deliver_kernel,) + ((self._group_kernel("c_", "deliver_count"),)
                                                     if "c_seg_off" in t.arrays else ()),
                "deliver_stdp.cu": ((self._group_kernel("p_", "deliver_stdp"),) if t.scalars["plastic"] else ()),
                "update.cu": ("update_f64",), "record.cu": ("sample_state",),
                "exchange.cu": ("window_begin", "append_received", "gather_new", "pack_send")}[f]

    def _group_kernel(self, prefix: str, op: str) -> str:
        """``<op>_<delay_off dtype>`` of the count (``c_``) or plastic (``p_``) group."""
        return f"{op}_{'u16' if self.tables.arrays[prefix + 'delay_off'].dtype == np.uint16 else 'u32'}"

    @property
    def layout_device_bytes(self) -> int:
        """Device bytes of the delivery layout (segment and delay tables, post indices, weights)."""
        return int(sum(self.d[k].nbytes for k in ("seg_off", "delay_off", "syn_post", "syn_weight")))

    def _put(self, name: str, host: np.ndarray) -> None:
        """Copy ``host`` into device array ``name``, reallocating (and dropping the captured graphs,
        which hold the old address) when it does not fit."""
        host = np.ascontiguousarray(host)
        cur = self.d.get(name)
        if cur is not None and cur.dtype == host.dtype and cur.size >= max(host.size, 1):
            if host.size:
                cur[:host.size].set(host, stream=self.stream)
            return
        with self.stream:
            new = self.cp.zeros(max(host.size, 1), host.dtype)
            if host.size:
                new[:host.size].set(host, stream=self.stream)
        self.d[name] = new
        self._graphs.clear()

    def _reserve(self, name: str, size: int, dtype) -> None:
        cur = self.d.get(name)
        if cur is None or cur.size < max(size, 1):
            # on the runner's stream: cupy.zeros clears on the current stream, and the legacy null stream
            # does not order with a non_blocking one (the clearing could land after the first copy in);
            # the pool then also hands the memory back to this stream's free list
            with self.stream:
                self.d[name] = self.cp.zeros(max(size, 1), dtype)
            self._graphs.clear()

    def _chunk_steps(self) -> int:
        """Steps per graph: CHUNK_STEPS, fewer when a chunk's recording buffers would pass the budget."""
        L = CHUNK_STEPS
        while L > 1 and self._record_bytes(L) > RECORD_BUDGET_BYTES:
            L //= 2
        return L

    def _spike_capacity(self, L: int) -> int:
        """Most spikes a chunk of ``L`` steps can record: each recorded neuron spikes at most once per
        refractory period plus one step (V_reset < V_th), and every source emission of the chunk; a parrot's
        extra copies are recorded too (``Simulation._rec_extra`` per step)."""
        sim = self.sim
        if not self._record_spikes:
            return 0
        N = sim._N
        rec = sim._spikes.rec_local
        n_rec = int(np.count_nonzero(rec))
        r_min = int(N.refr_steps[N.pset[rec]].min()) if n_rec else 0
        per = math.ceil(L / (r_min + 1))
        return n_rec * per + L * (int(sim._sources[3]) + sim._rec_extra)

    def _record_bytes(self, L: int) -> int:
        return 16 * self._spike_capacity(L) + 8 * L * self.n_cols

    # -------------------------------------------------------------- the step
    def _launch_step(self, events=None) -> None:
        """Issue one step's kernels on the current stream (captured into a graph, or timed with ``events``:
        five CUDA events recorded between the kernels)."""
        d = self.d
        mark = (lambda j: events[j].record(self.stream)) if events is not None else (lambda j: None)
        mark(0)
        self._launch_gather(d["clock"])
        mark(1)
        self._launch_deliver(d["acc_ex"], d["acc_in"])
        mark(2)
        self._launch_update(d["acc_ex"], d["acc_in"])
        mark(3)
        self._launch_merge()
        mark(4)

    # The step's kernels one by one, so that cuda_ranks.CudaWindowRunner can split a window's steps
    # between the part that runs while spikes travel and the part after (with per-step accumulator rows).
    def _launch_gather(self, clock) -> None:
        """The ring entries due at step ``clock[0]`` into the due list (ring.cu:gather_due)."""
        d, s = self.d, self.tables.scalars
        i32 = np.int32
        self._k["gather_due"]((1,), (RING_THREADS,), (clock, d["ring_pre"], d["ring_count"], i32(s["n_slots"]),
                                                      i32(s["cap"]), i32(s["m"]), i32(s["D"]), d["due_pre"],
                                                      d["due_d"], d["due_at"], d["n_due"]))

    def _launch_deliver(self, acc_ex, acc_in) -> None:
        """The due list's synapses into the fixed-point accumulators ``acc_ex``, ``acc_in`` (int64[n])."""
        d, s, k = self.d, self.tables.scalars, self._k
        i32, i64 = np.int32, np.int64
        n_blk = int(self.tables.arrays["blk_lo"].size)
        grid, block = (-(-n_blk // DELIVER_WARPS),), (32 * DELIVER_WARPS,)
        due = (d["due_pre"], d["due_d"], d["n_due"])
        blocks = (d["blk_lo"], d["blk_hi"], i32(n_blk))
        if n_blk:   # static synapses (possibly none: the kernel then finds empty runs)
            k[self.tables.deliver_kernel](grid, block, (
                *due, d["seg_off"], d["delay_off"], d["syn_post"], d["syn_weight"], i64(s["n_pre"]),
                i32(s["min_delay"]), i32(s["max_delay"]), i32(s["S"]), *blocks, acc_ex, acc_in))
        if n_blk and s.get("c_n_syn"):
            k[self._group_kernel("c_", "deliver_count")](grid, block, (
                *due, d["c_seg_off"], d["c_delay_off"], d["c_syn_post"], i64(s["n_pre"]), i32(s["c_min_delay"]),
                i32(s["c_max_delay"]), i32(s["S"]), *blocks, acc_in))
        if n_blk and s.get("p_n_syn"):
            P = self.sim._S
            f64 = np.float64
            k[self._group_kernel("p_", "deliver_stdp")](grid, block, (
                d["clock"], d["due_pre"], d["due_d"], d["due_at"], d["n_due"], d["p_seg_off"], d["p_delay_off"],
                d["p_syn_post"], d["p_syn_weight"], i64(s["n_pre"]), i32(s["p_min_delay"]), i32(s["p_max_delay"]),
                i32(s["S"]), *blocks, acc_ex, acc_in, d["ring_kplus"], d["ring_tlast"], d["stdp_rule"],
                f64(P.ms_per_tic), f64(P.ms_per_step), i64(P.tics_per_step),
                d["hist_t"], d["hist_k"], d["hist_n"], i32(s["H"]), d["last_t"], d["last_k"], i32(s["K"]),
                d["tau_minus_inv"], d["blk_err"]))

    def _launch_update(self, acc_ex, acc_in) -> None:
        """Drive and neuron update of step ``clock[0]`` from ``acc_ex``, ``acc_in`` (cleared), and sampling."""
        d, s, k = self.d, self.tables.scalars, self._k
        i32 = np.int32
        n = s["n"]
        if n:
            k["update_f64"]((self.n_ublocks,), (UPDATE_THREADS,), (
                d["clock"], i32(n), np.uint32(s["seed"]),
                d["gid"], d["pset"], d["prop"], d["kind"], d["refr_steps"],
                d["V"], d["I_ex"], d["I_in"], d["dI_ex"], d["dI_in"], d["i_0"], d["i0_next"], d["refr"],
                acc_ex, acc_in,
                d["d_ptr"], d["d_conn"], d["d_w"], d["d_wfx"], d["c_gen"], d["c_delay"], d["c_key"],
                d["g_kind"], d["g_value"], d["g_cdf_lo"], d["cdf"], d["guide"], d["g_start"], d["g_stop"],
                i32(s["has_dc"]), d["tab"], d["g_tab_lo"], d["blk_spk"], d["blk_count"]))
        if self.n_cols:
            k["sample_state"]((-(-self.n_cols // SAMPLE_THREADS),), (SAMPLE_THREADS,), (
                d["clock"], i32(self.n_cols), d["mm_local"], d["mm_var"], d["V"], d["I_ex"], d["I_in"], d["pset"],
                d["prop"], d["mm_buf"]))

    def _launch_merge(self) -> None:
        """The step's spikes into the ring, the pre traces and post histories, and the recording buffers;
        advances ``clock[0]``."""
        d, s = self.d, self.tables.scalars
        i32, i64 = np.int32, np.int64
        P = self.sim._S
        self._k["merge_step"]((1,), (RING_THREADS,), (
            d["clock"], i32(self.n_ublocks), i32(UPDATE_THREADS), d["blk_count"], d["blk_spk"], d["blk_off"],
            d["gid"], d["pset"], d["kind"], d["refr"], d["pre_of_local"], d["rec_mask"], d["n_spikes"],
            d["ring_pre"], d["ring_count"], i32(s["n_slots"]), i32(s["cap"]), d["src_ptr"], d["src_pre"],
            d["src_gid"], i32(self.record_sources), d["spk_gid"], d["spk_step"], d["spk_n"], i64(self._spk_cap),
            i32(s["plastic"]), d["ring_kplus"], d["ring_tlast"], d["stdp_rule"],
            np.float64(P.ms_per_tic), i64(P.tics_per_step), d["kplus"], d["tlast"], d["hist_t"], d["hist_k"],
            d["hist_n"], i32(s["H"]), d["last_t"], d["last_k"], i32(s["K"]), d["tau_minus_inv"], d["merge_err"]))

    def _graph(self, L: int):
        """The captured graph of ``L`` steps (captured on first use; dropped when a buffer moves)."""
        g = self._graphs.get(L)
        if g is None:
            c0 = time.perf_counter()
            with self.stream:
                self.stream.begin_capture()
                try:
                    for _ in range(L):
                        self._launch_step()
                finally:
                    g = self.stream.end_capture()
            self._graphs[L] = g
            self.timings["capture_s"] += time.perf_counter() - c0
        return g

    # -------------------------------------------------------------- the run
    def run(self, n_steps: int, progress: Callable[[float, float], None] | None = None, *,
            timed_steps: int = 0) -> dict[str, float] | None:
        """Advance the simulation by ``n_steps`` steps; updates ``sim.step``, ``sim.sim_s`` and the host state.

        With ``timed_steps`` > 0 the first ``timed_steps`` steps are launched
        kernel by kernel with CUDA events between them (no graph), and the
        summed kernel times (ms) are returned: ``gather``, ``deliver``,
        ``update`` (with sampling), ``merge``, and ``steps``.
        """
        sim = self.sim
        t_wall = time.perf_counter()
        for name, arr in generator_tables(sim._G).items():   # set_generator may have changed them
            self._put(name, arr)
        L_max = self._chunk_steps()
        end = sim.step + n_steps
        src_s = sim._sources[0]
        if self.tables.scalars["plastic"] and end >= 2 ** 31:
            raise ValueError(f"plastic synapses keep post spike stamps in 32 bits: at most {2 ** 31 - 1} steps")
        chunks = []
        t = sim.step
        while t < end:
            L = min(L_max, end - t)
            if timed_steps and t == sim.step:
                L = min(timed_steps, end - t)
            chunks.append((t, L))
            t += L
        self._prepare_buffers(chunks, src_s)
        split = None
        try:
            split = self._run_chunks(chunks, timed_steps, progress, t_wall)
        finally:   # after an error too, the host arrays hold the state the error describes
            self._copy_state_back()
        sim.sim_s += time.perf_counter() - t_wall
        return split

    def _run_chunks(self, chunks, timed_steps: int, progress, t_wall: float) -> dict[str, float] | None:
        sim = self.sim
        split = None
        for t0, L in chunks:
            self._load_sources(t0, L)
            self.d["clock"].set(np.array([t0, t0], np.int64), stream=self.stream)
            self.d["spk_n"].set(np.zeros(1, np.int64), stream=self.stream)
            if timed_steps and t0 == chunks[0][0]:
                split = self._timed_chunk(L)
            else:
                graph = self._graph(L)
                with profiling.range("graph"):
                    self._events[0].record(self.stream)
                    graph.launch(self.stream)
                    self._events[1].record(self.stream)
            c0 = time.perf_counter()
            with profiling.range("record"):
                self._flush(t0, L)
            self.timings["flush_s"] += time.perf_counter() - c0
            if not (timed_steps and t0 == chunks[0][0]):
                self.timings["graph_gpu_s"] += self.cp.cuda.get_elapsed_time(*self._events) * 1e-3
                self.timings["graph_steps"] += L
            sim.step = t0 + L
            self._check_errors()
            if progress is not None:
                progress(sim.t_ms, time.perf_counter() - t_wall)
        return split

    def _check_errors(self) -> None:
        """Raise the CPU engine's error for what the chunk's kernels flagged: a parrot asked to repeat
        more than ``cpu.PARROT_MAX_COPIES`` copies (merge_step), or a post history too short for an STDP
        update (deliver_stdp; the first in the CPU's order: step, due entry, post)."""
        if int(self.d["merge_err"].get()[0]):
            raise ValueError("a parrot_neuron received more spikes in one step than it can repeat "
                             "(cortex_gpu.backends.cpu.PARROT_MAX_COPIES)")
        if not self.tables.scalars["plastic"]:
            return
        err = self.d["blk_err"].get().reshape(-1, 5)
        flagged = err[err[:, 0] != 0]
        if flagged.size:
            first = flagged[np.lexsort((flagged[:, 3], flagged[:, 2], flagged[:, 1]))[0]]
            self.sim._S.err[0] = (1, first[3], first[4], 0)
            self.sim._check_errors()

    def _prepare_buffers(self, chunks, src_s: np.ndarray) -> None:
        longest = max((L for _, L in chunks), default=1)
        per_chunk = [int(np.searchsorted(src_s, t0 + L) - np.searchsorted(src_s, t0)) for t0, L in chunks]
        self._reserve("src_ptr", longest + 1, np.int64)
        self._reserve("src_pre", max(per_chunk, default=0), np.int32)
        self._reserve("src_gid", max(per_chunk, default=0), np.int64)
        cap = self._spike_capacity(longest)
        if cap > self._spk_cap or "spk_gid" not in self.d:
            self._reserve("spk_gid", cap, np.int64)
            self._reserve("spk_step", cap, np.int64)
            self._spk_cap = max(cap, self._spk_cap)
            self._graphs.clear()       # spk_cap is a kernel argument
        self._reserve("mm_buf", longest * self.n_cols, np.float64)

    def _load_sources(self, t0: int, L: int) -> None:
        """The spike-source emissions of steps ``t0 .. t0 + L - 1`` (``merge_step`` reads them via clock[1])."""
        src_s, src_g, src_p, _ = self.sim._sources
        a, b = np.searchsorted(src_s, [t0, t0 + L])
        ptr = np.searchsorted(src_s[a:b], np.arange(t0, t0 + L + 1)).astype(np.int64)
        self.d["src_ptr"][:L + 1].set(ptr, stream=self.stream)
        if b > a:
            self.d["src_pre"][:b - a].set(src_p[a:b].astype(np.int32), stream=self.stream)
            self.d["src_gid"][:b - a].set(src_g[a:b].astype(np.int64), stream=self.stream)

    def _timed_chunk(self, L: int) -> dict[str, float]:
        """Run ``L`` steps kernel by kernel with CUDA events between the kernels; summed times in ms.

        Every step's launches and events are queued before the first wait,
        so that the GPU runs ahead of the host where the kernels are longer
        than their launches; where they are shorter, an event's time also
        holds the GPU's wait for the next launch.
        """
        cp = self.cp
        tot = np.zeros(4)
        batch = 256                               # steps queued between two waits (5 events each)
        with self.stream:
            for a in range(0, L, batch):
                evs = [[cp.cuda.Event() for _ in range(5)] for _ in range(min(batch, L - a))]
                for ev in evs:
                    self._launch_step(ev)
                evs[-1][4].synchronize()
                for ev in evs:
                    tot += [cp.cuda.get_elapsed_time(ev[j], ev[j + 1]) for j in range(4)]
        return {"steps": L, "gather_ms": tot[0], "deliver_ms": tot[1], "update_ms": tot[2], "merge_ms": tot[3]}

    def _flush(self, t0: int, L: int) -> None:
        """Wait for the chunk, then move its recorded spikes and multimeter rows to the host."""
        sim = self.sim
        self.stream.synchronize()
        if self._spk_cap:
            n_rec = int(self.d["spk_n"].get()[0])
            if n_rec > self._spk_cap:
                raise RuntimeError(f"internal: {n_rec} spikes recorded in a chunk sized for {self._spk_cap}")
            if n_rec:
                buf = sim._spikes
                buf.reserve(n_rec)
                k = int(buf.n[0])
                buf.gid[k:k + n_rec] = self.d["spk_gid"][:n_rec].get()
                buf.step[k:k + n_rec] = self.d["spk_step"][:n_rec].get()
                buf.n[0] = k + n_rec
        if self.n_cols:
            rows = self.d["mm_buf"][:L * self.n_cols].get().reshape(L, self.n_cols)
            sim._sampler.collect(rows, t0, L)

    def fetch_run_state(self) -> None:
        """The ring (and everything :meth:`_copy_state_back` copies) into the engine's host arrays, for
        :func:`cortex_gpu.runstate.capture`; the device state stays as it is."""
        self._copy_state_back()
        R = self.sim._R
        for name, host in (("ring_pre", R.pre), ("ring_count", R.count)):
            host.reshape(-1)[:] = self.d[name].get()[:host.size]

    def _copy_state_back(self) -> None:
        """Neuron state and spike counts into the engine's host arrays (``Simulation.state`` reads them);
        with plastic synapses also the weights (in place: ``Simulation.connections()`` reads that array),
        the traces and the ring, so that host and device agree after every run."""
        sim = self.sim
        N = sim._N
        self.stream.synchronize()
        for name in ("V", "I_ex", "I_in", "dI_ex", "dI_in", "i_0", "i0_next", "refr", "n_spikes"):
            getattr(N, name)[:] = self.d[name].get()
        if not self.tables.scalars["plastic"]:
            return
        sim.graph.plastic_layout.syn_weight[:] = self.d["p_syn_weight"].get()
        S, R = sim._S, sim._R
        for name, host in (("kplus", S.kplus), ("tlast", S.tlast), ("hist_t", S.hist_t), ("hist_k", S.hist_k),
                           ("hist_n", S.hist_n), ("last_t", S.last_t), ("last_k", S.last_k),
                           ("ring_kplus", R.kplus), ("ring_tlast", R.tlast), ("ring_pre", R.pre),
                           ("ring_count", R.count)):
            host.reshape(-1)[:] = self.d[name].get()[:host.size]
