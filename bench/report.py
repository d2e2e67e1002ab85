"""report: what one simulator run of the microcircuit benchmark reports, for either peer.

Both peers (``cortex_microcircuit`` and ``nest_microcircuit``) fill the same
:class:`RunResult` and compute rates with the same :func:`population_rates_hz`,
so the driver (``microcircuit``) compares like with like.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

__all__ = ["RunResult", "population_rates_hz", "add_model_arguments", "write_record"]


@dataclass
class RunResult:
    """Timings, size and activity of one simulator run (units in the names).

    ``build_s`` is the wall time from an empty kernel to a network ready to
    simulate (NEST: Create + Connect; cortex_gpu: network description +
    ``Simulation.build``); work a simulator defers to its first step
    (NEST's Prepare, Numba loading compiled kernels) lands in ``presim_s``.
    ``rtf`` = ``sim_s`` / model seconds of the timed part. ``rates_hz`` is
    None when spikes were not recorded (timing runs).
    """

    simulator: str
    version: str
    threads: int
    seed: int
    n_neurons: int
    n_synapses: int
    build_s: float
    presim_s: float
    sim_s: float
    t_presim_ms: float
    t_sim_ms: float
    rtf: float
    peak_rss_mb: float
    recorded: bool
    rates_hz: list[float] | None
    bytes_per_synapse: float | None = None
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def population_rates_hz(senders: np.ndarray, times_ms: np.ndarray,
                        gid_ranges: Sequence[tuple[int, int]], t_start_ms: float,
                        t_stop_ms: float) -> list[float]:
    """Mean rate (spikes/s) of each population over the window ``(t_start_ms, t_stop_ms]``.

    Parameters
    ----------
    senders : gid of each spike (any numbering, as long as ``gid_ranges`` uses the same).
    times_ms : spike times in ms.
    gid_ranges : ``(first, stop)`` per population, stop exclusive.
    t_start_ms, t_stop_ms : the window; a spike stamped exactly at ``t_start_ms``
        belongs to the step before it, as in NEST's recorder windows.

    Returns
    -------
    Spikes per neuron per second of each population, in ``gid_ranges`` order.
    """
    senders = np.asarray(senders, np.int64)
    times_ms = np.asarray(times_ms, float)
    keep = (times_ms > t_start_ms) & (times_ms <= t_stop_ms)
    s = senders[keep]
    duration_s = (t_stop_ms - t_start_ms) * 1e-3
    rates = []
    for first, stop in gid_ranges:
        n_spikes = np.count_nonzero((s >= first) & (s < stop))
        rates.append(float(n_spikes / ((stop - first) * duration_s)))
    return rates


def add_model_arguments(ap) -> None:
    """The PD14 options both simulator scripts take: sizes, drive, model times, seed."""
    ap.add_argument("--scale", type=float, default=1.0, help="N_scaling = K_scaling (default 1)")
    ap.add_argument("--N-scaling", type=float, default=None, help="overrides --scale for the sizes")
    ap.add_argument("--K-scaling", type=float, default=None, help="overrides --scale for the indegrees")
    ap.add_argument("--drive", choices=("poisson", "dc"), default="poisson")
    ap.add_argument("--t-presim", type=float, default=500.0, help="discarded model time, ms")
    ap.add_argument("--t-sim", type=float, default=10000.0, help="timed model time, ms")
    ap.add_argument("--seed", type=int, default=55)


def write_record(record: dict, out: Path | None, name: str) -> None:
    """Print ``record`` as JSON, or with ``out`` write it to ``out/<name>_<date-time>_<commit>.json``.

    ``record["git"]["commit"]`` names the commit (``nogit`` when unknown), so
    every result file says which code it measured.
    """
    text = json.dumps(record, indent=1)
    if out is None:
        print(text)
        return
    out.mkdir(parents=True, exist_ok=True)
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = out / f"{name}_{stamp}_{(record['git']['commit'] or 'nogit')[:8]}.json"
    path.write_text(text + "\n")
    print(f"[bench] wrote {path}", file=sys.stderr)


def run_worker(simulator: str, cmd: list[str], *, threads: int, timeout_s: float | None, label: str = "") -> dict:
    """Run a benchmark worker (``cmd``, a fresh Python process) and return the JSON object it prints last.

    The repository goes on ``PYTHONPATH``; for cortex_gpu, Numba gets at
    least ``threads`` threads (it must start them before its first parallel
    call). A failure (crash, out of memory, timeout, nothing printed) comes
    back as ``{"simulator": ..., "error": ...}``, so that the other runs of a
    benchmark still happen.
    """
    repo = Path(__file__).resolve().parents[1]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(repo)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    if simulator == "cortex_gpu":
        env["NUMBA_NUM_THREADS"] = str(max(threads, int(env.get("NUMBA_NUM_THREADS", 0) or 0)))
    print(f"[bench] {simulator}{label}: {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"simulator": simulator, "error": f"timed out after {timeout_s} s"}
    if proc.returncode != 0:
        return {"simulator": simulator, "error": f"exit status {proc.returncode}", "stderr_tail": proc.stderr[-4000:]}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        return {"simulator": simulator, "error": "no result printed", "stdout_tail": proc.stdout[-4000:]}
    return json.loads(lines[-1])
