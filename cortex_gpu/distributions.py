"""Random parameter distributions for weights, delays and initial states.

A distribution is a small frozen object on the API side and a row of five
float64 numbers on the kernel side, ``(kind, a, b, low, high)``, so that the
build kernels can draw from it without Python objects:

========  ==================  ====================================
kind      a, b                value
========  ==================  ====================================
0 const   value, -            ``a``
1 normal  mean, std           ``a + b * N(0, 1)``
2 uniform low, high           ``a + (b - a) * U(0, 1)``
3 lognorm mu, sigma           ``exp(a + b * N(0, 1))`` (NEST's lognormal)
========  ==================  ====================================

``low``/``high`` bound the value: draws outside ``[low, high]`` are redrawn,
as ``nest.math.redraw`` does. Every draw is keyed by ``(seed, stream,
entity, index)``, so the value of one synapse or one neuron does not depend
on which rank or thread draws it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from . import philox

__all__ = [
    "Distribution", "Constant", "Normal", "Uniform", "Lognormal", "Redraw",
    "as_row", "draw", "MAX_REDRAWS", "RedrawError",
]

#: Draws outside the bounds of a :class:`Redraw` are retried this often
#: before the build fails (NEST's redraw gives up after 1000 tries too).
MAX_REDRAWS = 1000

KIND_CONST, KIND_NORMAL, KIND_UNIFORM, KIND_LOGNORMAL = 0, 1, 2, 3


class RedrawError(ValueError):
    """A bounded distribution gave no value inside its bounds."""


@dataclass(frozen=True)
class Distribution:
    """Base class: a value drawn independently per synapse or per neuron."""

    def row(self) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:  # pragma: no cover - cosmetic
        return f"{type(self).__name__}{tuple(self.__dict__.values())}"


@dataclass(frozen=True, repr=False)
class Constant(Distribution):
    value: float

    def row(self) -> np.ndarray:
        return np.array([KIND_CONST, self.value, 0.0, -np.inf, np.inf])


@dataclass(frozen=True, repr=False)
class Normal(Distribution):
    mean: float = 0.0
    std: float = 1.0

    def row(self) -> np.ndarray:
        if not self.std >= 0.0:
            raise ValueError(f"normal distribution: std must be >= 0, got {self.std}")
        return np.array([KIND_NORMAL, self.mean, self.std, -np.inf, np.inf])


@dataclass(frozen=True, repr=False)
class Uniform(Distribution):
    low: float = 0.0
    high: float = 1.0

    def row(self) -> np.ndarray:
        if not self.high >= self.low:
            raise ValueError(f"uniform distribution: need low <= high, got {self.low}, {self.high}")
        return np.array([KIND_UNIFORM, self.low, self.high, -np.inf, np.inf])


@dataclass(frozen=True, repr=False)
class Lognormal(Distribution):
    """``exp(N(mean, std))``; ``mean`` and ``std`` of the underlying normal, as in NEST."""

    mean: float = 0.0
    std: float = 1.0

    def row(self) -> np.ndarray:
        if not self.std >= 0.0:
            raise ValueError(f"lognormal distribution: std must be >= 0, got {self.std}")
        return np.array([KIND_LOGNORMAL, self.mean, self.std, -np.inf, np.inf])


@dataclass(frozen=True, repr=False)
class Redraw(Distribution):
    """``dist`` restricted to ``[low, high]`` by redrawing (``nest.math.redraw``)."""

    dist: Distribution
    low: float = -np.inf
    high: float = np.inf

    def row(self) -> np.ndarray:
        r = self.dist.row()
        r[3] = max(r[3], self.low)
        r[4] = min(r[4], self.high)
        if not r[3] <= r[4]:
            raise ValueError(f"redraw bounds are empty: [{self.low}, {self.high}]")
        return r


def as_row(value: float | Distribution) -> np.ndarray:
    """Kernel form ``(kind, a, b, low, high)`` of a scalar or a distribution."""
    if isinstance(value, Distribution):
        return value.row()
    return Constant(float(value)).row()


# Inlined: it runs once per synapse or neuron, and a call would reference-count ``row``.
@numba.njit(cache=True, inline="always")
def draw(row: np.ndarray, seed: int, stream: int, entity: int, index: int) -> float:
    """One value of the distribution ``row`` for the key ``(entity, index)``.

    Returns NaN when no draw falls within the bounds after MAX_REDRAWS tries;
    callers turn that into a :class:`RedrawError` naming the projection.
    """
    kind = int(row[0])
    a = row[1]
    b = row[2]
    if kind == KIND_CONST:
        return a
    sub = 0
    for _ in range(MAX_REDRAWS):
        if kind == KIND_UNIFORM:
            u, sub = philox.uniform(seed, stream, entity, index, sub)
            x = a + (b - a) * u
        else:
            z, sub = philox.normal(seed, stream, entity, index, sub)
            x = a + b * z
            if kind == KIND_LOGNORMAL:
                x = philox.pexp(x)
        if row[3] <= x <= row[4]:
            return x
    return np.nan
