"""The ``cortex-gpu`` command line: build and run a model, report rates and timings, write results.

Usage::

    cortex-gpu run microcircuit|multi_area|hpc_benchmark|macaque_multi_area
                                [--scale S] [--t-sim MS] [--t-presim MS] [--drive poisson|dc]
                                [--seed N] [--backend auto|cpu|cuda] [--threads N]
                                [--record spikes|none] [--resolution MS] [--out DIR]
                                [--partition round_robin|contiguous|area_processes]
                                [--comm auto|host|cuda-aware] [--exchange neighbour|allgather]
                                [--K-scaling K] [--state ground|metastable] [--chi X] [--chi-I X]
    mpiexec -n 4 cortex-gpu run microcircuit ...     (one rank per process; srun likewise)

Writes ``DIR/summary.json`` (timings, sizes, rates; for models with
plastic synapses, the mean and std of their weights at the end), the
spikes in the format of :mod:`cortex_gpu.io` (one file per rank, unless
``--record none``) and ``DIR/raster.png``. Exit status: 0 on success, 2 for bad
arguments, 1 when the model or the backend cannot run (the message says
why). Under MPI, a rank that fails prints its rank and error and aborts the
whole job, so no rank waits forever for it.
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import socket
import sys
import time
from pathlib import Path
from typing import Sequence, TextIO

import numpy as np

__all__ = ["main", "make_parser", "plan_command", "ProgressBar"]

MODELS = ("microcircuit", "multi_area", "hpc_benchmark", "macaque_multi_area")
#: Other names accepted on the command line for a model.
MODEL_ALIASES = {"multi-area-macaque": "macaque_multi_area"}
#: Options that only macaque_multi_area takes (attribute -> model keyword).
MACAQUE_OPTIONS = {"K_scaling": "K_scaling", "state": "state", "chi": "chi", "chi_I": "chi_I"}
#: Largest --scale of each model (None: any positive scale). PD14-based models shrink
#: from full scale; hpc_benchmark grows (NE = 9000 * scale, indegrees fixed).
MAX_SCALE = {"microcircuit": 1.0, "multi_area": 1.0, "hpc_benchmark": None, "macaque_multi_area": 1.0}
#: Default --t-presim (ms) per model: the PD14 recipe discards 500 ms, NEST's hpc_benchmark 100 ms.
DEFAULT_PRESIM_MS = {"microcircuit": 500.0, "multi_area": 500.0, "hpc_benchmark": 100.0,
                     "macaque_multi_area": 500.0}
# mirrored here so that --help needs no numba import; tests check they agree
STRATEGIES = ("round_robin", "contiguous", "area_processes")
COMM_MODES = ("auto", "host", "cuda-aware")
EXCHANGES = ("neighbour", "allgather")


def _default_threads() -> int:
    """Cores this process may use, capped by the threads Numba was started with."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:   # not on Linux
        cores = os.cpu_count() or 1
    import numba
    return max(1, min(cores, numba.config.NUMBA_NUM_THREADS))


def _float_above(text: str, low: float = 0.0, inclusive: bool = False) -> float:
    """A finite float ``> low`` (``>= low`` when ``inclusive``), for argparse."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value < low or (value == low and not inclusive):
        raise argparse.ArgumentTypeError(f"must be {'>=' if inclusive else '>'} {low:g}, got {text}")
    return value


def _positive_float(text: str) -> float:
    return _float_above(text)


def _non_negative_float(text: str) -> float:
    return _float_above(text, inclusive=True)


def _scale(text: str) -> float:
    """A positive scale; the model's own upper bound is checked by :func:`_check_scale`."""
    return _positive_float(text)


