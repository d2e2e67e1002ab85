"""Shared fixtures: the PyNEST layer with a fresh kernel, and one script run with both NEST and it."""
from __future__ import annotations

from typing import Any, Callable

import numba
import pytest

import cortex_gpu.pynest as ours

# NEST and Numba's OpenMP layer bring two OpenMP runtimes into one process, and
# nest.ResetKernel then crashes; results do not depend on the threading layer.
numba.config.THREADING_LAYER = "workqueue"


def _reset_ours() -> None:
    ours.ResetKernel()
    # NEST stores weights as doubles; float64 keeps the comparison exact.
    ours.weight_dtype = "float64"


@pytest.fixture
def nest_ours():
    """``cortex_gpu.pynest`` with a reset kernel (float64 weights); reset again afterwards."""
    _reset_ours()
    yield ours
    ours.ResetKernel()


@pytest.fixture
def run_both() -> Callable[..., tuple[Any, Any]]:
    """``run_both(script, *args)`` -> ``(script(nest, *args), script(cortex_gpu.pynest, *args))``.

    The script is the same function for both modules, so both run literally
    the same code; each kernel is reset before its run. Skips without NEST.
    """
    nest = pytest.importorskip("nest")

    def run(script: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        nest.ResetKernel()
        nest.verbosity = nest.VerbosityLevel.ERROR
        theirs = script(nest, *args, **kwargs)
        _reset_ours()
        mine = script(ours, *args, **kwargs)
        return theirs, mine

    yield run
    nest.ResetKernel()
    ours.ResetKernel()
