"""Counter-based random numbers (Philox-4x32-10) and bit-reproducible samplers.

Every random number of a simulation is a pure function of a key, never of a
generator state, so that a value does not depend on which rank, thread or
device draws it, nor on the order of the draws. The key of one 128-bit block is

====================  ==================================================
Philox counter word   ``(sub, index, entity & 0xffffffff, entity >> 32)``
Philox key words      ``(seed & 0xffffffff, stream)``
====================  ==================================================

``seed`` is the 32-bit user seed, ``stream`` a 32-bit stream id (callers
derive it from purpose and projection), ``entity`` a 64-bit global id (a
neuron), ``index`` a 32-bit index (a synapse slot, a time step) and ``sub`` a
32-bit sub-counter. All words are taken modulo 2**32, as a C ``uint32_t``
would. Samplers take ``(seed, stream, entity, index, sub)`` and return
``(value, next_sub)``: chaining ``sub`` gives any number of independent values
for one ``(entity, index)``; a sampler consumes a data-dependent number of
blocks (rejection), so always continue from the returned ``next_sub``.

Why own transcendentals: ``kernels/philox.cuh`` mirrors this module so that
the same key gives the same bits on CPU (numba) and GPU (CUDA). Basic IEEE
operations (``+ - * /`` and ``sqrt``) are correctly rounded on both, but
libm's and CUDA's ``log``/``exp`` differ in the last ulp, which would change
a rejection decision or a Poisson count once in a while. So :func:`plog`,
:func:`plog1p`, :func:`pexp` and :func:`ppow` (which the STDP rule uses, see
backends/cpu.py) are written here in basic operations only,
with constants given as exact hex floats (shared verbatim with the header),
exponent/mantissa split by bit casts, and a fixed evaluation order. Neither
side may fuse multiply-adds: numba does not contract without ``fastmath``
(these functions are not numba-inlined, so a caller's ``fastmath`` does not
reach them); the header uses ``__dmul_rn``/``__dadd_rn`` explicitly.
"""
from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

__all__ = [
    "POISSON_INVERSION_MAX", "BINOMIAL_INVERSION_MAX",
    "philox4x32", "block", "blocks", "plog", "plog1p", "pexp", "ppow",
    "uniform", "uniform_int", "normal", "normal_zig", "normal_zig_first", "uniform_int_words", "poisson", "poisson_split", "poisson_cdf", "invert_cdf_u32", "invert_cdf_u32_start", "invert_cdf_u32_finish", "guide_table", "guide_steps", "zig_fast", "GUIDE_SIZE",
    "binomial",
    "log_factorial", "uniform_array", "normal_array", "poisson_array", "binomial_array",
]

#: Poisson means below this are drawn by inversion; larger ones must be split.
POISSON_INVERSION_MAX = 10.0
#: Binomials with ``n * min(p, 1-p)`` below this use inversion, others BTRS.
BINOMIAL_INVERSION_MAX = 10.0
_MAX_ATTEMPTS = 1000  # guard for rejection loops and inversion walks

_U32, _S32, _S26, _S6 = np.uint64(0xFFFFFFFF), np.uint64(32), np.uint64(26), np.uint64(6)
_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)  # Philox-4x32 multipliers
_W0, _W1 = np.uint64(0x9E3779B9), np.uint64(0xBB67AE85)  # Weyl key increments

_h = float.fromhex
# The same hex literals appear in kernels/philox.cuh (tests compare them).
_LN2_HI = _h("0x1.62e4200000000p-1")      # ln 2 with 32 trailing zero bits
_LN2_LO = _h("0x1.fdf473de6af28p-22")     # ln 2 - _LN2_HI
_INV_LN2 = _h("0x1.71547652b82fep+0")
_SQRT2 = _h("0x1.6a09e667f3bcdp+0")
_HALF_LOG_2PI = _h("0x1.d67f1c864beb5p-1")
_TWO_M52, _TWO_54, _TWO_M54 = _h("0x1.0p-52"), _h("0x1.0p+54"), _h("0x1.0p-54")
_TWO_M32 = _h("0x1.0p-32")
_MIN_NORMAL = _h("0x1.0p-1022")
_SPLIT = _h("0x1.0000002p+27")            # 2**27 + 1: Veltkamp's splitter of a double into two halves
# 2/(2k+1), k = 1..10: log(m) = 2s + s*R(s*s), s = (m-1)/(m+1)
_LG1, _LG2, _LG3, _LG4, _LG5 = (_h("0x1.5555555555555p-1"), _h("0x1.999999999999ap-2"),
                                _h("0x1.2492492492492p-2"), _h("0x1.c71c71c71c71cp-3"),
                                _h("0x1.745d1745d1746p-3"))
