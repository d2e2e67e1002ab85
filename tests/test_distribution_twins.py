"""kernels/distributions.cuh against its numba twins, bit for bit (I3).

The header's ziggurat (philox._zig_x, _zig_attempt, normal_zig, zig_fast,
normal_zig_first), distributions.draw and connect.zig_layer /
shared_block_weight are compiled for the host with g++ -ffp-contract=off
(tests/cuda_emulator/portable_draws.cpp) and compared with numba over
hundreds of thousands of keys, the rare paths (wedge rejections, the tail
beyond r, redraws, the slow path of a shared block) counted so that they are
known to be exercised; a deliberately broken copy of the header must fail
the same comparisons. The device build is checked by nvcc (and on a GPU,
where CuPy sees one, the same comparisons run on the device).
"""
from __future__ import annotations

import ctypes
import re
import shutil
import subprocess
from pathlib import Path

import numba
import numpy as np
import pytest

from cortex_gpu import connect, distributions, philox
from cortex_gpu.backends import cuda

ROOT = Path(__file__).resolve().parents[1]
KERNELS = ROOT / "kernels"
HEADER = KERNELS / "distributions.cuh"
PORTABLE = ROOT / "tests" / "cuda_emulator" / "portable_draws.cpp"
GXX = shutil.which("g++")
NVCC = shutil.which("nvcc")
needs_gxx = pytest.mark.skipif(GXX is None, reason="g++ is not on PATH")

SEED, STREAM = 0x9E3779B9, 0x2545F491
ZX = np.ascontiguousarray(philox._ZIG_X, dtype=np.float64)
ZF = np.ascontiguousarray(philox._ZIG_F, dtype=np.float64)
R = float(philox._ZIG_R)
INF = np.inf
#: (kind, a, b, low, high) rows drawn by distributions.draw; the bounded ones redraw often.
ROWS = {
    "const": [0.0, 1.5, 0.0, -INF, INF],
    "normal": [1.0, 2.0, 0.5, -INF, INF],
    "normal_zero_std": [1.0, -0.25, 0.0, -INF, INF],
    "normal_pinned": [1.0, -0.25, 0.0, -0.25, -0.25],   # always a, on both (inclusive) bounds
    "normal_bounded": [1.0, 2.0, 0.5, 2.0, INF],        # [mean, inf): half the first draws redraw
    "normal_two_sided": [1.0, 0.0, 1.0, -0.1, 0.1],     # ~92% of draws redraw
    "uniform": [2.0, -1.0, 3.0, -INF, INF],
    "uniform_bounded": [2.0, -1.0, 3.0, 0.0, 0.5],
    "lognormal": [3.0, 0.1, 0.8, -INF, INF],
    "lognormal_bounded": [3.0, 0.1, 0.8, 0.5, 2.0],
    "lognormal_overflow": [3.0, 700.0, 20.0, -INF, INF],  # pexp overflows to inf, which is in bounds
    "impossible": [1.0, 0.0, 1.0, 50.0, 60.0],           # nothing in bounds: NaN after MAX_REDRAWS
}
#: Rows whose bounds make many keys redraw.
REDRAWING = {"normal_bounded", "normal_two_sided", "uniform_bounded", "lognormal_bounded"}
#: Rows of shared_block_weight (normal or lognormal, as connect builds them).
BLOCK_ROWS = {k: ROWS[k] for k in ("normal", "normal_bounded", "normal_two_sided", "lognormal",
                                   "lognormal_bounded", "impossible")}


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).view(np.uint64)


def _assert_same_bits(want: np.ndarray, got: np.ndarray, what: str, *inputs) -> None:
    bad = np.flatnonzero(_bits(want) != _bits(got))
    assert bad.size == 0, (f"{what}: {bad.size} of {want.size} differ, first at {bad[:5]}: numba {want[bad[:5]]}, "
                           f"header {got[bad[:5]]}, inputs {[np.asarray(x)[bad[:5]] for x in inputs]}")


# ------------------------------------------------------------------- numba references
@numba.njit(cache=False)
def _ref_normal_zig(seed, stream, entity, index, sub, z, nxt):
    for i in range(entity.shape[0]):
        z[i], s = philox.normal_zig(seed, stream, entity[i], index[i], sub[i])
        nxt[i] = np.uint32(np.int64(s) & 0xFFFFFFFF)  # the header's sub is a uint32 (wraps as the key word does)


