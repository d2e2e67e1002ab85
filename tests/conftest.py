"""Shared fixtures: the PyNEST layer with a fresh kernel, one script run with both NEST and it, and the
CUDA kernels' CPU emulator behind a stand-in for CuPy (tests/cuda_emulator)."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path
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


@pytest.fixture(scope="session")
def emulator_lib(tmp_path_factory) -> Path:
    """The kernel emulator library (tests/cuda_emulator/emulator.cpp), built once per session."""
    from cuda_cases import build_emulator
    if shutil.which("g++") is None:
        pytest.skip("g++ is not on PATH: the kernel emulator cannot be built")
    return build_emulator(tmp_path_factory.mktemp("emu") / "libcg_emulator.so")


def _fake_cupy(monkeypatch, emulator_lib: Path, n_devices: int):
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent / "cuda_emulator"))
    from fake_cupy import make_fake_cupy
    from cortex_gpu.backends import cuda
    cp = make_fake_cupy(emulator_lib, n_devices=n_devices)
    monkeypatch.setitem(sys.modules, "cupy", cp)
    cuda._module.cache_clear()
    return cp


@pytest.fixture
def fake_cupy(monkeypatch, emulator_lib):
    """``import cupy`` gives the emulator-backed stand-in for the duration of a test."""
    from cortex_gpu.backends import cuda
    yield _fake_cupy(monkeypatch, emulator_lib, 1)
    cuda._module.cache_clear()


@pytest.fixture
def fake_gpus(monkeypatch, emulator_lib):
    """``import cupy`` gives the emulator's stand-in with three devices."""
    from cortex_gpu.backends import cuda
    yield _fake_cupy(monkeypatch, emulator_lib, 3)
    cuda._module.cache_clear()