_LG6, _LG7, _LG8, _LG9, _LG10 = (_h("0x1.3b13b13b13b14p-3"), _h("0x1.1111111111111p-3"),
                                 _h("0x1.e1e1e1e1e1e1ep-4"), _h("0x1.af286bca1af28p-4"),
                                 _h("0x1.8618618618618p-4"))
# 1/k!, k = 2..13 (Taylor series of exp on |r| <= ln(2)/2)
_EX2, _EX3, _EX4, _EX5, _EX6, _EX7 = (
    _h("0x1.0000000000000p-1"), _h("0x1.5555555555555p-3"), _h("0x1.5555555555555p-5"),
    _h("0x1.1111111111111p-7"), _h("0x1.6c16c16c16c17p-10"), _h("0x1.a01a01a01a01ap-13"))
_EX8, _EX9, _EX10, _EX11, _EX12, _EX13 = (
    _h("0x1.a01a01a01a01ap-16"), _h("0x1.71de3a556c734p-19"), _h("0x1.27e4fb7789f5cp-22"),
    _h("0x1.ae64567f544e4p-26"), _h("0x1.1eed8eff8d898p-29"), _h("0x1.6124613a86d09p-33"))
# Stirling series B_2j / (2j (2j-1)), j = 1..7, in powers of 1/k
_ST1, _ST2, _ST3, _ST4, _ST5, _ST6, _ST7 = (
    _h("0x1.5555555555555p-4"), _h("-0x1.6c16c16c16c17p-9"), _h("0x1.a01a01a01a01ap-11"),
    _h("-0x1.3813813813814p-11"), _h("0x1.b951e2b18ff23p-11"), _h("-0x1.f6ab0d9993c7dp-10"),
    _h("0x1.a41a41a41a41ap-8"))
# Stirling remainder sc(k) = log k! - (k+1/2) log k + k - log(2 pi)/2, k = 0..9 (k = 0 unused)
_SC_TABLE = np.array([0.0] + [_h(s) for s in (
    "0x1.4c071bcda0a5bp-4", "0x1.52a9b923ea649p-5", "0x1.c579a268d80b3p-6",
    "0x1.54a2662fd78a9p-6", "0x1.10b4e513fcbedp-6", "0x1.c6b167bebdf36p-7",
    "0x1.85d4d612e4a86p-7", "0x1.552805e7b3076p-7", "0x1.2f4871b12ab64p-7")])

_jit = njit(cache=False, error_model="numpy")


@intrinsic
def _f64_bits(typingctx, x):
    """Bit pattern of a float64 as int64 (exact)."""
    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen


@intrinsic
def _bits_f64(typingctx, x):
    """Float64 with the given int64 bit pattern (exact)."""
    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


@njit(cache=False, error_model="numpy", inline="always")
def _rounds(c0, c1, c2, c3, k0, k1):
    """Philox-4x32-10 rounds, inlined into every caller so that loops over
    counters vectorize (:func:`blocks`); see :func:`philox4x32`."""
    x0, x1 = np.uint64(c0) & _U32, np.uint64(c1) & _U32
    x2, x3 = np.uint64(c2) & _U32, np.uint64(c3) & _U32
    a, b = np.uint64(k0) & _U32, np.uint64(k1) & _U32
    # The key is bumped after every round (the last bump is unused): without a
    # branch on the round number LLVM keeps the rounds straight-line, ~1.5x faster.
    for _ in range(10):
        p0 = _M0 * x0
        p1 = _M1 * x2
        x0, x1, x2, x3 = (((p1 >> _S32) ^ x1 ^ a) & _U32, p1 & _U32, ((p0 >> _S32) ^ x3 ^ b) & _U32,
                          p0 & _U32)
        a = (a + _W0) & _U32
        b = (b + _W1) & _U32
    return np.uint32(x0), np.uint32(x1), np.uint32(x2), np.uint32(x3)


