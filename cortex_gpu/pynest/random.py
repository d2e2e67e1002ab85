"""``nest.random``: random parameters for node parameters, weights and delays (drawn by the core)."""
from __future__ import annotations

from typing import Any

from ..distributions import Distribution, Lognormal, Normal, Uniform

__all__ = ["Parameter", "normal", "uniform", "lognormal", "exponential", "uniform_int"]


class Parameter:
    """A random value, drawn independently per node or per connection when the network is built.

    Wraps a :mod:`cortex_gpu.distributions` object. Draws are keyed by the
    kernel's ``rng_seed`` and global ids, so they do not depend on the
    number of threads; they are not NEST's numbers. Arithmetic on parameters
    (``2 * nest.random.normal()``) is not supported yet and raises.
    """

    def __init__(self, dist: Distribution):
        self.dist = dist

    def __repr__(self) -> str:
        return f"Parameter({self.dist!r})"

    def _arith(self, *args: Any) -> "Parameter":
        raise NotImplementedError("arithmetic on nest.random parameters is not supported yet")

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _arith
    __truediv__ = __rtruediv__ = __pow__ = __neg__ = _arith
    __lt__ = __le__ = __gt__ = __ge__ = _arith

    def GetValue(self) -> float:
        raise NotImplementedError("Parameter.GetValue is not supported yet")


def normal(mean: float = 0.0, std: float = 1.0) -> Parameter:
    """Normally distributed values with ``mean`` and standard deviation ``std``."""
    return Parameter(Normal(float(mean), float(std)))


def uniform(min: float = 0.0, max: float = 1.0) -> Parameter:  # noqa: A002 - NEST's names
    """Uniformly distributed values in [min, max)."""
    return Parameter(Uniform(float(min), float(max)))


def lognormal(mean: float = 0.0, std: float = 1.0) -> Parameter:
    """``exp(N(mean, std))``: ``mean`` and ``std`` of the underlying normal distribution, as in NEST."""
    return Parameter(Lognormal(float(mean), float(std)))


def exponential(beta: float = 1.0) -> Parameter:
    """Not supported: raises :class:`NotImplementedError`."""
    raise NotImplementedError("nest.random.exponential is not supported yet")


def uniform_int(max: int = 1) -> Parameter:  # noqa: A002
    """Not supported: raises :class:`NotImplementedError`."""
    raise NotImplementedError("nest.random.uniform_int is not supported yet")
