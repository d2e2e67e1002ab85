"""Tests for cortex_gpu.philox and its CUDA mirror kernels/philox.cuh."""
from __future__ import annotations

import math
import re
import shutil
import subprocess
from pathlib import Path

import numba
import numpy as np
import pytest
from scipy import stats

from cortex_gpu import philox as ph

ROOT = Path(__file__).resolve().parents[1]
KERNELS = ROOT / "kernels"

KAT = [  # Random123 kat_vectors, philox4x32 10: counter, key, output
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


def _keys(n, start=0):
    return np.arange(start, start + n, dtype=np.int64), np.zeros(n, dtype=np.int64)


def _chi2_p(samples, dist):
    """Chi-square p-value of integer samples against a scipy discrete dist (tails merged)."""
    n = samples.size
    ks = np.arange(samples.min(), samples.max() + 1)
    ok = ks[n * dist.pmf(ks) >= 5.0]
    a, b = int(ok[0]), int(ok[-1])
    inner = np.arange(a + 1, b)
    obs = [np.sum(samples <= a)] + [np.sum(samples == k) for k in inner] + [np.sum(samples >= b)]
    exp = np.concatenate([[dist.cdf(a)], dist.pmf(inner), [dist.sf(b - 1)]]) * n
    obs = np.asarray(obs, dtype=float)
    exp *= obs.sum() / exp.sum()
    return stats.chisquare(obs, exp).pvalue


# ---------------------------------------------------------------- Philox core

@pytest.mark.parametrize("ctr,key,want", KAT)
def test_kat_vectors(ctr, key, want):
    got = ph.philox4x32(*ctr, *key)
    assert tuple(int(x) for x in got) == want


def test_block_layout_and_determinism():
    e = 0x123456789ABCDEF0
    assert ph.block(7, 3, e, 11, 2) == ph.philox4x32(2, 11, e & 0xFFFFFFFF, e >> 32, 7, 3)
    assert ph.block(2**32 + 7, 3, e, 11, 2) == ph.block(7, 3, e, 11, 2)  # seed is 32-bit
    base = ph.block(1, 2, 3, 4, 5)
    assert ph.block(1, 2, 3, 4, 5) == base
    variants = [(9, 2, 3, 4, 5), (1, 9, 3, 4, 5), (1, 2, 9, 4, 5), (1, 2, 3, 9, 5), (1, 2, 3, 4, 9),
                (1, 2, 3 + 2**32, 4, 5)]
    outs = {ph.block(*v) for v in variants} | {base}
    assert len(outs) == len(variants) + 1


def test_sampler_keys_and_chaining():
    u, s = ph.uniform(1, 2, 3, 4, 0)
    assert s == 1 and 0.0 < u < 1.0
    assert ph.uniform(1, 2, 3, 4, 0) == (u, s)
    others = [ph.uniform(*k)[0] for k in [(2, 2, 3, 4, 0), (1, 3, 3, 4, 0), (1, 2, 4, 4, 0),
                                         (1, 2, 3, 5, 0), (1, 2, 3, 4, 1)]]
    assert len(set(others) | {u}) == 6
    z1, s1 = ph.normal(1, 2, 3, 4, 0)
    z2, s2 = ph.normal(1, 2, 3, 4, s1)
    assert s2 > s1 >= 1 and z1 != z2


def test_uniform_grid_extremes():
    lo = ph._u52(np.uint32(0), np.uint32(0))
    hi = ph._u52(np.uint32(0xFFFFFFFF), np.uint32(0xFFFFFFFF))
    assert lo == 2.0**-53 and hi == 1.0 - 2.0**-53


def test_callable_from_parallel_kernel():
    @numba.njit(parallel=True)
    def kern(n):
        zs = np.empty(n)
        ks = np.empty(n, np.int64)
        for i in numba.prange(n):
            z, s = ph.normal(42, 1, i, 0, 0)
            k, s = ph.binomial(100, 0.3, 42, 1, i, 0, s)
            zs[i] = z
            ks[i] = k
        return zs, ks

    zs, ks = kern(1000)
    assert np.array_equal(zs, ph.normal_array(42, 1, *_keys(1000)))
    for i in range(0, 1000, 97):
        z, s = ph.normal(42, 1, i, 0, 0)
        assert ks[i] == ph.binomial(100, 0.3, 42, 1, i, 0, s)[0]


# ---------------------------------------------------------------- distributions

def test_uniform_ks():
    u = ph.uniform_array(2024, 1, *_keys(200_000))
    assert u.min() > 0.0 and u.max() < 1.0
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    k = np.array([ph.uniform_int(7, 2024, 2, i, 0, 0)[0] for i in range(7000)])
    assert k.min() == 0 and k.max() == 6
    assert stats.chisquare(np.bincount(k, minlength=7)).pvalue > 1e-3


def test_normal_ks():
    z = ph.normal_array(2024, 3, *_keys(200_000))
    assert stats.kstest(z, "norm").pvalue > 1e-3
    assert abs(z.mean()) < 5 / math.sqrt(z.size)
    assert abs(z.var() - 1.0) < 5 * math.sqrt(2.0 / z.size)


@pytest.mark.parametrize("lam", [0.5, 2.3, 9.5])
def test_poisson(lam):
    k = ph.poisson_array(lam, math.exp(-lam), 77, 4, *_keys(200_000))
    tol = 5 * math.sqrt(lam / k.size)
    assert abs(k.mean() - lam) < tol
    assert abs(k.var() - lam) < 5 * lam * math.sqrt(2.0 / k.size) + tol
    assert _chi2_p(k, stats.poisson(lam)) > 1e-3


def test_poisson_split():
    assert ph.poisson_split(3.0) == (1, 3.0)
    m, part = ph.poisson_split(25.0)
    assert m == 3 and part < ph.POISSON_INVERSION_MAX and m * part == pytest.approx(25.0)
    with pytest.raises(ValueError):
        ph.poisson_split(-1.0)
    lam = 37.0
    m, part = ph.poisson_split(lam)
    enl = math.exp(-part)

    @numba.njit
    def summed(n):
        out = np.empty(n, np.int64)
        for i in range(n):
            s, tot = 0, 0
            for _ in range(m):
                k, s = ph.poisson(part, enl, 5, 6, i, 0, s)
                tot += k
            out[i] = tot
        return out

    assert _chi2_p(summed(50_000), stats.poisson(lam)) > 1e-3


@pytest.mark.parametrize("n,p", [(20, 0.3), (1000, 0.4), (10**7, 0.01), (50, 0.9), (25, 0.45),
                                 (200, 0.97)])
def test_binomial(n, p):
    k = ph.binomial_array(n, p, 99, 5, *_keys(200_000))
    assert k.min() >= 0 and k.max() <= n
    mean, var = n * p, n * p * (1 - p)
    assert abs(k.mean() - mean) < 5 * math.sqrt(var / k.size)
    assert abs(k.var() / var - 1.0) < 5 * math.sqrt(2.0 / k.size) + 0.01
    assert _chi2_p(k, stats.binom(n, p)) > 1e-3


@pytest.mark.parametrize("n,p", [(2**40, 0.25), (2**53, 0.5), (10**12, 3e-12)])
def test_binomial_huge_n(n, p):
    k = ph.binomial_array(n, p, 99, 6, *_keys(100_000)).astype(float)
    mean, var = n * p, n * p * (1 - p)
    assert abs(k.mean() - mean) < 5 * math.sqrt(var / k.size)
    assert abs(k.var() / var - 1.0) < 5 * math.sqrt(2.0 / k.size)


def test_binomial_edges():
    assert ph.binomial(0, 0.5, 1, 2, 3, 4, 7) == (0, 7)
    assert ph.binomial(10, 0.0, 1, 2, 3, 4, 7) == (0, 7)
    assert ph.binomial(10, 1.0, 1, 2, 3, 4, 7) == (10, 7)
    assert ph.binomial(2**53, 1.0, 1, 2, 3, 4, 0) == (2**53, 0)
    k, s = ph.binomial(1, 0.5, 1, 2, 3, 4, 0)
    assert k in (0, 1) and s == 1


def test_btrs_log_ratio_exact():
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 50

    def logpmf(k, n, p):
        return (mp.loggamma(n + 1) - mp.loggamma(k + 1) - mp.loggamma(n - k + 1)
                + k * mp.log(p) + (n - k) * mp.log(1 - mp.mpf(p)))

    for n, p in [(1000, 0.4), (10**7, 0.01), (25, 0.45), (2**40, 0.25), (2**53, 0.5)]:
        q, nd = 1.0 - p, float(n)
        m = math.floor((nd + 1.0) * p)
        lr, lpq = ph.plog(((nd - m) * p) / (m * q)), ph.plog(p / q)
        sd = math.sqrt(n * p * q)
        for k in {0, n, max(0, int(m - 3 * sd)), int(m - 1), int(m + 1), int(m + 3 * sd), int(m)}:
            want = float(logpmf(k, n, mp.mpf(p)) - logpmf(m, n, mp.mpf(p)))
            got = ph._btrs_log_ratio(float(k), float(m), nd, lr, lpq)
            assert got == pytest.approx(want, rel=1e-12, abs=1e-14 * max(1.0, sd)), (n, p, k)


# ---------------------------------------------------------------- portable math

def _ulps(got, want):
    return np.abs(got - want) / np.spacing(np.abs(want))


def test_plog_accuracy():
    xs = np.concatenate([np.geomspace(1e-300, 1e300, 20_001), 1.0 + np.linspace(-1e-3, 1e-3, 4001),
                         np.linspace(0.5, 2.0, 4001), [5e-324, 1e-310, 2.0**-1022, 1.7e308]])
    xs = xs[xs != 1.0]
    got = np.array([ph.plog(x) for x in xs])
    assert _ulps(got, np.log(xs)).max() <= 4
    assert ph.plog(1.0) == 0.0 and ph.plog(0.0) == -np.inf and np.isnan(ph.plog(-1.0))
    assert ph.plog(np.inf) == np.inf


def test_plog1p_pexp_log_factorial():
    xs = np.concatenate([-np.geomspace(1e-300, 0.9, 2000), np.geomspace(1e-300, 1e10, 2000)])
    assert _ulps(np.array([ph.plog1p(x) for x in xs]), np.log1p(xs)).max() <= 4
    ys = np.linspace(-708.0, 709.0, 20_001)
    assert _ulps(np.array([ph.pexp(y) for y in ys]), np.exp(ys)).max() <= 4
    assert ph.pexp(0.0) == 1.0 and ph.pexp(-800.0) == 0.0 and ph.pexp(800.0) == np.inf
    assert ph.pexp(-745.0) == 5e-324
    for k in [0, 1, 2, 5, 9, 10, 11, 50, 1000, 10**6, 10**12]:
        assert ph.log_factorial(float(k)) == pytest.approx(math.lgamma(k + 1.0), rel=1e-15, abs=1e-15)


def test_ppow_accuracy():
    """Within 2.5 ulp of libm's pow (itself within ~0.5 ulp) over the range STDP weights live in and
    far beyond; the naive pexp(y * plog(x)) is off by up to ~30 ulp here for y = 1.7."""
    rng = np.random.default_rng(4)
    xs = np.concatenate([rng.uniform(0.0, 200.0, 20_000), np.exp(rng.uniform(-300.0, 300.0, 20_000)),
                         [5e-324, 1e-310, 1.0, 2.0, 1.7e308]])
    for y in (0.4, 0.5, 0.6, 0.05, 1.7, -0.3, 2.0):
        x = xs[(xs > 0) & (np.abs(np.log(xs)) * abs(y) < 700)]
        got = np.array([ph.ppow(v, y) for v in x])
        want = np.array([math.pow(v, y) for v in x])
        assert _ulps(got, want).max() <= 2.5, y
    assert ph.ppow(0.0, 0.4) == 0.0 and ph.ppow(0.0, 0.0) == 1.0 and ph.ppow(0.0, -1.0) == np.inf
    assert ph.ppow(1.0, 0.4) == 1.0 and ph.ppow(4.0, 0.5) == 2.0 and np.isnan(ph.ppow(-1.0, 0.5))


@numba.njit
def _math_loop(which, x, y, out):
    for i in range(x.size):
        out[i] = ph.pexp(x[i]) if which == 0 else (ph.plog(x[i]) if which == 1 else ph.ppow(x[i], y[i]))


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
def test_pexp_plog_ppow_header_twins_bit_identical(tmp_path):
    """cg_pexp, cg_plog and cg_ppow of philox.cuh (host build, no FP contraction) give the numba twins'
    bits on 600,000 inputs: the STDP rule's exp and pow are the same on the CPU and the GPU backend."""
    import ctypes
    lib = tmp_path / "libmath.so"
    subprocess.run(["g++", "-std=c++17", "-O2", "-shared", "-fPIC", "-ffp-contract=off", f"-I{KERNELS}",
                    str(ROOT / "tests" / "cuda_emulator" / "portable_math.cpp"), "-o", str(lib)], check=True)
    fn = ctypes.CDLL(str(lib)).portable_math
    fn.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_long]
    rng = np.random.default_rng(9)
    n = 200_000
    inputs = [  # exp: STDP's decay arguments and the whole range; log and pow: weights and beyond
        (np.concatenate([-rng.exponential(3.0, n // 2), rng.uniform(-746.0, 710.0, n // 2)]), np.zeros(n)),
        (np.concatenate([rng.uniform(0.0, 200.0, n // 2), np.exp(rng.uniform(-745.0, 709.0, n // 2))]), np.zeros(n)),
        (np.concatenate([rng.uniform(0.0, 200.0, n // 2), np.exp(rng.uniform(-50.0, 50.0, n // 2))]),
         np.concatenate([np.full(n // 4, 0.4), rng.uniform(-3.0, 3.0, 3 * n // 4)])),
    ]
    for which, (x, y) in enumerate(inputs):
        want, got = np.empty(n), np.empty(n)
        _math_loop(which, x, y, want)
        fn(which, x.ctypes.data, y.ctypes.data, got.ctypes.data, n)
        bad = np.flatnonzero(want.view(np.int64) != got.view(np.int64))
        assert bad.size == 0, (which, x[bad[:5]], y[bad[:5]])


# ---------------------------------------------------------------- CUDA mirror

def test_header_constants_match_python():
    # distributions.cuh (the ziggurat, draw) shares philox.py's hex-float constants too
    text = (KERNELS / "philox.cuh").read_text() + (KERNELS / "distributions.cuh").read_text()
    consts = dict(re.findall(r"#define CG_(\w+) (-?0x[0-9a-f.]+p[-+]\d+)", text))
    assert len(consts) >= 46 and "TWO_M31" in consts
    for name, lit in consts.items():
        if name.startswith("SC"):
            assert float.fromhex(lit) == ph._SC_TABLE[int(name[2:])], name
        else:
            assert float.fromhex(lit) == getattr(ph, "_" + name), name


def _w(x):
    if isinstance(x, (float, np.floating)):
        return int(np.float64(x).view(np.uint64))
    return int(x) & 0xFFFFFFFFFFFFFFFF


def selftest_reference() -> list[int]:
    """The numba mirror of cg_selftest_fill() in kernels/philox_selftest.cu."""
    out = []
    for ctr, key, _ in KAT:
        out += [_w(x) for x in ph.philox4x32(*ctr, *key)]
    for k in [(0, 0, 0, 0, 0), (12345, 7, 0x123456789ABCDEF0, 42, 3),
              (0xFFFFFFFF, 0xFFFFFFFF, 2**64 - 1, 0xFFFFFFFF, 0xFFFFFFFF), (1, 2, 3, 4, 5)]:
        out += [_w(x) for x in ph.block(k[0], k[1], np.uint64(k[2]), k[3], k[4])]
    for i in range(8):
        ent = i * 1000003 + ((i & 1) << 33)
        u, s = ph.uniform(1234, 1, ent, i, i)
        k, s = ph.uniform_int(1000, 1234, 1, ent, i, s)
        out += [_w(u), _w(k)]
    s = 0
    for j in range(16):
        z, s = ph.normal(1234, 2, j, 7, s)
        out.append(_w(z))
    out.append(_w(s))
    for li, lam in enumerate([0.5, 2.3, 9.5]):
        enl = ph.pexp(-lam)
        out += [_w(ph.poisson(lam, enl, 99, 3, j, li, 0)[0]) for j in range(8)]
    cases = [(20, 0.3), (1000, 0.4), (10**7, 0.01), (50, 0.9), (2**40, 0.25), (2**53, 0.5), (5, 0.0),
             (5, 1.0), (0, 0.5), (1000, 0.999)]
    for c, (n, p) in enumerate(cases):
        s = 0
        for j in range(6):
            k, s = ph.binomial(n, p, 5, 9, c * 100 + j, 11, s)
            out.append(_w(k))
        out.append(_w(s))
    out += [_w(ph.plog(x)) for x in [1e-310, 1e-300, 0.1, 0.5, 1 - 2**-53, 1.0, 1 + 2**-52, 2.0, 10.0, 1e300]]
    out += [_w(ph.pexp(x)) for x in [-745.0, -700.0, -10.5, -1.0, -1e-10, 0.0, 1e-10, 1.0, 10.5, 700.0]]
    out += [_w(ph.plog1p(x)) for x in [-0.5, -1e-10, 1e-10, 0.3, 5.0]]
    out += [_w(ph.log_factorial(x)) for x in [0.0, 1.0, 5.0, 9.0, 10.0, 100.0, 1e6, 2.0**53]]
    ns = [1, 3, 77169, 2**40]
    cdf = np.array([2.0**-10, 1.5 * 2.0**-9, 0.125, 0.375, 0.376, 0.5, 0.75, 0.875, 1.0])
    guide = ph.guide_table(cdf)
    words = []
    for j in range(8):
        x0, x1, x2, x3 = ph.block(7, 8, j, 0, 0)
        out.append(_w(ph.uniform_int_words(ns[j & 3], x0, x1)))
        words += [x2, x3]
    out += [_w(ph.invert_cdf_u32(cdf, 0, guide, 0, x)) for x in words]
    out += [_w(ph.invert_cdf_u32_start(cdf, 0, guide, 0, x, 1)) for x in words]
    return out


def _selftest_n() -> int:
    return int(re.search(r"#define CG_SELFTEST_N (\d+)", (KERNELS / "philox_selftest.cu").read_text()).group(1))


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
def test_header_host_path_bit_identical(tmp_path):
    """philox.cuh compiled for the host (no FP contraction) gives numba's bits exactly."""
    exe = tmp_path / "selftest"
    subprocess.run(["g++", "-std=c++17", "-O2", "-ffp-contract=off", "-x", "c++", "-DCG_SELFTEST_MAIN",
                    str(KERNELS / "philox_selftest.cu"), "-o", str(exe)], check=True)
    got = [int(line) for line in subprocess.run([str(exe)], check=True, capture_output=True,
                                                text=True).stdout.split()]
    want = selftest_reference()
    assert len(got) == len(want) == _selftest_n()
    bad = [i for i, (g, w) in enumerate(zip(got, want)) if g != w]
    assert not bad, f"mismatching words {bad[:10]}"


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="needs nvcc")
@pytest.mark.parametrize("arch", ["sm_90"])
def test_selftest_kernel_compiles(tmp_path, arch):
    res = subprocess.run(["nvcc", f"-arch={arch}", "-c", str(KERNELS / "philox_selftest.cu"),
                          "-o", str(tmp_path / "x.o")], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


@pytest.mark.gpu
def test_selftest_kernel_on_gpu_bit_identical():
    cp = pytest.importorskip("cupy")
    try:
        if cp.cuda.runtime.getDeviceCount() < 1:
            pytest.skip("no CUDA device")
    except cp.cuda.runtime.CUDARuntimeError:
        pytest.skip("no CUDA device")
    src = (KERNELS / "philox_selftest.cu").read_text()
    mod = cp.RawModule(code=src, options=("-I" + str(KERNELS), "--std=c++17"))
    out = cp.zeros(_selftest_n(), dtype=cp.uint64)
    mod.get_function("cg_philox_selftest")((1,), (1,), (out,))
    got = [int(x) for x in out.get()]
    want = selftest_reference()
    bad = [i for i, (g, w) in enumerate(zip(got, want)) if g != w]
    assert not bad, f"mismatching words {bad[:10]}"


# ------------------------------------------------------- table inversion (guide tables)
@numba.njit(cache=True)
def _invert_many(cdf, guide, words):
    out = np.empty(words.size, np.int64)
    for i in range(words.size):
        out[i] = ph.invert_cdf_u32(cdf, 0, guide, 0, words[i])
    return out


@pytest.mark.parametrize("lam", [1e-6, 0.128, 1.28, 2.32, 9.0, 60.0, 400.0])
def test_invert_cdf_u32_is_smallest_k_with_u_below_cdf(lam):
    """The guide-table scan gives exactly the smallest k with u <= cdf[k], for every word tried."""
    cdf = ph.poisson_cdf(lam)
    guide = ph.guide_table(cdf)
    rng = np.random.default_rng(3)
    words = np.concatenate([rng.integers(0, 2 ** 32, 200_000, dtype=np.uint64),
                            np.array([0, 1, 2 ** 24 - 1, 2 ** 24, 2 ** 31, 2 ** 32 - 2, 2 ** 32 - 1], np.uint64)])
    words = words.astype(np.uint32)
    u = (words.astype(np.float64) + 0.5) * 2.0 ** -32
    want = np.searchsorted(cdf, u, side="left")      # smallest k with u <= cdf[k]
    np.testing.assert_array_equal(_invert_many(cdf, guide, words), want)


@numba.njit(cache=True)
def _invert_steps_many(cdf, guide, words, steps):
    out = np.empty(words.size, np.int64)
    for i in range(words.size):
        k = ph.invert_cdf_u32_start(cdf, 0, guide, 0, words[i], steps)
        out[i] = ph.invert_cdf_u32_finish(cdf, 0, words[i], k)
    return out


@pytest.mark.parametrize("table", ["poisson", "delay"])
def test_branch_free_start_then_finish_equals_guided_scan(table):
    """A fixed number of branch-free steps, then the walk, gives the scan's answer for every word;
    the steps alone finish all but the few crowded tail cells."""
    from cortex_gpu.distributions import Redraw, Normal, as_row, grid_cdf
    if table == "poisson":
        cdf = ph.poisson_cdf(60.0)
    else:   # PD14's excitatory delay: normal(1.5, 0.75) ms redrawn below 0.1 ms, 0.1 ms grid
        cdf = grid_cdf(as_row(Redraw(Normal(1.5, 0.75), low=0.1)), 0.1)[1]
    guide = ph.guide_table(cdf)
    steps = ph.guide_steps(cdf, guide)
    words = np.random.default_rng(8).integers(0, 2 ** 32, 300_000, dtype=np.uint64).astype(np.uint32)
    want = _invert_many(cdf, guide, words)
    np.testing.assert_array_equal(_invert_steps_many(cdf, guide, words, steps), want)
    started = np.array([ph.invert_cdf_u32_start(cdf, 0, guide, 0, w, steps) for w in words[:20_000]])
    assert np.mean(started != want[:20_000]) <= 5 / 256


def test_blocks_equal_block_by_block():
    out = np.zeros((4, 1000), np.uint32)
    ph.blocks(123456789, 0xABCDEF, 2 ** 40 + 17, 1000, out)
    want = np.array([ph.block(123456789, 0xABCDEF, 2 ** 40 + 17, j, 0) for j in range(1000)], np.uint32).T
    np.testing.assert_array_equal(out, want)


def test_poisson_counts_from_words_have_poisson_law():
    lam = 2.32
    cdf = ph.poisson_cdf(lam)
    k = _invert_many(cdf, ph.guide_table(cdf), np.random.default_rng(5).integers(0, 2 ** 32, 400_000)
                     .astype(np.uint32))
    assert k.mean() == pytest.approx(lam, abs=4 * np.sqrt(lam / k.size))
    assert k.var() == pytest.approx(lam, rel=0.02)


# ------------------------------------------------------------------------ ziggurat
@numba.njit(cache=True)
def _zig_many(n, first):
    out = np.empty(n)
    for i in range(n):
        if first:   # first attempt from given words (as the build passes a pre block's spare bits)
            x0, x1, x2, x3 = ph.block(11, 99, i, 0, 0)
            out[i] = ph.normal_zig_first(x3, (np.int64(x0) & 63) | ((np.int64(x1) & 3) << 6), 11, 98, i, 0)
        else:
            out[i], _ = ph.normal_zig(11, 97, i, 0, 0)
    return out


@pytest.mark.parametrize("first", [False, True])
def test_ziggurat_is_standard_normal(first):
    from scipy import stats
    z = _zig_many(2_000_000, first)
    assert stats.kstest(z, "norm").pvalue > 1e-3
    # the tail beyond r = 3.654 (base layer) has the normal's mass: 2 * sf(r) * n = 516 expected
    n_tail = np.count_nonzero(np.abs(z) > ph._ZIG_R)
    expected = 2 * stats.norm.sf(ph._ZIG_R) * z.size
    assert abs(n_tail - expected) < 5 * np.sqrt(expected)
    assert abs(z.mean()) < 5 / np.sqrt(z.size) and abs(z.std() - 1.0) < 0.003
