"""``nest.random``: random parameters for node parameters, weights and delays, with NEST's arithmetic.

A :class:`Parameter` is an expression: leaves are distributions
(``normal``, ``uniform``, ``lognormal``, ``exponential``, ``uniform_int``)
or numbers, inner nodes are ``+ - * / **``, unary ``-`` and the
:mod:`~cortex_gpu.pynest.math` functions. As in NEST, each leaf is drawn
once per node or connection and the expression is then evaluated on the
drawn values.

Node parameters are drawn on the host at ``Create``/``set``
(:meth:`Parameter.draw`), keyed by ``rng_seed``, a stream and the node id,
so they do not depend on the number of threads; they are not NEST's
numbers. Connections are drawn inside the core's build, which knows the
families of :mod:`cortex_gpu.distributions` only: :meth:`Parameter.distribution`
rewrites an expression into one of them when that is exact in law (affine
maps of normal and uniform values, positive multiples and powers of
lognormal ones, ``exp`` of a normal, sums of independent normals, bounds by
``redraw``) and raises :class:`NotImplementedError` naming the expression
otherwise.
"""
from __future__ import annotations

import math as _m
from typing import Any

import numpy as np

from .. import philox
from ..distributions import MAX_REDRAWS, Constant, Distribution, Lognormal, Normal, Redraw, Uniform, as_row, draw

__all__ = ["Parameter", "normal", "uniform", "lognormal", "exponential", "uniform_int"]

_BINARY = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide, "**": np.power,
           "min": np.minimum, "max": np.maximum}
_UNARY = {"neg": np.negative, "exp": np.exp, "sin": np.sin, "cos": np.cos}


