"""Run one PyNEST example script and collect what its kernel recorded: ``corpus_driver.py MODULE SCRIPT OUT``.

MODULE is the module the script imports as ``nest`` (``nest`` or ``cortex_gpu.pynest``); SCRIPT is the
(already rewritten) script; OUT is a path prefix: ``OUT.json`` receives the status (ok / exception class,
message and the script line it stopped at, wall time, kernel figures, recorder list, PyNEST calls the
collection needed and the module lacks) and ``OUT.npz`` the recorded events, one array per recorder and
event key, named ``r<node id>__<key>`` (read back from its files for a ``record_to="ascii"`` recorder).

The script runs with :func:`runpy.run_path` as ``__main__`` with its directory first on ``sys.path`` (the
Brette et al. scripts import their benchmark module from there), ``plt.show`` a no-op and ``sys.exit``
caught (``sys.exit(0)`` / ``sys.exit()`` count as success). Afterwards, only PyNEST calls that both
modules have are used: ``GetKernelStatus(key)``, ``NodeCollection(list_of_ids)``, ``.get(key)``. Only the
kernel's state at the end is seen: a script that calls ``ResetKernel`` between runs leaves its last run.

This file is run as a script by ``bench/nest_corpus.py``; it never imports NEST and cortex_gpu together.
"""
from __future__ import annotations

import importlib
import json
import os
import runpy
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

RECORDER_MODELS = ("spike_recorder", "multimeter", "voltmeter", "weight_recorder")


def _stop_line(exc: BaseException, script_dir: Path) -> dict[str, Any] | None:
    """The deepest traceback frame inside the script's directory (the script or a sibling module it imports)."""
    where = None
    for frame in traceback.extract_tb(exc.__traceback__):
        try:
            inside = Path(frame.filename).resolve().parent == script_dir
        except (OSError, ValueError):
            inside = False
        if inside:
            where = {"file": Path(frame.filename).name, "line": frame.lineno, "code": (frame.line or "").strip()}
    return where


def _exception_record(exc: BaseException, script_dir: Path) -> dict[str, Any]:
    return {"class": type(exc).__name__, "message": str(exc)[:2000], "where": _stop_line(exc, script_dir),
            "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))[-4000:]}


def run_script(script: Path) -> dict[str, Any]:
    """Execute ``script`` as ``__main__``; ``{"ok": True}`` or ``{"ok": False, "exception": {...}}``."""
    script_dir = script.resolve().parent
    sys.path.insert(0, str(script_dir))
    sys.argv = [str(script)]
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        plt.show = lambda *a, **k: None
    except ImportError:
        pass
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as exc:
        if exc.code not in (None, 0):
            return {"ok": False, "exception": _exception_record(exc, script_dir)}
    except BaseException as exc:  # noqa: BLE001 -- every failure of the script is a result to report
        return {"ok": False, "exception": _exception_record(exc, script_dir)}
    finally:
        try:
            import matplotlib.pyplot as plt
            plt.close("all")
        except ImportError:
            pass
    return {"ok": True}


def _as_list(value: Any, n: int) -> list[Any]:
    """``NodeCollection.get`` gives a plain value for one node and a tuple for several."""
    if n == 1 and not isinstance(value, (list, tuple)):
        return [value]
    return list(value)


#: event keys of the columns NEST's ascii backend writes
_ASCII_COLUMNS = {"sender": "senders", "time_ms": "times", "time_step": "times", "offset": "offsets",
                  "receiver": "targets", "weight": "weights"}


def _ascii_events(filenames: list[str]) -> dict[str, np.ndarray]:
    """The events of a ``record_to="ascii"`` recorder, read back from its files (NEST keeps none in memory)."""
    columns: dict[str, list[np.ndarray]] = {}
    for name in filenames:
        lines = [line for line in Path(name).read_text().splitlines() if line and not line.startswith("#")]
        header = lines[0].split("\t")
        rows = np.array([line.split("\t") for line in lines[1:]], dtype=float).reshape(-1, len(header))
        for i, column in enumerate(header):
            columns.setdefault(_ASCII_COLUMNS.get(column, column), []).append(rows[:, i])
    return {k: np.concatenate(v) for k, v in columns.items()}


def collect(module_name: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Kernel figures, node models and every recorder's events, through the PyNEST API both modules share."""
    nest = sys.modules.get(module_name) or importlib.import_module(module_name)
    info: dict[str, Any] = {"missing_api": [], "recorders": []}
    arrays: dict[str, np.ndarray] = {}

    def kernel(key: str) -> Any:
        try:
            value = nest.GetKernelStatus(key)
            return value.item() if isinstance(value, np.generic) else value
        except Exception as exc:  # noqa: BLE001 -- a missing kernel key is reported, not fatal
            info["missing_api"].append(f"GetKernelStatus({key!r}): {type(exc).__name__}: {exc}"[:300])
            return None

    for key in ("network_size", "biological_time", "resolution", "num_connections"):
        info[key] = kernel(key)
    n = info["network_size"]
    if not n:
        info["models"] = []
        return info, arrays
    try:
        nodes = nest.NodeCollection(list(range(1, n + 1)))
        models = [str(m) for m in _as_list(nodes.get("model"), n)]
    except Exception as exc:  # noqa: BLE001
        info["missing_api"].append(f"NodeCollection(ids).get('model'): {type(exc).__name__}: {exc}"[:300])
        info["models"] = None
        return info, arrays
    info["models"] = models
    for node_id, model in enumerate(models, start=1):
        if model not in RECORDER_MODELS:
            continue
        rec: dict[str, Any] = {"id": node_id, "model": model, "keys": []}
        try:
            node = nest.NodeCollection([node_id])
            record_to = str(node.get("record_to"))
            events = node.get("events") if record_to == "memory" else _ascii_events(node.get("filenames"))
            for k, v in dict(events).items():
                arr = np.asarray(v)
                if arr.dtype == object:
                    arr = arr.astype(float)
                arrays[f"r{node_id}__{k}"] = arr
                rec["keys"].append(k)
            rec["n_events"] = int(node.get("n_events"))
            rec["record_to"] = record_to
        except Exception as exc:  # noqa: BLE001
            info["missing_api"].append(f"recorder {node_id} ({model}) events: {type(exc).__name__}: {exc}"[:300])
        info["recorders"].append(rec)
    return info, arrays


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    module_name, script, out = argv[1], Path(argv[2]), Path(argv[3])
    os.environ.setdefault("MPLBACKEND", "Agg")
    t0 = time.perf_counter()
    status = run_script(script)
    status["seconds"] = time.perf_counter() - t0
    status["module"] = module_name
    arrays: dict[str, np.ndarray] = {}
    if status["ok"]:
        try:
            info, arrays = collect(module_name)
            status["kernel"] = info
        except BaseException as exc:  # noqa: BLE001 -- the driver itself must report, not die
            status["collect_error"] = _exception_record(exc, script.resolve().parent)
    np.savez(str(out) + ".npz", **arrays)
    Path(str(out) + ".json").write_text(json.dumps(status, default=str))
    sys.stdout.flush()
    sys.stderr.flush()
    # NEST's and Numba's teardown can crash after the results are written; the results are what counts.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