@_jit
def philox4x32(c0, c1, c2, c3, k0, k1):
    """Philox-4x32-10 block function (Salmon et al. 2011), exact.

    Parameters: counter words ``c0..c3`` and key words ``k0, k1`` (integers,
    taken modulo 2**32). Returns a tuple of four ``np.uint32``.
    """
    return _rounds(c0, c1, c2, c3, k0, k1)


@_jit
def block(seed, stream, entity, index, sub):
    """One Philox block for a key; all samplers share these parameters.

    Parameters
    ----------
    seed, stream : int
        Philox key words (taken modulo 2**32).
    entity : int
        64-bit id; counter words 2 and 3 are its low and high halves.
    index, sub : int
        Counter words 1 and 0 (taken modulo 2**32).

    Returns
    -------
    tuple of 4 np.uint32
    """
    e = np.uint64(entity)
    return philox4x32(sub, index, e & _U32, e >> _S32, seed, stream)


@_jit
def blocks(seed, stream, entity, n, out):
    """``out[:, j] = block(seed, stream, entity, j, 0)`` for ``j < n``; ``out`` is uint32 (4, >= n).

    The same numbers as :func:`block`, ~10x faster per block: the rounds are
    inlined and the loop has no branch, so LLVM runs 8 or 16 counters at a
    time in vector registers (1.5 ns per block on AVX-512, 14 ns one by one).
    """
    e = np.uint64(entity)
    lo, hi = e & _U32, e >> _S32
    for j in range(n):
        x0, x1, x2, x3 = _rounds(0, j, lo, hi, seed, stream)
        out[0, j] = x0
        out[1, j] = x1
        out[2, j] = x2
        out[3, j] = x3


@_jit
def _u52(a, b) -> float:
    """``(m + 0.5) * 2**-52`` with ``m = (a >> 6) << 26 | (b >> 6)``: 52 bits, exact, in (0, 1)."""
    m = ((np.uint64(a) >> _S6) << _S26) | (np.uint64(b) >> _S6)
    return (np.float64(m) + 0.5) * _TWO_M52


@_jit
def plog(x: float) -> float:
    """Natural logarithm in basic IEEE operations (about 1 ulp), identical on CPU and GPU."""
    if not (x > 0.0):
        return -np.inf if x == 0.0 else np.nan
    if x == np.inf:
        return x
    dk, tail = _plog_parts(x)
    return dk * _LN2_HI - tail


