"""``nest.math``: functions of random parameters (``exp``, ``sin``, ``cos``, ``min``, ``max``, ``redraw``).

Each returns a :class:`~cortex_gpu.pynest.random.Parameter` expression,
evaluated on the drawn values as NEST does. For connections the core can
draw ``exp`` of a normal and ``redraw`` bounds only; the others are node
parameters only (see :meth:`Parameter.distribution`).
"""
from __future__ import annotations

import numpy as np

from .random import Parameter

__all__ = ["redraw", "exp", "sin", "cos", "min", "max"]


def _param(value: object, fn: str) -> Parameter:
    if not isinstance(value, Parameter):
        raise TypeError(f"nest.math.{fn} needs a nest.random parameter, got {type(value).__name__}")
    return value


def redraw(value: Parameter, min: float = -np.inf, max: float = np.inf) -> Parameter:  # noqa: A002
    """``value`` restricted to [min, max]: draws outside are drawn again (up to 1000 times)."""
    _param(value, "redraw")
    if not float(min) <= float(max):
        raise ValueError(f"redraw: min ({min}) must not be larger than max ({max})")
    return Parameter(op="redraw", args=(value, float(min), float(max)))


def exp(x: Parameter) -> Parameter:
    """``exp`` of each drawn value."""
    return Parameter(op="exp", args=(_param(x, "exp"),))


def sin(x: Parameter) -> Parameter:
    """``sin`` of each drawn value (radians)."""
    return Parameter(op="sin", args=(_param(x, "sin"),))


def cos(x: Parameter) -> Parameter:
    """``cos`` of each drawn value (radians)."""
    return Parameter(op="cos", args=(_param(x, "cos"),))


def min(x: Parameter, value: float) -> Parameter:  # noqa: A001 - NEST's name
    """The smaller of each drawn value and ``value``."""
    return Parameter(op="min", args=(_param(x, "min"), Parameter._wrap(value)))


def max(x: Parameter, value: float) -> Parameter:  # noqa: A001
    """The larger of each drawn value and ``value``."""
    return Parameter(op="max", args=(_param(x, "max"), Parameter._wrap(value)))
