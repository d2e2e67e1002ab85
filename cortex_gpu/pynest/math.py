"""``nest.math``: bounding random parameters by redrawing (``redraw``); other functions raise."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..distributions import Redraw
from .random import Parameter

__all__ = ["redraw", "exp", "sin", "cos", "min", "max"]


def redraw(value: Parameter, min: float = -np.inf, max: float = np.inf) -> Parameter:  # noqa: A002
    """``value`` restricted to [min, max]: draws outside are drawn again (up to 1000 times)."""
    if not isinstance(value, Parameter):
        raise TypeError(f"redraw needs a nest.random parameter, got {type(value).__name__}")
    if not float(min) <= float(max):
        raise ValueError(f"redraw: min ({min}) must not be larger than max ({max})")
    return Parameter(Redraw(value.dist, float(min), float(max)))


def _unsupported(name: str):
    def f(*args: Any, **kwargs: Any) -> Parameter:
        raise NotImplementedError(f"nest.math.{name} is not supported yet")
    f.__name__ = name
    f.__doc__ = "Not supported: raises :class:`NotImplementedError`."
    return f


exp = _unsupported("exp")
sin = _unsupported("sin")
cos = _unsupported("cos")
min = _unsupported("min")  # noqa: A001 - NEST's name
max = _unsupported("max")  # noqa: A001