@numba.njit(cache=False)
def _ref_zig_first(seed, stream, x, layer, entity, index, zig_x, fast, first):
    for i in range(x.shape[0]):
        zig_x[i] = philox._zig_x(x[i], layer[i])
        fast[i] = philox.zig_fast(x[i], layer[i])
        first[i] = philox.normal_zig_first(x[i], layer[i], seed, stream, entity[i], index[i])


@numba.njit(cache=False)
def _ref_zig_attempt(x, layer, x2, x3, ok, z):
    for i in range(x.shape[0]):
        a, z[i] = philox._zig_attempt(x[i], np.int64(layer[i]), x2[i], x3[i])
        ok[i] = 1 if a else 0


@numba.njit(cache=False)
def _ref_zig_layer(w0, w1, out):
    for i in range(w0.shape[0]):
        out[i] = connect.zig_layer(w0[i], w1[i])


@numba.njit(cache=False)
def _ref_draw(row, seed, stream, entity, index, out):
    for i in range(entity.shape[0]):
        out[i] = distributions.draw(row, seed, stream, entity[i], index[i])


@numba.njit(cache=False)
def _ref_zig_fast_of_block(w0, w1, w3, out):
    for i in range(w0.shape[0]):
        out[i] = philox.zig_fast(w3[i], connect.zig_layer(w0[i], w1[i]))


@numba.njit(cache=False)
def _ref_shared_block_weight(row, z_fast, w0, w1, w3, seed, stream, entity, j, out):
    for i in range(entity.shape[0]):
        out[i] = connect.shared_block_weight(row, z_fast[i], w0[i], w1[i], w3[i], seed, stream, entity[i],
                                             np.int64(j[i]))


# ------------------------------------------------------------------- inputs
def _u32(rng, n):
    return rng.integers(0, 2**32, n, dtype=np.uint64).astype(np.uint32)


