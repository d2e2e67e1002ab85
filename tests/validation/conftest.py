"""Validation against NEST 3.10 through the benchmark's NEST peer, run in a subprocess.

NEST and Numba each bring an OpenMP runtime; once Numba has started its
threads, NEST's ResetKernel in the same process crashes (seen with NEST
3.10.0 and Numba 0.68). So these tests never import NEST: they run
``bench/nest_microcircuit.py`` (the builder the benchmark uses) in a fresh
Python process and read its JSON output.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

REPO = Path(__file__).resolve().parents[2]
NEST_WORKER = REPO / "bench" / "nest_microcircuit.py"


def nest_available() -> bool:
    """True when nest-simulator is installed (checked without importing it)."""
    return importlib.util.find_spec("nest") is not None


@pytest.fixture(scope="session")
def nest_worker() -> Callable[..., dict]:
    """Run the NEST peer script with the given command-line arguments; returns its JSON record."""
    if not nest_available():
        pytest.skip("nest-simulator is not installed")

    def run(*args: str, timeout_s: float = 600.0) -> dict:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        # Single-threaded NEST needs no OpenMP barrier; with threads on a shared
        # machine, spinning waits cost milliseconds per step.
        env.setdefault("OMP_WAIT_POLICY", "passive")
        proc = subprocess.run([sys.executable, str(NEST_WORKER), *args], env=env, capture_output=True,
                              text=True, timeout=timeout_s)
        assert proc.returncode == 0, f"NEST peer failed ({' '.join(args)}):\n{proc.stderr[-3000:]}"
        return json.loads([ln for ln in proc.stdout.splitlines() if ln.startswith("{")][-1])

    return run
