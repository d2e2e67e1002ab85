"""NVTX ranges that name the engine's phases in Nsight timelines, free when profiling is off.

Ranges are recorded only when the environment variable ``CORTEX_GPU_NVTX``
is set to ``1`` (read once, at import) and the ``nvtx`` package is
importable (``pip install 'cortex_gpu[nvtx]'``); otherwise :func:`range`
returns one shared no-op context manager, so a range costs a function call.

Phases named by the engine: ``build``, ``deliver``, ``update``,
``exchange``, ``record`` (``deliver+update`` for one rank, where both run in
one parallel region); the CUDA backend adds ``upload``, ``graph`` (a
captured chunk of steps, whose kernels Nsight shows by name) and ``step``
(kernel by kernel, when timed).

Example::

    CORTEX_GPU_NVTX=1 nsys run -t cuda,nvtx cortex-gpu run microcircuit --backend cuda
"""
from __future__ import annotations

import contextlib
import os

__all__ = ["range", "push", "pop", "swap", "enabled", "ENV_VAR", "DOMAIN"]

ENV_VAR = "CORTEX_GPU_NVTX"
DOMAIN = "cortex_gpu"
_OFF = contextlib.nullcontext()


def _load_nvtx():
    if os.environ.get(ENV_VAR, "") != "1":
        return None
    try:
        import nvtx
    except ImportError:
        return None
    return nvtx


_NVTX = _load_nvtx()


def enabled() -> bool:
    """Whether ranges are being recorded."""
    return _NVTX is not None


def range(name: str):  # noqa: A001 (shadows the builtin on purpose: profiling.range("deliver"))
    """A context manager that marks ``name`` on the timeline (a no-op when profiling is off)."""
    if _NVTX is None:
        return _OFF
    return _NVTX.annotate(name, domain=DOMAIN)


def push(name: str) -> None:
    """Open range ``name`` until the matching :func:`pop` (a line before and after a call, where a
    ``with`` block would re-indent code that others are editing)."""
    if _NVTX is not None:
        _NVTX.push_range(name, domain=DOMAIN)


def pop() -> None:
    """Close the range opened last by :func:`push`."""
    if _NVTX is not None:
        _NVTX.pop_range(domain=DOMAIN)


def swap(name: str) -> None:
    """Close the current range and open ``name`` (one phase follows another)."""
    pop()
    push(name)