def _entities(rng, n):
    """64-bit ids: small ones (neurons), ones above 2**32, and the extremes."""
    e = rng.integers(0, 2**64, n, dtype=np.uint64)
    e[: n // 3] = rng.integers(0, 100_000, n // 3, dtype=np.uint64)
    e[:4] = np.array([0, 1, 2**32, 2**64 - 1], dtype=np.uint64)
    return e


def _off_fast_words(rng, layer):
    """Words whose ziggurat abscissa leaves the fast region of ``layer``: |x as int32| / 2**31 in
    [ZX[layer+1] / ZX[layer], 1] (all of layer 255's, whose next edge is 0)."""
    lo = ZX[layer + 1] / ZX[layer]
    frac = lo + (1.0 - lo) * rng.random(layer.size)
    mag = np.minimum(np.ceil(frac * 2**31), 2**31 - 1).astype(np.int64)
    neg = rng.random(layer.size) < 0.5
    j = np.where(neg, -mag, mag)
    return (j & 0xFFFFFFFF).astype(np.uint32)


def _mixed_words(rng, n):
    """``(x, layer)``: half uniform random words, half (every other) off the fast region, layer 0 (the
    tail) for 1/16 of them, with the edge cases."""
    layer = rng.integers(0, 256, n).astype(np.int32)
    layer[: n // 16] = 0                 # the tail layer, often
    layer[n // 16: n // 16 + n // 64] = 255  # the layer with no fast region
    x = _u32(rng, n)
    half = slice(1, n, 2)
    x[half] = _off_fast_words(rng, layer[half])
    edge = np.array([0, 1, 0x7FFFFFFF, 0x80000000, 0x80000001, 0xFFFFFFFF], dtype=np.uint32)
    x[: 2 * edge.size] = np.tile(edge, 2)
    layer[: 2 * edge.size] = np.repeat(np.array([0, 255], dtype=np.int32), edge.size)
    return x, layer


# ------------------------------------------------------------------- runners
class HostLib:
    """portable_draws.cpp compiled with g++ (optionally against another header directory)."""

    def __init__(self, path: Path):
        self.lib = ctypes.CDLL(str(path))

    def __call__(self, name: str, *args) -> None:
        conv = []
        for a in args:
            if isinstance(a, np.ndarray):
                assert a.flags.c_contiguous
                conv.append(ctypes.c_void_p(a.ctypes.data))
            elif isinstance(a, np.uint32):
                conv.append(ctypes.c_uint32(int(a)))
            elif isinstance(a, np.int64):
                conv.append(ctypes.c_long(int(a)))
            else:
                raise TypeError(type(a))
        getattr(self.lib, "draws_" + name)(*conv)


class DeviceLib:
    """kernels/distributions_selftest.cu through CuPy, the same calls as :class:`HostLib`."""

    def __init__(self):
        import cupy
        self.cupy = cupy
        self.mod = cupy.RawModule(code=cuda.kernel_source("distributions_selftest.cu"),
                                  options=cuda.nvrtc_options())

    def __call__(self, name: str, *args) -> None:
        cp = self.cupy
        dev = [cp.asarray(a) if isinstance(a, np.ndarray) else a for a in args]
        n = int(args[-1])
        self.mod.get_function("cg_dist_" + name)(((n + 127) // 128,), (128,), tuple(dev))
        for a, d in zip(args, dev):
            if isinstance(a, np.ndarray):
                a[...] = cp.asnumpy(d)


def build_host(out: Path, include_first: Path | None = None) -> HostLib:
    inc = ([f"-I{include_first}"] if include_first else []) + [f"-I{KERNELS}"]
    subprocess.run([GXX, "-std=c++17", "-O2", "-shared", "-fPIC", "-ffp-contract=off", *inc, str(PORTABLE),
                    "-o", str(out)], check=True)
    return HostLib(out)


@pytest.fixture(scope="module")
def host(tmp_path_factory) -> HostLib:
    if GXX is None:
        pytest.skip("g++ is not on PATH")
    return build_host(tmp_path_factory.mktemp("draws") / "libdraws.so")


# ------------------------------------------------------------------- comparisons
# Each runs one family on `lib` and the numba twin, asserts bit identity, and returns counts of
# the rare paths it went through (so that a test can check they were reached).
def compare_normal_zig(lib, n=300_000) -> dict:
    rng = np.random.default_rng(1)
    entity, index = _entities(rng, n), _u32(rng, n)
    sub = rng.integers(0, 2**32 - 2_000, n, dtype=np.uint64).astype(np.uint32)
    sub[: n // 4] = 0
    sub[-3:] = np.array([0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD], dtype=np.uint32)  # wraps past 2**32
    want, want_nxt = np.empty(n), np.empty(n, np.uint32)
    _ref_normal_zig(SEED, STREAM, entity, index, sub, want, want_nxt)
    got, got_nxt = np.empty(n), np.empty(n, np.uint32)
    lib("normal_zig", ZX, ZF, np.uint32(SEED), np.uint32(STREAM), entity, index, sub, got, got_nxt, np.int64(n))
    _assert_same_bits(want, got, "normal_zig", entity, index, sub)
    bad = np.flatnonzero(want_nxt != got_nxt)
    assert bad.size == 0, ("normal_zig next sub", want_nxt[bad[:5]], got_nxt[bad[:5]], entity[bad[:5]])
    used = (want_nxt.astype(np.int64) - sub.astype(np.int64)) % 2**32
    return {"rejections": int(np.sum(used > 1)), "two_rejections": int(np.sum(used > 2)),
            "tail": int(np.sum(np.abs(want) > R)), "min_used": int(used.min())}


def compare_zig_attempt(lib, n=400_000) -> dict:
    rng = np.random.default_rng(2)
    x, layer = _mixed_words(rng, n)
    x2, x3 = _u32(rng, n), _u32(rng, n)
    x2[:4] = x3[:4] = np.array([0, 0xFFFFFFFF, 0, 0xFFFFFFFF], dtype=np.uint32)
    want_ok, want_z = np.empty(n, np.int32), np.empty(n)
    _ref_zig_attempt(x, layer, x2, x3, want_ok, want_z)
    got_ok, got_z = np.empty(n, np.int32), np.empty(n)
    lib("zig_attempt", ZX, ZF, x, layer, x2, x3, got_ok, got_z, np.int64(n))
    assert np.array_equal(want_ok, got_ok), np.flatnonzero(want_ok != got_ok)[:5]
    _assert_same_bits(want_z, got_z, "zig_attempt", x, layer, x2, x3)
    slow = ~(np.abs(x.view(np.int32) * 2.0**-31 * ZX[layer]) < ZX[layer + 1])
    tail, wedge = slow & (layer == 0), slow & (layer > 0)
    return {"tail_accept": int(np.sum(tail & (want_ok == 1))), "tail_reject": int(np.sum(tail & (want_ok == 0))),
            "wedge_accept": int(np.sum(wedge & (want_ok == 1))),
            "wedge_reject": int(np.sum(wedge & (want_ok == 0)))}


def compare_zig_first(lib, n=300_000) -> dict:
    rng = np.random.default_rng(3)
    x, layer = _mixed_words(rng, n)
    entity, index = _entities(rng, n), _u32(rng, n)
    want = [np.empty(n) for _ in range(3)]
    _ref_zig_first(SEED, STREAM, x, layer, entity, index, *want)
    got = [np.empty(n) for _ in range(3)]
    lib("zig_first", ZX, ZF, np.uint32(SEED), np.uint32(STREAM), x, layer, entity, index, *got, np.int64(n))
    for name, w, g in zip(("zig_x", "zig_fast", "normal_zig_first"), want, got):
        _assert_same_bits(w, g, name, x, layer, entity, index)
    fast, first = want[1], want[2]
    slow = np.isnan(fast)
    return {"slow": int(slow.sum()), "fast": int((~slow).sum()),
            "first_attempt_kept": int(np.sum(slow & (np.abs(first) == np.abs(want[0])))),
            "tail": int(np.sum(np.abs(first) > R))}


def compare_zig_layer(lib, n=100_000) -> dict:
    rng = np.random.default_rng(4)
    w0, w1 = _u32(rng, n), _u32(rng, n)
    w0[:3], w1[:3] = np.array([0, 0xFFFFFFFF, 63], np.uint32), np.array([0xFFFFFFFF, 0, 3], np.uint32)
    want, got = np.empty(n, np.int32), np.empty(n, np.int32)
    _ref_zig_layer(w0, w1, want)
    lib("zig_layer", w0, w1, got, np.int64(n))
    assert np.array_equal(want, got), np.flatnonzero(want != got)[:5]
    return {"layers": int(np.unique(want).size)}


def compare_draw(lib, name: str, n: int | None = None) -> dict:
    row = np.array(ROWS[name], dtype=np.float64)
    n = n or (2_000 if name == "impossible" else 60_000)
    rng = np.random.default_rng(5)
    entity, index = _entities(rng, n), _u32(rng, n)
    want, got = np.empty(n), np.empty(n)
    _ref_draw(row, SEED, STREAM, entity, index, want)
    lib("draw", row, ZX, ZF, np.uint32(SEED), np.uint32(STREAM), entity, index, got, np.int64(n))
    _assert_same_bits(want, got, f"draw {name}", entity, index)
    # how many keys redrew: their value differs from the same row without bounds
    free = row.copy()
    free[3:] = -INF, INF
    first = np.empty(n)
    _ref_draw(free, SEED, STREAM, entity, index, first)
    return {"nan": int(np.isnan(want).sum()), "redrawn": int(np.sum(_bits(first) != _bits(want))),
            "inf": int(np.isinf(want).sum())}


def compare_shared_block_weight(lib, name: str, nan_z_fast: bool = False, n=100_000) -> dict:
    row = np.array(BLOCK_ROWS[name], dtype=np.float64)
    n = 2_000 if name == "impossible" else n
    rng = np.random.default_rng(6)
    entity, j = _entities(rng, n), _u32(rng, n)
    j[: n // 8] = rng.integers(2**31, 2**32, n // 8, dtype=np.uint64).astype(np.uint32)  # j + 2**31 wraps
    w0, w1, w3 = _u32(rng, n), _u32(rng, n), _u32(rng, n)
    layer = np.empty(n, np.int32)
    _ref_zig_layer(w0, w1, layer)
    off = slice(0, n // 4)  # a quarter of the blocks leave the fast region
    w3[off] = _off_fast_words(rng, layer[off])
    z_fast = np.empty(n)
    _ref_zig_fast_of_block(w0, w1, w3, z_fast)
    if nan_z_fast:  # the caller may leave every weight to the slow path's own fast check
        z_fast[:] = np.nan
    want, got = np.empty(n), np.empty(n)
    _ref_shared_block_weight(row, z_fast, w0, w1, w3, SEED, STREAM, entity, j, want)
    lib("shared_block_weight", row, z_fast, w0, w1, w3, ZX, ZF, np.uint32(SEED), np.uint32(STREAM), entity, j,
        got, np.int64(n))
    _assert_same_bits(want, got, f"shared_block_weight {name}", w0, w1, w3, entity, j)
    free = row.copy()
    free[3:] = -INF, INF
    first = np.empty(n)
    _ref_shared_block_weight(free, z_fast, w0, w1, w3, SEED, STREAM, entity, j, first)
    return {"slow": int(np.isnan(z_fast).sum()), "nan": int(np.isnan(want).sum()),
            "redrawn": int(np.sum(_bits(first) != _bits(want)))}


# ------------------------------------------------------------------- tests
def test_header_constants_match_python():
    """Every #define of distributions.cuh is the Python value it names (and none is unchecked)."""
    defines = dict(re.findall(r"^#define (CG_\w+) (\S+)", HEADER.read_text(), flags=re.M))
    defines.pop("CORTEX_GPU_DISTRIBUTIONS_CUH", None)

    def num(lit: str):
        return float.fromhex(lit) if "p" in lit.lower() else int(lit.rstrip("uU"), 0)

    want = {
        "CG_TWO_M31": philox._TWO_M31,
        "CG_ZIG_TABLE_SIZE": philox._ZIG_X.size,
        "CG_KIND_CONST": distributions.KIND_CONST,
        "CG_KIND_NORMAL": distributions.KIND_NORMAL,
        "CG_KIND_UNIFORM": distributions.KIND_UNIFORM,
        "CG_KIND_LOGNORMAL": distributions.KIND_LOGNORMAL,
        "CG_MAX_REDRAWS": distributions.MAX_REDRAWS,
        "CG_REDRAW_INDEX_OFFSET": connect.REDRAW_INDEX_OFFSET,
    }
    assert set(defines) == set(want)
    for name, value in want.items():
        assert num(defines[name]) == value, name
    assert philox._ZIG_F.size == philox._ZIG_X.size and philox._TWO_M31 == 2.0**-31
    assert connect.KIND_NORMAL_ROW == distributions.KIND_NORMAL
    assert connect.KIND_LOGNORMAL_ROW == distributions.KIND_LOGNORMAL
    assert philox._ZIG_R == philox._ZIG_X[1]  # the header reads r as zx[1]
    # normal_zig's attempt bound is philox.cuh's CG_MAX_ATTEMPTS
    m = re.search(r"#define CG_MAX_ATTEMPTS (\d+)", (KERNELS / "philox.cuh").read_text())
    assert int(m.group(1)) == philox._MAX_ATTEMPTS


@needs_gxx
def test_normal_zig(host):
    c = compare_normal_zig(host)
    # the rare paths were taken: rejections (wedge or tail), two in a row, values from the tail
    assert c["rejections"] > 1_000 and c["two_rejections"] > 5 and c["tail"] > 30 and c["min_used"] == 1, c


@needs_gxx
def test_zig_attempt(host):
    c = compare_zig_attempt(host)
    assert min(c.values()) > 100, c


@needs_gxx
def test_zig_fast_and_normal_zig_first(host):
    c = compare_zig_first(host)
    assert c["slow"] > 100_000 and c["fast"] > 100_000 and c["first_attempt_kept"] > 50_000 and c["tail"] > 100, c


@needs_gxx
def test_zig_layer(host):
    assert compare_zig_layer(host)["layers"] == 256


@needs_gxx
@pytest.mark.parametrize("name", list(ROWS))
def test_draw(host, name):
    c = compare_draw(host, name)
    bounded = np.isfinite(ROWS[name][3]) or np.isfinite(ROWS[name][4])
    if name == "impossible":
        assert c["nan"] == 2_000, c
    else:
        assert c["nan"] == 0, c
        assert (c["redrawn"] > 1_000) == (name in REDRAWING), c
        assert (c["redrawn"] == 0) == (not bounded or name == "normal_pinned"), c
    assert (c["inf"] > 0) == (name == "lognormal_overflow"), c


@needs_gxx
@pytest.mark.parametrize("nan_z_fast", [False, True])
@pytest.mark.parametrize("name", list(BLOCK_ROWS))
def test_shared_block_weight(host, name, nan_z_fast):
    c = compare_shared_block_weight(host, name, nan_z_fast)
    assert c["slow"] > 20_000 or name == "impossible", c
    assert c["nan"] == (2_000 if name == "impossible" else 0), c
    assert (c["redrawn"] > 1_000) == (name in REDRAWING | {"impossible"}), c


#: Changes to the header that each comparison must notice (so that a passing comparison means something).
MUTATIONS = [
    ("layer from the high bits", "(int)(x.x1 & 255u)", "(int)(x.x1 >> 24)", compare_normal_zig),
    ("tail from the wrong uniform", "cg_ddiv(-cg_plog(u2), r)", "cg_ddiv(-cg_plog(u3), r)", compare_zig_attempt),
    ("wedge height from the tail's uniform", "cg_dmul(u2, cg_dsub(zf[layer + 1], zf[layer]))",
     "cg_dmul(u3, cg_dsub(zf[layer + 1], zf[layer]))", compare_zig_attempt),
    ("first attempt's block at sub 1", "cg_block(seed, stream, entity, index, 0u)",
     "cg_block(seed, stream, entity, index, 1u)", compare_zig_first),
    ("redraw at index j", "j + CG_REDRAW_INDEX_OFFSET", "j", lambda lib: compare_shared_block_weight(
        lib, "normal_bounded")),
    ("inclusive bound dropped", "row[3] <= x && x <= row[4]) return x;\n    }",
     "row[3] < x && x <= row[4]) return x;\n    }", lambda lib: compare_draw(lib, "normal_pinned")),
    ("uniform in another order, the same in exact arithmetic", "cg_dadd(a, cg_dmul(cg_dsub(b, a), u))",
     "cg_dadd(cg_dmul(a, cg_dsub(1.0, u)), cg_dmul(b, u))", lambda lib: compare_draw(lib, "uniform")),
]


@needs_gxx
@pytest.mark.parametrize("what, old, new, compare", MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_a_wrong_header_is_caught(tmp_path, what, old, new, compare):
    text = HEADER.read_text()
    assert text.count(old) == 1, what
    (tmp_path / HEADER.name).write_text(text.replace(old, new))
    lib = build_host(tmp_path / "libwrong.so", include_first=tmp_path)
    with pytest.raises(AssertionError):
        compare(lib)


@pytest.mark.skipif(NVCC is None, reason="nvcc is not on PATH")
@pytest.mark.parametrize("pasted", [False, True], ids=["include", "kernel_source"])
def test_header_compiles_for_the_device(tmp_path, pasted):
    """nvcc builds the header into device code with the backend's options, warnings as errors, from
    the file (-I kernels) and as the backend hands it to NVRTC (headers pasted in)."""
    src = KERNELS / "distributions_selftest.cu"
    if pasted:
        src = tmp_path / src.name
        src.write_text(cuda.kernel_source("distributions_selftest.cu"))
    r = subprocess.run([NVCC, "-arch=sm_90", *cuda.nvrtc_options(), f"-I{KERNELS}", "-Werror", "all-warnings",
                        "-c", str(src), "-o", str(tmp_path / "d.o")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    # every kernel is there, and no operation is fused (the host twin rounds each one), even where
    # nvcc may contract (--fmad=true, its default): every operation goes through an __d*_rn intrinsic
    ptx = tmp_path / "d.ptx"
    opts = [o for o in cuda.nvrtc_options() if o != "--fmad=false"]
    r = subprocess.run([NVCC, "-arch=sm_90", *opts, f"-I{KERNELS}", "-ptx", str(src), "-o", str(ptx)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    text = ptx.read_text()
    for name in ("normal_zig", "zig_first", "zig_attempt", "zig_layer", "draw", "shared_block_weight"):
        assert f".entry cg_dist_{name}(" in text, name
    assert "fma.rn.f64" not in text and "mul.rn.f64" in text


@pytest.mark.gpu
def test_device_matches_numba():
    """The same comparisons with kernels/distributions_selftest.cu on the GPU."""
    from cortex_gpu.backends import cuda_available
    ok, why = cuda_available()
    if not ok:
        pytest.skip(why or "no usable GPU")
    dev = DeviceLib()
    compare_normal_zig(dev)
    compare_zig_attempt(dev)
    compare_zig_first(dev)
    compare_zig_layer(dev)
    for name in ROWS:
        compare_draw(dev, name)
    for name in BLOCK_ROWS:
        compare_shared_block_weight(dev, name)
        compare_shared_block_weight(dev, name, nan_z_fast=True)