@_jit
def _plog_parts(x: float):
    """``(k, tail)`` with ``log(x) = k * ln2_hi - tail`` for a finite ``x > 0``; ``k * ln2_hi`` is exact
    (``_LN2_HI`` ends in 32 zero bits), so :func:`ppow` can carry the sum in two doubles."""
    e = 0
    if x < _MIN_NORMAL:
        x = x * _TWO_54
        e = -54
    bits = _f64_bits(x)
    e += ((bits >> 52) & 0x7FF) - 1023
    m = _bits_f64((bits & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000)  # [1, 2)
    if m > _SQRT2:
        m = m * 0.5
        e += 1
    f = m - 1.0  # exact (Sterbenz)
    s = f / (2.0 + f)
    z = s * s
    r = z * (_LG1 + z * (_LG2 + z * (_LG3 + z * (_LG4 + z * (_LG5 + z * (
        _LG6 + z * (_LG7 + z * (_LG8 + z * (_LG9 + z * _LG10)))))))))
    hfsq = 0.5 * f * f
    dk = np.float64(e)
    return dk, (hfsq - (s * (hfsq + r) + dk * _LN2_LO)) - f


@_jit
def _two_prod(a: float, b: float):
    """``(p, err)``: ``p = a * b`` rounded and ``p + err = a * b`` exactly (Dekker 1971, no FMA;
    ``|a|, |b| < 2**996``)."""
    p = a * b
    c = _SPLIT * a
    a_hi = c - (c - a)
    a_lo = a - a_hi
    c = _SPLIT * b
    b_hi = c - (c - b)
    b_lo = b - b_hi
    return p, ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo


@_jit
def ppow(x: float, y: float) -> float:
    """``x ** y`` for ``x >= 0`` in basic IEEE operations (about 2 ulp), identical on CPU and GPU.

    ``exp(y log x)`` with ``y log x`` carried in two doubles (the exact
    ``y * k ln2_hi`` by Dekker's product, Knuth's two-sum for the rest),
    so the error does not grow with ``|y log x|`` as in the naive
    ``pexp(y * plog(x))``; the low part enters as ``e + e * lo``.
    ``0 ** y`` is 0 for ``y > 0``, 1 for ``y == 0``; NaN for ``x < 0``.
    """
    if not (x > 0.0):
        if x == 0.0:
            return 0.0 if y > 0.0 else (1.0 if y == 0.0 else np.inf)
        return np.nan
    if x == np.inf:
        return np.inf if y > 0.0 else (1.0 if y == 0.0 else 0.0)
    dk, tail = _plog_parts(x)
    p_hi, p_lo = _two_prod(y, dk * _LN2_HI)
    q = y * tail
    z = p_hi - q                       # Knuth's two-sum: z + z_err = p_hi - q exactly
    zz = z - p_hi
    z_err = (p_hi - (z - zz)) - (q + zz)
    e = pexp(z)
    return e + e * (z_err + p_lo)


@_jit
def plog1p(x: float) -> float:
    """``log(1 + x)`` for ``x > -1``, accurate for small ``x`` (plog plus a first-order correction)."""
    u = 1.0 + x
    if u == 1.0:
        return x
    return plog(u) + (x - (u - 1.0)) / u


@_jit
def pexp(y: float) -> float:
    """``exp(y)`` in basic IEEE operations (a few ulp), identical on CPU and GPU."""
    if y != y:
        return y
    if y > 709.782712893384:
        return np.inf
    if y < -745.2:
        return 0.0
    k = np.floor(y * _INV_LN2 + 0.5)
    r = (y - k * _LN2_HI) - k * _LN2_LO
    p = 1.0 + r * (1.0 + r * (_EX2 + r * (_EX3 + r * (_EX4 + r * (_EX5 + r * (_EX6 + r * (
        _EX7 + r * (_EX8 + r * (_EX9 + r * (_EX10 + r * (_EX11 + r * (_EX12 + r * _EX13))))))))))))
    ki = np.int64(k)
    if ki < -1020:  # subnormal result: scale in two exact-or-final steps
        return (p * _bits_f64((ki + 54 + 1023) << 52)) * _TWO_M54
    if ki > 1023:
        return (p * 2.0) * _bits_f64((ki - 1 + 1023) << 52)
    return p * _bits_f64((ki + 1023) << 52)


@_jit
def uniform(seed, stream, entity, index, sub):
    """U(0, 1), open interval, 52 random bits: ``((x0>>6) * 2**26 + (x1>>6) + 0.5) * 2**-52``.

    Values lie on the grid ``(2j + 1) / 2**53`` (exact; ``1 - u`` is on it
    too). One block. Returns ``(u, sub + 1)``.
    """
    x0, x1, x2, x3 = block(seed, stream, entity, index, sub)
    return _u52(x0, x1), np.int64(sub) + 1


@_jit
def uniform_int(n, seed, stream, entity, index, sub):
    """Integer in ``[0, n)`` for ``1 <= n < 2**32``: ``min(int(u * n), n - 1)``. Returns ``(k, next_sub)``."""
    u, nxt = uniform(seed, stream, entity, index, sub)
    nn = np.int64(n)
    k = np.int64(u * np.float64(nn))
    if k >= nn:
        k = nn - 1
    return k, nxt


@_jit
def normal(seed, stream, entity, index, sub):
    """N(0, 1) by the Marsaglia polar method, one block per attempt. Returns ``(z, next_sub)``.

    ``v1, v2 = 2 u(x0, x1) - 1, 2 u(x2, x3) - 1`` (exact, never 0);
    accept ``s = v1*v1 + v2*v2 < 1``; ``z = v1 * sqrt(-2 plog(s) / s)``.
    """
    s_ = np.int64(sub)
    for _ in range(_MAX_ATTEMPTS):
        x0, x1, x2, x3 = block(seed, stream, entity, index, s_)
        s_ += 1
        v1 = 2.0 * _u52(x0, x1) - 1.0
        v2 = 2.0 * _u52(x2, x3) - 1.0
        s = v1 * v1 + v2 * v2
        if s < 1.0:
            return v1 * math.sqrt(-2.0 * plog(s) / s), s_
    return 0.0, s_


def _ziggurat_tables(n_layers: int = 256, r: float = 3.6541528853610088,
                     v: float = 4.92867323399e-3) -> tuple[np.ndarray, np.ndarray]:
    """Layer edges ``x[0..n]`` and densities ``f[0..n]`` of a normal ziggurat (host, float64).

    Layers have equal area ``v`` under ``f(x) = exp(-x*x/2)``: ``x[1] = r``,
    ``f(x[i+1]) = f(x[i]) + v / x[i]``, ``x[n] = 0``; the base layer 0 holds
    the rectangle up to ``r`` plus the tail and has the effective width
    ``x[0] = v / f(r)`` (Marsaglia & Tsang 2000, J Stat Softw 5(8)).
    """
    x = np.zeros(n_layers + 1)
    x[1] = r
    for i in range(1, n_layers - 1):
        x[i + 1] = math.sqrt(-2.0 * math.log(v / x[i] + math.exp(-0.5 * x[i] * x[i])))
    x[0] = v / math.exp(-0.5 * r * r)
    f = np.exp(-0.5 * x * x)
    return x, f


_ZIG_X, _ZIG_F = _ziggurat_tables()
_ZIG_R = _ZIG_X[1]
_TWO_M31 = _h("0x1.0p-31")


@njit(cache=False, error_model="numpy", inline="always")
def _zig_x(x_val, layer):
    """Abscissa of a ziggurat attempt: the word ``x_val`` as int32, in units of ``2**-31`` layer widths."""
    j = np.int64(x_val)
    j -= (j >> 31) << 32
    return np.float64(j) * _TWO_M31 * _ZIG_X[layer]


@_jit
def _zig_attempt(x_val, layer, x2, x3):
    """One ziggurat attempt from abscissa word ``x_val``, ``layer`` and uniforms words ``x2, x3``: ``(accepted, z)``."""
    z = _zig_x(x_val, layer)
    if abs(z) < _ZIG_X[layer + 1]:
        return True, z
    u2 = (np.float64(x2) + 0.5) * _TWO_M32
    u3 = (np.float64(x3) + 0.5) * _TWO_M32
    if layer == 0:  # tail beyond r: x = -log(u2)/r accepted when -2 log(u3) > x*x
        t = -plog(u2) / _ZIG_R
        if -2.0 * plog(u3) > t * t:
            return True, (_ZIG_R + t) if z >= 0.0 else -(_ZIG_R + t)
        return False, 0.0
    y = _ZIG_F[layer] + u2 * (_ZIG_F[layer + 1] - _ZIG_F[layer])
    return y < pexp(-0.5 * z * z), z


@_jit
def normal_zig(seed, stream, entity, index, sub):
    """N(0, 1) by a 256-layer ziggurat; one block per attempt, ~1.01 attempts. Returns ``(z, next_sub)``.

    Block words: ``x0`` (as int32) is the signed abscissa in units of the
    layer width, the low 8 bits of ``x1`` pick the layer, ``x2`` and ``x3``
    are uniforms for the wedge test and the tail. A draw inside the next
    layer's edge is accepted at once (~99%); wedges are tested against
    ``pexp``, the tail beyond ``r`` sampled by Marsaglia's exponential
    method with ``plog``. Tables are computed on the host once and compared
    in IEEE operations only, so a GPU port reading the same tables agrees
    bit for bit. Four times cheaper than :func:`normal` (polar method).
    """
    s_ = np.int64(sub)
    for _ in range(_MAX_ATTEMPTS):
        x0, x1, x2, x3 = block(seed, stream, entity, index, s_)
        s_ += 1
        ok, z = _zig_attempt(x0, np.int64(x1) & 255, x2, x3)
        if ok:
            return z, s_
    return 0.0, s_


@njit(cache=False, error_model="numpy", inline="always")
def zig_fast(x_val, layer):
    """The ziggurat's first attempt when it lands inside the next layer's edge (~99%), else NaN.

    ``x_val`` (as int32) is the abscissa in units of the layer width; no
    branch, so a loop over synapses computing it vectorizes. The NaN cases
    go through :func:`normal_zig_first`.
    """
    z = _zig_x(x_val, layer)
    return z if abs(z) < _ZIG_X[layer + 1] else np.nan


@_jit
def normal_zig_first(x_val, layer, seed, stream, entity, index):
    """N(0, 1) by the ziggurat of :func:`normal_zig`, its first attempt's abscissa and layer given.

    For draws that share one block with another draw (a synapse's pre, delay
    and weight): ``x_val`` and ``layer`` are unused bits of that block. Only
    when the first attempt leaves the fast region (~1%) is a block of
    ``(stream, entity, index)`` drawn: its sub 0 gives the attempt's wedge
    and tail uniforms, later subs the further attempts, so the law is
    exactly the ziggurat's.
    """
    z = zig_fast(x_val, layer)
    if z == z:
        return z
    x0, x1, x2, x3 = block(seed, stream, entity, index, 0)
    ok, z = _zig_attempt(x_val, layer, x2, x3)
    if ok:
        return z
    z, _ = normal_zig(seed, stream, entity, index, 1)
    return z


@_jit
def uniform_int_words(n, x0, x1):
    """The integer of :func:`uniform_int` from a block's words ``x0, x1``: ``min(int(u * n), n - 1)``."""
    nn = np.int64(n)
    k = np.int64(_u52(x0, x1) * np.float64(nn))
    if k >= nn:
        k = nn - 1
    return k


@_jit
def poisson(lam, exp_neg_lam, seed, stream, entity, index, sub):
    """Poisson(lam) for ``0 <= lam < POISSON_INVERSION_MAX`` by inversion of one uniform.

    ``exp_neg_lam`` must be ``exp(-lam)``, computed once by the caller (host,
    float64) and passed unchanged to CPU and GPU kernels. For larger ``lam``
    use :func:`poisson_split` and sum ``m`` draws. Returns ``(k, next_sub)``.
    """
    u, nxt = uniform(seed, stream, entity, index, sub)
    pk = exp_neg_lam
    f = pk
    k = 0
    while u > f and k < _MAX_ATTEMPTS:
        k += 1
        pk = pk * (lam / np.float64(k))
        f = f + pk
    return np.int64(k), nxt


def poisson_cdf(lam: float) -> np.ndarray:
    """Cumulative Poisson(lam) probabilities ``F[k] = P(X <= k)``, for :func:`invert_cdf_u32` (host).

    Computed once in float64 from log-probabilities; the last entry is set
    to exactly 1.0 so that every uniform in (0, 1) finds its ``k``. CPU and
    GPU kernels read the same table, so their draws agree bit for bit.
    """
    lam = float(lam)
    if not lam >= 0.0 or math.isinf(lam) or lam > 1e6:
        raise ValueError(f"poisson_cdf: lam must be in [0, 1e6], got {lam}")
    if lam == 0.0:
        return np.ones(1)
    log_lam = math.log(lam)
    cdf = []
    f = 0.0
    k = 0
    while True:
        term = math.exp(-lam + k * log_lam - math.lgamma(k + 1.0))
        f += term
        cdf.append(f)
        # Past k = 2*lam the tail beyond k is below the current term, so a term
        # under 2**-60 leaves no mass a 52-bit uniform can resolve. (The float
        # sum itself may stall just short of 1 - 2**-53: no test on f alone.)
        if k > 2.0 * lam and term < 2.0 ** -60:
            break
        k += 1
    out = np.array(cdf)
    out[-1] = 1.0
    return out


GUIDE_SIZE = 256  # entries of a guide table: one per value of a 32-bit word's top 8 bits


def guide_table(cdf: np.ndarray) -> np.ndarray:
    """Guide table of a CDF for :func:`invert_cdf_u32` (host): ``guide[m]`` is the smallest
    ``k`` with ``cdf[k] >= m / GUIDE_SIZE`` (Chen & Asau 1974), as int64."""
    return np.searchsorted(cdf, np.arange(GUIDE_SIZE) / GUIDE_SIZE, side="left").astype(np.int64)


@njit(cache=False, error_model="numpy", inline="always")
def invert_cdf_u32(cdf, lo, guide, g0, x):
    """Inversion of one 32-bit word ``x`` against the table ``cdf[lo:]`` (last entry 1.0).

    ``u = (x + 0.5) * 2**-32`` (exact in float64); returns the smallest ``k``
    with ``u <= cdf[lo + k]``. The guide table ``guide[g0:g0 + 256]``
    (:func:`guide_table`) gives where the answer starts for ``u`` in
    ``[m/256, (m+1)/256)``, ``m = x >> 24``; a scan from there needs about one
    comparison, where a search or a count over the table cost ~20 ns per draw.
    Serves every discrete draw with a host-made table: Poisson counts
    (:func:`poisson_cdf`) and grid delays (:func:`cortex_gpu.distributions.grid_cdf`).
    One Philox block gives four such draws. A 32-bit uniform resolves
    probabilities down to 2**-32, far below any that matters for these draws.
    """
    return invert_cdf_u32_finish(cdf, lo, x, guide[g0 + (np.int64(x) >> 24)])


def guide_steps(cdf: np.ndarray, guide: np.ndarray, slow_cells: int = 4) -> int:
    """Steps for :func:`invert_cdf_u32_start` that finish all but ``slow_cells`` guide cells (host).

    For ``u`` in cell ``m`` the answer lies between ``guide[m]`` and
    ``guide[m + 1]`` (the last entry for the last cell). Tails of a table can
    crowd many entries into their cells; those few cells (each 1/256 of
    the draws) are left to :func:`invert_cdf_u32_finish`.
    """
    spread = np.sort(np.append(guide[1:], cdf.size - 1) - guide)
    return int(spread[max(0, spread.size - 1 - slow_cells)]) if spread.size else 0


@njit(cache=False, error_model="numpy", inline="always")
def invert_cdf_u32_start(cdf, lo, guide, g0, x, steps):
    """The guided search of :func:`invert_cdf_u32`, ``steps`` steps without branches.

    Once ``u <= cdf[a]`` no later step moves ``a`` (the table rises). Without
    a data-dependent exit a loop over draws vectorizes and never
    mispredicts; :func:`invert_cdf_u32_finish` completes the few draws the
    steps (:func:`guide_steps`) did not reach.
    """
    u = (np.float64(x) + 0.5) * _TWO_M32
    a = lo + guide[g0 + (np.int64(x) >> 24)]
    for _ in range(steps):
        a += np.int64(u > cdf[a])
    return np.int64(a - lo)


@njit(cache=False, error_model="numpy", inline="always")
def invert_cdf_u32_finish(cdf, lo, x, k):
    """Walk from ``k`` to the smallest ``k`` with ``u <= cdf[lo + k]`` for the word ``x``."""
    u = (np.float64(x) + 0.5) * _TWO_M32
    while u > cdf[lo + k]:
        k += 1
    return k


def poisson_split(lam: float) -> tuple[int, float]:
    """Split ``lam`` into ``m`` equal parts below POISSON_INVERSION_MAX (host helper).

    The sum of ``m`` independent ``poisson(lam_part, exp(-lam_part), ...)``
    draws (chained ``sub``) is Poisson(lam). Returns ``(m, lam_part)``.
    """
    lam = float(lam)
    if not lam >= 0.0 or math.isinf(lam):
        raise ValueError(f"poisson_split: lam must be finite and >= 0, got {lam}")
    m = int(lam // POISSON_INVERSION_MAX) + 1
    return m, lam / m


@_jit
def _stirling_corr(k: float) -> float:
    """``sc(k) = log k! - (k + 1/2) log k + k - log(2 pi) / 2`` for integer ``k >= 1``."""
    if k < 10.0:
        return _SC_TABLE[np.int64(k)]
    r = 1.0 / k
    r2 = r * r
    return r * (_ST1 + r2 * (_ST2 + r2 * (_ST3 + r2 * (_ST4 + r2 * (_ST5 + r2 * (_ST6 + r2 * _ST7))))))


@_jit
def log_factorial(k: float) -> float:
    """``log(k!)`` for integer-valued ``k >= 0`` (float64), deterministic."""
    if k < 1.0:
        return 0.0
    return ((k + 0.5) * plog(k) - k) + (_HALF_LOG_2PI + _stirling_corr(k))


@_jit
def _btrs_log_ratio(k, m, nd, lr, lpq):
    """``log(f(k) / f(m))`` for the Binomial pmf ``f``; ``lr = log((n-m) p / (m q))``, ``lpq = log(p/q)``.

    Written with ``d = k - m`` so that no term is as large as ``log n!``.
    """
    nk = nd - k
    nm = nd - m
    d = k - m
    if k == 0.0 or nk == 0.0:
        return ((log_factorial(m) + log_factorial(nm)) - (log_factorial(k) + log_factorial(nk))) + d * lpq
    t = (d * lr - (k + 0.5) * plog1p(d / m)) - (nk + 0.5) * plog1p(-d / nm)
    return t + ((_stirling_corr(m) - _stirling_corr(k)) + (_stirling_corr(nm) - _stirling_corr(nk)))


@_jit
def _binomial_low(n, p, seed, stream, entity, index, sub):
    """Binomial(n, p) for ``0 < p <= 1/2``, ``n >= 1``."""
    nd = np.float64(n)
    q = 1.0 - p
    if nd * p < BINOMIAL_INVERSION_MAX:  # inversion, P(0) = q**n = exp(n log1p(-p))
        u, nxt = uniform(seed, stream, entity, index, sub)
        pk = pexp(nd * plog1p(-p))
        r = p / q
        f = pk
        kd = 0.0
        while u > f:
            if kd >= nd or kd >= _MAX_ATTEMPTS or pk == 0.0:
                break
            pk = pk * (((nd - kd) / (kd + 1.0)) * r)
            kd = kd + 1.0
            f = f + pk
        return np.int64(kd), nxt
    # BTRS (Hoermann 1993)
    spq = math.sqrt(nd * p * q)
    b = 1.15 + 2.53 * spq
    a = -0.0873 + 0.0248 * b + 0.01 * p
    c = nd * p + 0.5
    vr = 0.92 - 4.2 / b
    alpha = (2.83 + 5.1 / b) * spq
    m = np.floor((nd + 1.0) * p)
    lpq = plog(p / q)
    lr = plog(((nd - m) * p) / (m * q))
    s_ = np.int64(sub)
    for _ in range(_MAX_ATTEMPTS):
        x0, x1, x2, x3 = block(seed, stream, entity, index, s_)
        s_ += 1
        u = _u52(x0, x1) - 0.5
        v = _u52(x2, x3)
        us = 0.5 - abs(u)
        kd = np.floor((2.0 * a / us + b) * u + c)
        if kd < 0.0 or kd > nd:
            continue
        if us >= 0.07 and v <= vr:
            return np.int64(kd), s_
        lv = plog(v * alpha / (a / (us * us) + b))
        if lv <= _btrs_log_ratio(kd, m, nd, lr, lpq):
            return np.int64(kd), s_
    return np.int64(m), s_


@_jit
def binomial(n, p, seed, stream, entity, index, sub):
    """Binomial(n, p), exact in distribution, ``0 <= n <= 2**53``, ``0 <= p <= 1``.

    ``p > 1/2`` draws ``n - Binomial(n, 1 - p)``. With ``np' = n min(p, 1-p)``:
    ``np' < BINOMIAL_INVERSION_MAX`` uses sequential inversion of one uniform;
    otherwise Hoermann's BTRS, one block per attempt. ``n <= 0``, ``p <= 0``
    and ``p >= 1`` consume no block (``next_sub == sub``). Returns ``(k, next_sub)``.
    """
    nn = np.int64(n)
    if nn <= 0 or not (p > 0.0):
        return np.int64(0), np.int64(sub)
    if p >= 1.0:
        return nn, np.int64(sub)
    if p > 0.5:
        k, nxt = _binomial_low(nn, 1.0 - p, seed, stream, entity, index, sub)
        return nn - k, nxt
    return _binomial_low(nn, p, seed, stream, entity, index, sub)


@_jit
def uniform_array(seed, stream, entities, index):
    """``uniform`` for each ``(entities[i], index[i])`` with ``sub = 0``."""
    out = np.empty(entities.shape[0], np.float64)
    for i in range(entities.shape[0]):
        out[i] = uniform(seed, stream, entities[i], index[i], 0)[0]
    return out


@_jit
def normal_array(seed, stream, entities, index):
    """``normal`` for each ``(entities[i], index[i])`` with ``sub = 0``."""
    out = np.empty(entities.shape[0], np.float64)
    for i in range(entities.shape[0]):
        out[i] = normal(seed, stream, entities[i], index[i], 0)[0]
    return out


@_jit
def poisson_array(lam, exp_neg_lam, seed, stream, entities, index):
    """``poisson`` for each ``(entities[i], index[i])`` with ``sub = 0``."""
    out = np.empty(entities.shape[0], np.int64)
    for i in range(entities.shape[0]):
        out[i] = poisson(lam, exp_neg_lam, seed, stream, entities[i], index[i], 0)[0]
    return out


@_jit
def binomial_array(n, p, seed, stream, entities, index):
    """``binomial`` for each ``(entities[i], index[i])`` with ``sub = 0``."""
    out = np.empty(entities.shape[0], np.int64)
    for i in range(entities.shape[0]):
        out[i] = binomial(n, p, seed, stream, entities[i], index[i], 0)[0]
    return out