def _check_scale(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Exit 2 (as for any bad argument) when ``--scale`` is above the model's largest."""
    high = MAX_SCALE.get(args.model)
    if high is not None and args.scale > high:
        parser.error(f"argument --scale: must be in (0, {high:g}] for {args.model}, got {args.scale:g}")


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


def _seed(text: str) -> int:
    value = _int(text)
    if not 0 <= value < 2 ** 32:
        raise argparse.ArgumentTypeError(f"must be in [0, 2**32), got {text}")
    return value


def _threads(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def make_parser() -> argparse.ArgumentParser:
    """The argument parser of ``cortex-gpu`` (sub-command ``run``)."""
    from . import __version__
    parser = argparse.ArgumentParser(prog="cortex-gpu", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"cortex_gpu {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    run = sub.add_parser("run", help="build and simulate a model",
                         description="Build and simulate a model; print rates, write summary.json, "
                                     "spikes and raster.png.")
    run.add_argument("model", choices=(*MODELS, *MODEL_ALIASES), help="model to run")
    run.add_argument("--areas", type=_threads, default=None, metavar="A",
                     help="multi_area: number of areas (default 4)")
    run.add_argument("--scale", type=_scale, default=1.0, metavar="S",
                     help="microcircuit, multi_area: scale neurons and indegrees together, 0 < S <= 1 (weights "
                          "are compensated as in the model; default 1.0 = full scale); hpc_benchmark: "
                          "9000 S excitatory and 2250 S inhibitory neurons, indegrees fixed, any S > 0; "
                          "macaque_multi_area: N_scaling (neurons and synapses, indegrees kept)")
    _add_macaque_arguments(run)
    run.add_argument("--t-sim", dest="t_sim_ms", type=_positive_float, default=1000.0, metavar="MS",
                     help="simulated time that is measured, in ms (default 1000)")
    run.add_argument("--t-presim", dest="t_presim_ms", type=_non_negative_float, default=None, metavar="MS",
                     help="time simulated first and left out of rates and timing, in ms (default 500; "
                          "100 for hpc_benchmark, as NEST's example)")
    run.add_argument("--drive", choices=("poisson", "dc"), default="poisson",
                     help="external input: Poisson spike trains or the equivalent DC (default poisson)")
    run.add_argument("--seed", type=_seed, default=12345, metavar="N", help="random seed (default 12345)")
    run.add_argument("--backend", choices=("auto", "cpu", "cuda"), default="auto",
                     help="'auto' takes the GPU when one is usable, else the CPU (default auto)")
    run.add_argument("--construction", choices=("auto", "device", "host"), default="auto",
                     help="where the synapses are drawn: on the GPU ('device', cuda backend only) or by the CPU "
                          "builder ('host'); same network either way ('auto': the device on the cuda backend)")
    run.add_argument("--threads", type=_threads, default=None, metavar="N",
                     help="CPU threads (default: the cores available to this process)")
    run.add_argument("--record", choices=("spikes", "none"), default="spikes",
                     help="'none' records nothing (for timing): no spike file, no raster; rates come from spike counters")
    run.add_argument("--resolution", dest="resolution_ms", type=_positive_float, default=0.1, metavar="MS",
                     help="simulation step in ms (default 0.1)")
    run.add_argument("--out", type=Path, default=None, metavar="DIR",
                     help="output directory (default out/MODEL)")
    run.add_argument("--partition", choices=STRATEGIES, default="round_robin",
                     help="how post-synaptic tiles are dealt to MPI ranks (default round_robin)")
    run.add_argument("--comm", choices=COMM_MODES, default="auto",
                     help="spike exchange between ranks: host-staged MPI, or CUDA-aware MPI with device "
                          "buffers; 'auto' picks what the backend and the MPI library support (default auto)")
    run.add_argument("--exchange", choices=EXCHANGES, default="neighbour",
                     help="'neighbour': point to point to the ranks that need a rank's spikes; 'allgather': "
                          "every rank gets every spike (baseline) (default neighbour)")
    run.add_argument("--post-history", type=_threads, default=None, metavar="N",
                     help="post spikes each neuron keeps for the STDP updates of plastic synapses, a power "
                          "of two (default the engine's, 128; the run stops and says so when a neuron needs more)")
    run.add_argument("--no-overlap", dest="overlap", action="store_false",
                     help="complete each spike exchange as soon as it is posted (measures its full cost)")
    _add_checkpoint_options(run)
    _add_resume_parser(sub)
    _add_plan_parser(sub)
    return parser


def _add_macaque_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of macaque_multi_area (Schmidt et al. 2018); refused for the other models."""
    parser.add_argument("--K-scaling", dest="K_scaling", type=_scale, default=None, metavar="K",
                        help="macaque_multi_area: factor on the indegrees, 0 < K <= 1; weights / sqrt(K) and a DC "
                             "current restore the mean input (default 1)")
    parser.add_argument("--state", choices=("ground", "metastable"), default=None,
                        help="macaque_multi_area: ground (chi = chi_I = 1, default) or metastable (1.9, 2)")
    parser.add_argument("--chi", type=_positive_float, default=None, metavar="X",
                        help="macaque_multi_area: inter-area weight factor (overrides --state)")
    parser.add_argument("--chi-I", dest="chi_I", type=_positive_float, default=None, metavar="X",
                        help="macaque_multi_area: extra inter-area factor onto inhibitory targets")


def _add_checkpoint_options(p, resume: bool = False) -> None:
    p.add_argument("--checkpoint-every", dest="checkpoint_every_ms", type=_positive_float,
                   default=argparse.SUPPRESS if resume else None, metavar="MS",
                   help="write a checkpoint every MS of model time (presim included)"
                        + (" (default: as the run did)" if resume else "; resume with 'cortex-gpu resume DIR'"))
    if not resume:
        p.add_argument("--checkpoint-dir", dest="checkpoint_dir", type=Path, default=None, metavar="DIR",
                       help="where the checkpoints go (default OUT/checkpoint); each replaces the previous one")
    p.add_argument("--stop-after", dest="stop_after_ms", type=_positive_float, default=None, metavar="MS",
                   help="stop at this model time (ms from the start), after a checkpoint, as a job limit would")


def _add_resume_parser(sub) -> None:
    res = sub.add_parser("resume", help="continue a run from its checkpoint",
                         description="Continue a 'cortex-gpu run' from the checkpoint in DIR, on any rank count, "
                                     "partition or backend; recording continues into the run's output "
                                     "directory, whose files then equal those of an uninterrupted run.")
    res.add_argument("checkpoint_dir", type=Path, metavar="DIR", help="the run's --checkpoint-dir")
    res.add_argument("--t-sim", dest="t_sim_ms", type=_positive_float, default=argparse.SUPPRESS, metavar="MS",
                     help="measured simulated time in all, ms (default: the run's)")
    res.add_argument("--threads", type=_threads, default=argparse.SUPPRESS, metavar="N", help="CPU threads")
    res.add_argument("--backend", choices=("auto", "cpu", "cuda"), default=argparse.SUPPRESS,
                     help="backend (default: the run's option)")
    res.add_argument("--partition", choices=STRATEGIES, default=argparse.SUPPRESS,
                     help="partition strategy (default: the run's)")
    res.add_argument("--comm", choices=COMM_MODES, default=argparse.SUPPRESS)
    res.add_argument("--exchange", choices=EXCHANGES, default=argparse.SUPPRESS)
    _add_checkpoint_options(res, resume=True)


def _add_plan_parser(sub) -> None:
    """Sub-command ``plan``: predicted memory per rank, without building (see :mod:`cortex_gpu.planner`)."""
    from .models.registry import NETWORKS
    from .partition import STRATEGIES
    plan = sub.add_parser("plan", help="predict memory per rank without building",
                          description="Predict each rank's peak memory (neurons, synapses, gid-indexed tables, "
                                      "buffers, build transients, process baseline) and whether it fits; "
                                      "'cortex-scale' projects 2e10 neurons and 1e14 synapses onto GPUs.")
    plan.add_argument("model", choices=(*NETWORKS, *MODEL_ALIASES, "cortex-scale"), help="model to plan")
    plan.add_argument("--ranks", type=_threads, default=1, metavar="N", help="ranks (default 1)")
    plan.add_argument("--memory-per-rank", dest="memory_gb", type=_positive_float, default=None, metavar="GB",
                      help="memory of each rank in GB (10**9 bytes); says whether the model fits")
    plan.add_argument("--scale", type=_scale, default=1.0, metavar="S",
                      help="model scale, 0 < S <= 1 (any S > 0 for hpc_benchmark; default 1)")
    plan.add_argument("--areas", type=_threads, default=None, metavar="A", help="multi_area: number of areas")
    _add_macaque_arguments(plan)
    plan.add_argument("--strategy", choices=STRATEGIES, default="round_robin", help="partition (default round_robin)")
    plan.add_argument("--threads", type=_threads, default=None, metavar="T",
                      help="CPU threads of each rank (default: the cores available, as 'run')")
    plan.add_argument("--weight-dtype", choices=("float32", "float64"), default="float32")
    plan.add_argument("--record", choices=("spikes", "none"), default="spikes", help="as 'run --record'")
    plan.add_argument("--measure-baseline", action="store_true",
                      help="measure the process baseline now in a subprocess (~2 s) instead of the constant")
    plan.add_argument("--bytes-per-synapse", type=_positive_float, default=None, metavar="B",
                      help="cortex-scale: bytes per synapse (default: measured at full-scale PD14)")
    plan.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the plan as JSON")


def plan_command(args: argparse.Namespace) -> int:
    """``cortex-gpu plan``: print the plan, write JSON; exit status 0, or 1 when it cannot be planned."""
    from . import planner
    try:
        if args.model == "cortex-scale":
            if args.memory_gb is None:
                raise ValueError("cortex-scale needs --memory-per-rank GB")
            bps = args.bytes_per_synapse or planner.MEASURED_BYTES_PER_SYNAPSE
            result = planner.cortex_scale_projection(args.memory_gb, bps)
            text = planner.format_cortex_scale(result)
        else:
            from .models.registry import make_network
            threads = args.threads if args.threads is not None else _default_threads()
            net = make_network(args.model, args.scale, **_model_kwargs(args))
            baseline = planner.measure_baseline(threads) if args.measure_baseline else None
            plan = planner.plan_memory(net, args.ranks, strategy=args.strategy, threads=threads,
                                       weight_dtype=args.weight_dtype, memory_per_rank_gb=args.memory_gb,
                                       baseline_bytes=baseline)
            result = {"model": args.model, "scale": args.scale, **plan.to_dict()}
            text = f"{args.model}, scale {args.scale:g}\n{plan.table()}"
    except (ValueError, NotImplementedError, RuntimeError) as exc:
        print(f"cortex-gpu: error: {exc}", file=sys.stderr)
        return 1
    print(text)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")
        print(f"plan written to {args.json}")
    return 0


class ProgressBar:
    """A one-line progress bar on a stream, redrawn in place with a carriage return.

    Shows the phase, model time reached, and the real-time factor so far
    (wall time / model time). Redraws at most every ``min_interval_s`` so a
    log file that captures stderr does not fill up.
    """

    def __init__(self, label: str, t_total_ms: float, stream: TextIO = sys.stderr, width: int = 30):
        self.label = label
        self.t_total_ms = t_total_ms
        self.stream = stream
        self.width = width
        interactive = getattr(stream, "isatty", lambda: False)()
        self.min_interval_s = 0.1 if interactive else 2.0
        self._last_draw = -math.inf

    def __call__(self, t_model_ms: float, wall_s: float) -> None:
        done = t_model_ms >= self.t_total_ms
        now = time.perf_counter()
        if not done and now - self._last_draw < self.min_interval_s:
            return
        self._last_draw = now
        frac = min(1.0, t_model_ms / self.t_total_ms) if self.t_total_ms > 0 else 1.0
        filled = int(round(frac * self.width))
        rtf = wall_s / (t_model_ms * 1e-3) if t_model_ms > 0 else float("nan")
        self.stream.write(f"\r{self.label:>7} [{'#' * filled}{'.' * (self.width - filled)}] "
                          f"{t_model_ms:9.1f}/{self.t_total_ms:.1f} ms  RTF {rtf:8.3f}")
        if done:
            self.stream.write("\n")
        self.stream.flush()


def _choose_backend(requested: str) -> str:
    """The backend to run on; raises RuntimeError (with the reason) when it cannot run.

    'auto' falls back to the CPU while the CUDA backend is not built, so a
    machine with a GPU still runs.
    """
    from .backends import resolve_backend
    try:
        return resolve_backend(requested)
    except NotImplementedError as exc:
        if requested == "auto":
            print(f"cortex-gpu: note: {exc}; running on the CPU", file=sys.stderr)
            return "cpu"
        raise RuntimeError(str(exc)) from None


def _host_info(threads: int) -> dict:
    import numba
    return {"hostname": socket.gethostname(), "platform": platform.platform(),
            "machine": platform.machine(), "processor": platform.processor(),
            "cpu_count": os.cpu_count(), "threads": threads, "python": platform.python_version(),
            "numpy": np.__version__, "numba": numba.__version__}


def _check_grid(name: str, t_ms: float, resolution_ms: float) -> None:
    steps = t_ms / resolution_ms
    if abs(steps - round(steps)) > 1e-9 * max(1.0, steps):
        raise ValueError(f"{name} = {t_ms} ms is not a multiple of the resolution {resolution_ms} ms")


def _remove_previous_results(out: Path) -> None:
    """Delete spike files and plots of an earlier run in ``out``.

    Otherwise a run with ``--record none``, or one with fewer ranks, would
    leave files that read as if this run had written them.
    """
    for pattern in ("spikes.json", "spikes-rank*.bin", "spikes-rank*.json", "raster.png", "summary.json"):
        for path in out.glob(pattern):
            path.unlink()


def _model_kwargs(args: argparse.Namespace) -> dict:
    """Model arguments shared by ``run`` and ``plan``; ``--areas`` only for multi_area."""
    kw = {"record_spikes": args.record == "spikes"}
    for name in ("drive", "resolution_ms"):
        if hasattr(args, name):
            kw[name] = getattr(args, name)
    if getattr(args, "areas", None) is not None:
        if args.model != "multi_area":
            raise ValueError(f"--areas applies to multi_area, not {args.model}")
        kw["n_areas"] = args.areas
    for attr, key in MACAQUE_OPTIONS.items():
        if getattr(args, attr, None) is not None:
            if args.model != "macaque_multi_area":
                raise ValueError(f"--{attr.replace('_', '-')} applies to macaque_multi_area, not {args.model}")
            kw[key] = getattr(args, attr)
    return kw


def _build_model(args: argparse.Namespace):
    """The network ``args.model`` names, and its info (populations and their gid ranges)."""
    from .models.registry import make_model
    return make_model(args.model, args.scale, **_model_kwargs(args))


def _rank_threads(requested: int | None, comm) -> int:
    """Threads per rank: as asked, else the cores shared out among this node's ranks."""
    if requested is not None:
        return requested
    return max(1, _default_threads() // max(comm.local_size, 1))


def _model_defaults(args: argparse.Namespace) -> None:
    """Fill the options whose default depends on the model (``--t-presim``, ``--out``)."""
    if getattr(args, "t_presim_ms", None) is None:
        args.t_presim_ms = DEFAULT_PRESIM_MS.get(args.model, 500.0)
    if getattr(args, "out", None) is None:
        args.out = Path("out") / args.model


def _plastic_weights(sim, net, info: dict, comm) -> dict | None:
    """Mean and std (pA) of every plastic weight now, over all ranks; None without plastic synapses.

    Each rank sums its own weights (read in place, no copy) and the sums are
    reduced, so no rank gathers the weights.
    """
    used = net.plastic_model()
    if used is None:
        return None
    from .models.hpc_benchmark import plastic_weight_moments, weight_stats
    shift = float(info["params"].JE_pA) if hasattr(info.get("params"), "JE_pA") else 0.0
    n, total, sum_sq = plastic_weight_moments(sim, shift=shift)
    n_all, total_all, sum_sq_all = comm.allreduce_sum(np.array([n, total, sum_sq], float))
    mean, std = weight_stats(int(n_all), total_all, sum_sq_all, shift)
    return {"synapse_model": used[0], "n_synapses": int(n_all), "mean_pA": mean, "std_pA": std,
            "initial_pA": shift if shift else None}


def _population_counts(sim, info: dict, comm) -> np.ndarray:
    """Spikes emitted so far per population (the engine's counters), summed over ranks."""
    counted = sim.spike_counts()
    gids_local = sim.local_gids
    pop = np.array([counted[(gids_local >= a) & (gids_local < b)].sum() for a, b in info["gid_ranges"]], np.int64)
    return comm.allreduce_sum(pop)


def _json_args(args: argparse.Namespace) -> dict:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
            if k not in ("resume_from", "stop_after_ms")}


def _resume_args(given: argparse.Namespace) -> argparse.Namespace:
    """The run's own options from the checkpoint's manifest, with those ``resume`` was given."""
    from .checkpoint import read_manifest
    doc = read_manifest(given.checkpoint_dir)
    cli = doc.get("extra", {}).get("cli")
    if cli is None:
        raise ValueError(f"{given.checkpoint_dir}: not a checkpoint of 'cortex-gpu run' (no run options in it)")
    args = argparse.Namespace(**cli)
    args.out = Path(args.out)
    args.checkpoint_dir = Path(given.checkpoint_dir)
    for k, v in vars(given).items():
        if k not in ("command", "checkpoint_dir"):
            setattr(args, k, v)
    args.command = "run"
    args.resume_from = given.checkpoint_dir
    return args


class _Checkpoints:
    """The run's checkpoints: every ``--checkpoint-every`` ms of model time, into ``--checkpoint-dir``, with the
    run's options, the population spike counts at the end of the presimulation and the spike files so far."""

    def __init__(self, args: argparse.Namespace, sim, comm, info: dict):
        self.args, self.sim, self.comm = args, sim, comm
        h = sim.h
        every = getattr(args, "checkpoint_every_ms", None)
        self.every = int(round(every / h)) if every else 0
        if every and abs(self.every * h - every) > 1e-9 * every:
            raise ValueError(f"--checkpoint-every {every} ms is not a multiple of the resolution {h} ms")
        stop = getattr(args, "stop_after_ms", None)
        self.stop = int(round(stop / h)) if stop else None
        if self.every or stop:
            if getattr(args, "checkpoint_dir", None) is None:
                args.checkpoint_dir = Path(args.out) / "checkpoint"
        self.dir = getattr(args, "checkpoint_dir", None)
        self.info = info
        counts = None
        if getattr(args, "resume_from", None) is not None:
            from .checkpoint import read_manifest
            counts = read_manifest(args.resume_from)["extra"].get("presim_counts")
        self.presim_counts = np.array(counts, np.int64) if counts is not None else None

    def presim_done(self) -> None:
        if self.presim_counts is None:
            self.presim_counts = _population_counts(self.sim, self.info, self.comm)

    def advance(self, t_ms: float, progress) -> bool:
        """Run to model time ``t_ms``, checkpointing on the way; False when ``--stop-after`` came first."""
        sim = self.sim
        end = int(round(t_ms / sim.h))
        while sim.step < end:
            nxt = end
            if self.every:
                nxt = min(nxt, (sim.step // self.every + 1) * self.every)
            if self.stop is not None:
                nxt = min(nxt, max(self.stop, sim.step))
            if nxt == sim.step:
                self.save()
                return False
            sim.run((nxt - sim.step) * sim.h, progress=progress)
            if self.every and sim.step % self.every == 0:
                self.save()
            if self.stop is not None and sim.step >= self.stop:
                if not (self.every and sim.step % self.every == 0):
                    self.save()
                return False
        return True

    def save(self) -> None:
        """Spike files so far into the output directory, then the checkpoint (recorder positions in it)."""
        from .io import write_rank_spikes
        sim, comm = self.sim, self.comm
        out = Path(self.args.out)
        n_rec = int(sim._spikes.n[0])
        if self.args.record == "spikes":
            if comm.rank == 0:
                out.mkdir(parents=True, exist_ok=True)
            comm.barrier()
            gids, steps = sim.all_spikes()
            write_rank_spikes(out, comm.rank, gids, steps + 1, n_neurons=int(sim.local_gids.size))
        positions = comm.allgather(n_rec) if comm.size > 1 else [n_rec]
        extra = {"cli": _json_args(self.args), "recorded_per_rank": positions,
                 "presim_counts": None if self.presim_counts is None else self.presim_counts.tolist()}
        sim.save_checkpoint(self.dir, extra=extra)

    def stopped(self, err) -> None:
        print(f"cortex-gpu: stopped at {self.sim.t_ms:g} ms with a checkpoint in {self.dir}; continue with "
              f"'cortex-gpu resume {self.dir}'", file=err)
        return None


def run_microcircuit(args: argparse.Namespace, comm=None) -> dict | None:
    """Build and run the model as ``args`` say, on every rank of ``comm``; write the results.

    Returns the summary on rank 0 and None on the other ranks. (Named for
    its first model; it runs every model of :data:`MODELS`.)
    """
    _model_defaults(args)
    from . import __version__
    from .comm import world
    from .engine import Simulation, peak_rss_mb
    from .io import write_rank_spikes, write_spikes_metadata
    from .planner import plan_memory
    from .plot import plot_raster, population_rates_hz

    _check_grid("--t-sim", args.t_sim_ms, args.resolution_ms)
    _check_grid("--t-presim", args.t_presim_ms, args.resolution_ms)
    backend = _choose_backend(args.backend)
    if comm is None:
        comm = world(args.comm, args.exchange, backend)
    threads = _rank_threads(args.threads, comm)
    record = args.record == "spikes"
    lead = comm.rank == 0
    err = sys.stderr if lead else open(os.devnull, "w")

    net, info = _build_model(args)
    extra = {} if getattr(args, "post_history", None) is None else {"post_history": args.post_history}
    if getattr(args, "construction", "auto") != "auto":
        extra["construction"] = args.construction
    # 'auto' goes to Simulation as is: a model the cuda backend cannot run then runs on the CPU
    sim_kw = dict(threads=threads, backend="auto" if args.backend == "auto" else backend, comm=comm,
                  partition=args.partition)
    resume = getattr(args, "resume_from", None)
    if resume is not None:       # the network rebuilt (static synapses redrawn), the run state loaded
        sim = Simulation.restore(resume, net, **sim_kw)
        print(f"cortex-gpu: resumed from {resume} at {sim.t_ms:g} ms", file=err)
    else:
        sim = Simulation(net, seed=args.seed, **sim_kw, **extra)
    backend = sim.backend
    sim.overlap = args.overlap
    print(f"cortex-gpu: {args.model}, scale {args.scale:g}, {args.drive} drive, backend {backend}, "
          f"{comm.size} rank(s) x {threads} thread(s), seed {args.seed}", file=err)
    part = sim.partition
    # the planner's prediction, before anything is allocated (every rank computes it; rank 0 prints)
    predicted = plan_memory(net, comm.size, strategy=part.strategy, threads=threads,
                            exchange=comm.exchange if comm.size > 1 else "neighbour").ranks
    print(f"cortex-gpu: partition {part.strategy}"
          + (f", exchange {comm.exchange}, comm {getattr(comm, 'mode_note', '') or comm.mode}"
             if comm.size > 1 else "")
          + "; predicted peak memory per rank (MB): "
          + ", ".join(f"{r.rank}: {r.total / 1e6:.0f}" for r in predicted[:16])
          + (" ..." if len(predicted) > 16 else ""), file=err)
    report = sim.build()
    print(f"cortex-gpu: {report}" + (" (rank 0)" if comm.size > 1 else ""), file=err)

    ckpt = _Checkpoints(args, sim, comm, info)
    sim_s_before = sim.sim_s
    if not ckpt.advance(args.t_presim_ms, ProgressBar("presim", args.t_presim_ms, err)):
        return ckpt.stopped(err)
    presim_s = sim.sim_s - sim_s_before
    sim_s_before = sim.sim_s
    t_start_ms = args.t_presim_ms
    ckpt.presim_done()
    timings_before = dict(sim.timings)
    bar = ProgressBar("sim", args.t_sim_ms, err)
    if not ckpt.advance(t_start_ms + args.t_sim_ms, lambda t_ms, wall_s: bar(t_ms - t_start_ms, wall_s)):
        return ckpt.stopped(err)
    sim_s = sim.sim_s - sim_s_before
    t_stop_ms = sim.t_ms

    out = Path(args.out)
    if lead:
        out.mkdir(parents=True, exist_ok=True)
        _remove_previous_results(out)
    comm.barrier()
    # spikes per population from the engine's counters, summed over ranks
    pop_counts = _population_counts(sim, info, comm) - ckpt.presim_counts
    plastic = _plastic_weights(sim, net, info, comm)
    t_s = (t_stop_ms - t_start_ms) * 1e-3
    rates = {name: float(c / ((b - a) * t_s)) for name, c, (a, b) in zip(info["populations"], pop_counts,
                                                                          info["gid_ranges"])}
    n_spikes = int(pop_counts.sum())
    if record:
        gids, steps = sim.all_spikes()
        write_rank_spikes(out, comm.rank, gids, steps + 1, n_neurons=report.n_neurons)  # NEST stamps a spike
        comm.barrier()                                                                  # at its step's end
    window = {k: sim.timings[k] - timings_before.get(k, 0) for k in sim.timings}
    ranks = comm.allgather({
        "rank": comm.rank, "n_neurons": int(report.n_neurons), "n_synapses": int(report.n_synapses),
        "layout_bytes": int(report.layout_bytes), "build_s": float(report.build_s), "sim_s": float(sim_s),
        "peak_rss_mb": float(peak_rss_mb()), "predicted_peak_mb": predicted[comm.rank].total / 1e6,
        "remote_pre": int(getattr(sim, "_remote_pre", 0)),
        "exchange": window, "local_rank": comm.local_rank, "host": socket.gethostname(), "device": sim.device})
    if not lead:
        err.close()
        return None

    if record:
        write_spikes_metadata(out, n_ranks=comm.size, resolution_ms=args.resolution_ms, seed=args.seed,
                              partition=part.strategy,
                              extra={"model": args.model, "populations": info["populations"],
                                     "gid_ranges": [list(r) for r in info["gid_ranges"]],
                                     "t_presim_ms": args.t_presim_ms, "t_sim_ms": args.t_sim_ms})
        from .io import read_spikes
        merged = read_spikes(out, with_steps=True)
        n_spikes = int(merged["senders"].size)   # every spike in the files, pre-simulation included
        keep = (merged["times"] > t_start_ms) & (merged["times"] <= t_stop_ms)
        gids, times_ms = merged["senders"][keep], merged["times"][keep]
        rates_arr = population_rates_hz(gids, times_ms, info["gid_ranges"], t_start_ms, t_stop_ms)
        rates = {name: float(r) for name, r in zip(info["populations"], rates_arr)}
        groups = None
        if "area_of_population" in info and len(info["populations"]) > 40:   # label and colour by area
            groups = (info["areas"], info["area_of_population"])
        plot_raster(out / "raster.png", gids, times_ms, info["populations"], info["gid_ranges"],
                    t_start_ms, t_stop_ms, groups=groups,
                    title=f"{args.model}, scale {args.scale:g}, {args.drive} drive, seed {args.seed}")

    n_syn = sum(r["n_synapses"] for r in ranks)
    layout_bytes = sum(r["layout_bytes"] for r in ranks)
    summary = {
        "model": args.model, "version": __version__, "backend": backend, "threads": threads,
        "n_ranks": comm.size, "partition": part.strategy, "exchange": comm.exchange, "comm": comm.mode,
        "overlap": bool(args.overlap),
        "scale": args.scale, "drive": args.drive, "seed": args.seed,
        "t_sim_ms": args.t_sim_ms, "t_presim_ms": args.t_presim_ms, "resolution_ms": args.resolution_ms,
        "n_neurons": sum(r["n_neurons"] for r in ranks), "n_synapses": n_syn,
        "bytes_per_synapse": layout_bytes / max(n_syn, 1), "layout_bytes": layout_bytes,
        "build_s": max(r["build_s"] for r in ranks), "presim_s": float(presim_s),
        "sim_s": max(r["sim_s"] for r in ranks), "rtf": max(r["sim_s"] for r in ranks) / (args.t_sim_ms * 1e-3),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in ranks),
        "record": args.record, "n_spikes": n_spikes, "rates_hz": rates, "plastic_weights": plastic,
        "area_rates_hz": _area_rates(info, rates),
        "rates_window_ms": [t_start_ms, t_stop_ms],
        "spikes": {"format": "cortex_gpu.spikes", "metadata": "spikes.json"} if record else None,
        "ranks": ranks if comm.size > 1 else None,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "host": _host_info(threads),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def _area_rates(info: dict, rates: dict) -> dict | None:
    """Mean rate of each area (spikes/s, weighted by population size); None for models without areas."""
    if "area_of_population" not in info:
        return None
    total = np.zeros(len(info["areas"]))
    size = np.zeros(len(info["areas"]))
    for name, a, (first, stop) in zip(info["populations"], info["area_of_population"], info["gid_ranges"]):
        total[a] += rates[name] * (stop - first)
        size[a] += stop - first
    return {area: float(t / s) for area, t, s in zip(info["areas"], total, size)}


def _print_summary(summary: dict, stream: TextIO) -> None:
    print(f"build {summary['build_s']:.2f} s, sim {summary['sim_s']:.2f} s for {summary['t_sim_ms']:g} ms "
          f"(RTF {summary['rtf']:.3f}), {summary['bytes_per_synapse']:.2f} bytes/synapse, "
          f"peak RSS {summary['peak_rss_mb']:.0f} MB", file=stream)
    rates = summary["rates_hz"]
    if rates is None:
        print("rates: not measured", file=stream)
        return
    lo, hi = summary["rates_window_ms"]
    print(f"rates over ({lo:g}, {hi:g}] ms, spikes/s:", file=stream)
    areas = summary.get("area_rates_hz")
    if areas and len(rates) > 40:   # one line per area: its mean, then its populations
        for area, r in areas.items():
            pops = "  ".join(f"{n.split('-', 1)[1]} {x:7.3f}" for n, x in rates.items() if n.split("-", 1)[0] == area)
            print(f"  {area:<5} {r:7.3f} | {pops}", file=stream)
    else:
        for name, r in rates.items():
            print(f"  {name:<6} {r:8.3f}", file=stream)
    pw = summary.get("plastic_weights")
    if pw:
        print(f"plastic weights ({pw['synapse_model']}, {pw['n_synapses']} synapses) at {hi:g} ms: "
              f"mean {pw['mean_pA']:.4f} pA, std {pw['std_pA']:.4f} pA"
              + (f" (initial {pw['initial_pA']:.4f} pA)" if pw.get("initial_pA") else ""), file=stream)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``cortex-gpu``; returns the exit status.

    Under MPI with several ranks, any failure on one rank aborts the job:
    the others would otherwise wait for it forever in the next exchange.
    """
    from .comm import abort_other_ranks
    parser = make_parser()
    args = parser.parse_args(argv)
    if args.command == "resume":
        try:
            args = _resume_args(args)
        except ValueError as exc:
            print(f"cortex-gpu: error: {exc}", file=sys.stderr)
            return 1
    args.model = MODEL_ALIASES.get(getattr(args, "model", None), getattr(args, "model", None))
    _check_scale(parser, args)
    if args.command == "plan":
        return plan_command(args)
    try:
        summary = run_microcircuit(args)
    except (RuntimeError, ValueError, NotImplementedError) as exc:
        # Expected failures (no GPU, a model that cannot be built, too many
        # threads) get one line, not a traceback.
        abort_other_ranks(f"error: {exc}")
        print(f"cortex-gpu: error: {exc}", file=sys.stderr)
        return 1
    except MemoryError:
        msg = "out of memory while building or running the model; try a smaller --scale or more ranks"
        abort_other_ranks(f"error: {msg}")
        print(f"cortex-gpu: error: {msg}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ncortex-gpu: interrupted", file=sys.stderr)
        return 130
    except BaseException as exc:
        import traceback
        traceback.print_exc()
        abort_other_ranks(f"{type(exc).__name__}: {exc}")
        raise
    if summary is not None:
        _print_summary(summary, sys.stdout)
        print(f"results in {args.out}/", file=sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