class Parameter:
    """A value drawn independently per node or per connection; see the module docstring.

    Build parameters with the functions of ``nest.random`` and ``nest.math``
    and with arithmetic, not with this constructor: ``Parameter(dist)``
    wraps a :class:`~cortex_gpu.distributions.Distribution`.
    """

    def __init__(self, dist: Distribution | None = None, *, op: str = "dist", args: tuple = ()):
        if dist is not None:
            op, args = "dist", (dist,)
        self.op, self.args = op, tuple(args)

    # ------------------------------------------------------------------ building
    @staticmethod
    def _wrap(x: Any) -> "Parameter":
        if isinstance(x, Parameter):
            return x
        if isinstance(x, (bool, np.bool_)) or np.ndim(x) != 0:
            raise TypeError(f"nest.random parameters combine with numbers and parameters, not {type(x).__name__}")
        return Parameter(op="const", args=(float(x),))

    def _bin(self, name: str, other: Any, swap: bool = False) -> "Parameter":
        o = Parameter._wrap(other)
        return Parameter(op=name, args=(o, self) if swap else (self, o))

    def __add__(self, o): return self._bin("+", o)             # noqa: E704
    def __radd__(self, o): return self._bin("+", o, True)      # noqa: E704
    def __sub__(self, o): return self._bin("-", o)             # noqa: E704
    def __rsub__(self, o): return self._bin("-", o, True)      # noqa: E704
    def __mul__(self, o): return self._bin("*", o)             # noqa: E704
    def __rmul__(self, o): return self._bin("*", o, True)      # noqa: E704
    def __truediv__(self, o): return self._bin("/", o)         # noqa: E704
    def __rtruediv__(self, o): return self._bin("/", o, True)  # noqa: E704
    def __pow__(self, o): return self._bin("**", o)            # noqa: E704
    def __neg__(self): return Parameter(op="neg", args=(self,))  # noqa: E704
    def __pos__(self): return self                             # noqa: E704

    def _compare(self, other: Any) -> "Parameter":
        raise NotImplementedError("comparing nest.random parameters (conditional parameters, "
                                  "nest.logic.conditional) is not supported by cortex_gpu.pynest")

    __lt__ = __le__ = __gt__ = __ge__ = _compare

    def __repr__(self) -> str:
        op, a = self.op, self.args
        if op == "dist":
            d = a[0]
            names = {Normal: "normal(mean={}, std={})", Uniform: "uniform(min={}, max={})",
                     Lognormal: "lognormal(mean={}, std={})"}
            fmt = names.get(type(d))
            return fmt.format(*d.__dict__.values()) if fmt else repr(d)
        if op == "const":
            return repr(a[0])
        if op == "exponential":
            return f"exponential(beta={a[0]})"
        if op == "uniform_int":
            return f"uniform_int(max={a[0]})"
        if op == "redraw":
            return f"redraw({a[0]!r}, min={a[1]}, max={a[2]})"
        if op == "neg":
            return f"-({a[0]!r})"
        if op in _UNARY:
            return f"{op}({a[0]!r})"
        if op in ("min", "max"):
            return f"{op}({a[0]!r}, {a[1]!r})"
        return f"({a[0]!r} {op} {a[1]!r})"

    # ------------------------------------------------------------------ drawing on the host
    def _leaves(self) -> int:
        if self.op in ("dist", "exponential", "uniform_int"):
            return 1
        if self.op == "const":
            return 0
        if self.op == "redraw":
            return self.args[0]._leaves()
        return sum(c._leaves() for c in self.args)

    def _sample(self, ids: np.ndarray, seed: int, stream: int, index: int) -> np.ndarray:
        """Values for ``ids``; leaves use the draw indices ``index, index + 1, ...`` in tree order."""
        op, a = self.op, self.args
        if op == "const":
            return np.full(ids.size, a[0])
        if op == "dist" or (op == "redraw" and a[0].op == "dist"):
            dist = a[0] if op == "dist" else Redraw(a[0].args[0], a[1], a[2])
            row = as_row(dist)
            return np.array([draw(row, seed, stream, int(i), index) for i in ids], dtype=float)
        if op in ("exponential", "uniform_int"):
            u = np.array([philox.uniform(seed, stream, int(i), index, 0)[0] for i in ids], dtype=float)
            if op == "exponential":   # NEST: beta * Exp(1), mean beta
                return -a[0] * np.log(u)
            return np.minimum(np.floor(u * a[0]), a[0] - 1)
        if op == "redraw":
            child, lo, hi = a
            n_leaves = max(child._leaves(), 1)
            out = np.full(ids.size, np.nan)
            todo = np.arange(ids.size)
            for t in range(MAX_REDRAWS):   # try t uses fresh draw indices for every leaf
                v = child._sample(ids[todo], seed, stream, index + t * n_leaves)
                ok = (v >= lo) & (v <= hi)
                out[todo[ok]] = v[ok]
                todo = todo[~ok]
                if todo.size == 0:
                    break
            return out
        if op in _UNARY:
            return _UNARY[op](a[0]._sample(ids, seed, stream, index))
        left = a[0]._sample(ids, seed, stream, index)
        right = a[1]._sample(ids, seed, stream, index + a[0]._leaves())
        with np.errstate(divide="ignore", invalid="ignore"):
            return _BINARY[op](left, right)

    def draw(self, ids: np.ndarray, seed: int, stream: int) -> np.ndarray:
        """One value per entity of ``ids`` (float64), keyed by ``(seed, stream, id)``.

        A single distribution is drawn with index 0, as before arithmetic
        existed, so values drawn with a plain ``nest.random.normal`` are
        unchanged. NaN where a ``redraw`` found no value within its bounds.
        """
        return self._sample(np.asarray(ids, np.int64).ravel(), int(seed), int(stream), 0)

    def GetValue(self) -> float:
        """One value, as NEST's ``Parameter.GetValue``: keyed by ``rng_seed`` and a per-kernel counter."""
        from .kernel import KERNEL
        from .. import keys
        count = getattr(KERNEL, "_getvalue_count", 0)
        KERNEL._getvalue_count = count + 1
        return float(self.draw(np.array([count]), KERNEL.rng_seed, keys.stream(keys.PARAM, 1 << 22))[0])

    # ------------------------------------------------------------------ rewriting for the core
    @property
    def dist(self) -> Distribution:
        """The core distribution equal in law to this expression (see :meth:`distribution`)."""
        return self.distribution()

    def distribution(self) -> Distribution:
        """A :mod:`cortex_gpu.distributions` object with this expression's law, for the core's build.

        Raises
        ------
        NotImplementedError
            When no core distribution has the expression's law exactly.
        """
        d = self._reduce()
        if d is None:
            raise NotImplementedError(
                f"the random parameter {self!r} cannot be drawn by the core for connections (it draws "
                "normal, uniform and lognormal values, their affine maps, exp of a normal, sums of "
                "normals and redraw bounds); use it for node parameters, or draw the values with numpy "
                "and pass arrays")
        return d

    def _reduce(self) -> Distribution | None:
        op, a = self.op, self.args
        if op == "dist":
            return a[0]
        if op == "const":
            return Constant(a[0])
        if op in ("exponential", "uniform_int", "sin", "cos", "min", "max"):
            return None
        if op == "redraw":
            d = a[0]._reduce()
            return None if d is None else _bounded(d, a[1], a[2])
        kids = [c._reduce() for c in a]
        if any(k is None for k in kids):
            return None
        if op == "neg":
            return _affine(kids[0], -1.0, 0.0)
        if op == "exp":
            return _exp(kids[0])
        x, y = kids
        cx, cy = isinstance(x, Constant), isinstance(y, Constant)
        if cx and cy:
            with np.errstate(all="ignore"):
                return Constant(float(_BINARY[op](x.value, y.value)))
        if op == "+":
            return _affine(y, 1.0, x.value) if cx else _affine(x, 1.0, y.value) if cy else _sum(x, y, 1.0)
        if op == "-":
            return _affine(y, -1.0, x.value) if cx else _affine(x, 1.0, -y.value) if cy else _sum(x, y, -1.0)
        if op == "*":
            return _affine(y, x.value, 0.0) if cx else _affine(x, y.value, 0.0) if cy else None
        if op == "/":
            return _affine(x, 1.0 / y.value, 0.0) if cy and y.value != 0.0 else None
        if op == "**" and cy:
            return _power(x, y.value)
        return None


