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

import math

import numba
import numpy as np

from . import philox

__all__ = [
    "Distribution", "Constant", "Normal", "Uniform", "Lognormal", "Redraw",
    "as_row", "draw", "grid_cdf", "MAX_REDRAWS", "RedrawError", "GRID_CDF_MAX",
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
            z, sub = philox.normal_zig(seed, stream, entity, index, sub)
            x = a + b * z
            if kind == KIND_LOGNORMAL:
                x = philox.pexp(x)
        if row[3] <= x <= row[4]:
            return x
    return np.nan


#: Largest grid table :func:`grid_cdf` makes; wider distributions are drawn directly.
GRID_CDF_MAX = 1 << 16
#: Tails beyond this many standard deviations carry < 1e-32 of the mass.
_TAIL_SD = 12.0


def _std_normal_cdf(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


@numba.njit(cache=True)
def _normal_bin_mass(lo_edge: np.ndarray, hi_edge: np.ndarray, mean: float, std: float) -> np.ndarray:
    """``max(Phi((hi - mean) / std) - Phi((lo - mean) / std), 0)`` per bin, compiled: a delay
    table has thousands of bins, and a model such as the macaque multi-area one thousands of tables."""
    out = np.empty(lo_edge.size)
    s2 = math.sqrt(2.0)
    for i in range(lo_edge.size):   # the same operations as _std_normal_cdf, so the same table
        m = 0.5 * math.erfc(-((hi_edge[i] - mean) / std) / s2) - 0.5 * math.erfc(-((lo_edge[i] - mean) / std) / s2)
        out[i] = m if m > 0.0 else 0.0
    return out


def grid_cdf(row: np.ndarray, step: float) -> tuple[int, np.ndarray] | None:
    """Distribution of ``floor(x / step + 0.5)`` for ``x`` from ``row``: ``(k_first, cdf)`` (host).

    ``cdf[i] = P(k <= k_first + i)``, the last entry exactly 1.0, for a
    continuous distribution restricted to ``[low, high]`` (redrawn, so the
    conditional distribution). Drawing ``k`` by inverting this table with
    one uniform gives delays in steps with exactly the law of a value drawn
    and then rounded to the grid (as NEST rounds delays), at the cost of one
    table search instead of a normal variate. Returns None for constants,
    degenerate ranges, and tables wider than :data:`GRID_CDF_MAX`; those are
    drawn value by value.
    """
    kind, a, b, low, high = (float(v) for v in row)
    if kind == KIND_NORMAL and b > 0.0:
        lo_x, hi_x = max(low, a - _TAIL_SD * b), min(high, a + _TAIL_SD * b)
        cdf_x = lambda x: _std_normal_cdf((x - a) / b)  # noqa: E731
    elif kind == KIND_LOGNORMAL and b > 0.0:
        lo_x = max(low, math.exp(a - _TAIL_SD * b)) if a - _TAIL_SD * b > -700 else max(low, 0.0)
        hi_x = min(high, math.exp(a + _TAIL_SD * b)) if a + _TAIL_SD * b < 700 else high
        cdf_x = lambda x: 0.0 if x <= 0.0 else _std_normal_cdf((math.log(x) - a) / b)  # noqa: E731
    elif kind == KIND_UNIFORM and b > a:
        lo_x, hi_x = max(low, a), min(high, b)
        cdf_x = lambda x: min(max((x - a) / (b - a), 0.0), 1.0)  # noqa: E731
    else:
        return None
    if not (math.isfinite(lo_x) and math.isfinite(hi_x)) or not hi_x > lo_x:
        return None
    k_first = math.floor(lo_x / step + 0.5)
    k_last = math.floor(hi_x / step + 0.5)
    if k_last - k_first + 1 > GRID_CDF_MAX:
        return None
    ks = np.arange(k_first, k_last + 1)
    # bin k holds [(k - 1/2) step, (k + 1/2) step), clipped to the bounds
    lo_edge = np.maximum((ks - 0.5) * step, lo_x)
    hi_edge = np.minimum((ks + 0.5) * step, hi_x)
    if kind == KIND_NORMAL:
        mass = _normal_bin_mass(lo_edge.astype(np.float64), hi_edge.astype(np.float64), a, b)
    else:
        mass = np.array([max(cdf_x(h) - cdf_x(l), 0.0) for l, h in zip(lo_edge, hi_edge)])
    total = mass.sum()
    if not total > 0.0:
        return None
    cdf = np.cumsum(mass) / total
    cdf[-1] = 1.0
    return int(k_first), cdf
