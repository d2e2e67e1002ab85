"""NVTX ranges that name the engine's phases in Nsight timelines, free when profiling is off.

Ranges are recorded only when the environment variable ``CORTEX_GPU_NVTX``
is set to ``1`` (read once, at import) and the ``nvtx`` package is
importable (``pip install 'cortex_gpu[nvtx]'``); otherwise :func:`range`
returns one shared no-op context manager, so a range costs a function call.

Phases named by the engine: ``build``, ``deliver``, ``update``,
``exchange``, ``record``; the CUDA backend adds ``upload`` and ``graph``
(a captured chunk of steps, whose kernels Nsight shows by name).

Example::

    CORTEX_GPU_NVTX=1 nsys run -t cuda,nvtx cortex-gpu run microcircuit --backend cuda
"""
from __future__ import annotations

import contextlib
import os

__all__ = ["range", "enabled", "ENV_VAR", "DOMAIN"]

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