def _bounded(d: Distribution, lo: float, hi: float) -> Distribution:
    if isinstance(d, Redraw):
        return Redraw(d.dist, max(d.low, lo), min(d.high, hi))
    return Redraw(d, lo, hi)


def _affine(d: Distribution, a: float, b: float) -> Distribution | None:
    """``a * X + b`` for ``X`` of law ``d``, as a core distribution, or None."""
    if isinstance(d, Constant):
        return Constant(a * d.value + b)
    if a == 0.0:
        return Constant(b)
    if isinstance(d, Redraw):
        inner = _affine(d.dist, a, b)
        if inner is None:
            return None
        lo, hi = sorted((a * d.low + b, a * d.high + b))
        return _bounded(inner, lo, hi)
    if isinstance(d, Normal):
        return Normal(a * d.mean + b, abs(a) * d.std)
    if isinstance(d, Uniform):
        lo, hi = sorted((a * d.low + b, a * d.high + b))
        return Uniform(lo, hi)
    if isinstance(d, Lognormal) and a > 0.0 and b == 0.0:
        return Lognormal(d.mean + _m.log(a), d.std)
    return None


def _exp(d: Distribution) -> Distribution | None:
    if isinstance(d, Constant):
        return Constant(_m.exp(d.value))
    if isinstance(d, Normal):
        return Lognormal(d.mean, d.std)
    if isinstance(d, Redraw) and isinstance(d.dist, Normal):
        return Redraw(Lognormal(d.dist.mean, d.dist.std), _m.exp(d.low) if d.low > -np.inf else 0.0,
                      _m.exp(d.high) if d.high < np.inf else np.inf)
    return None


def _sum(x: Distribution, y: Distribution, sign: float) -> Distribution | None:
    """``X + sign * Y`` for independent ``X``, ``Y``: normal when both are normal."""
    if isinstance(x, Normal) and isinstance(y, Normal):
        return Normal(x.mean + sign * y.mean, _m.hypot(x.std, y.std))
    return None


def _power(d: Distribution, c: float) -> Distribution | None:
    if isinstance(d, Lognormal) and c != 0.0:
        return Lognormal(c * d.mean, abs(c) * d.std)
    if c == 1.0:
        return d
    return None


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
    """Exponentially distributed values with scale (mean) ``beta``, as NEST's; node parameters only."""
    if not float(beta) > 0.0:
        raise ValueError(f"exponential: beta must be > 0, got {beta}")
    return Parameter(op="exponential", args=(float(beta),))


def uniform_int(max: int = 1) -> Parameter:  # noqa: A002
    """Integers uniformly in ``[0, max)`` (as floats, as NEST's); node parameters only."""
    if int(max) != max or int(max) < 1:
        raise ValueError(f"uniform_int: max must be a positive integer, got {max}")
    return Parameter(op="uniform_int", args=(float(int(max)),))
