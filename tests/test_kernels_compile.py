"""Every CUDA source in kernels/ compiles, for Hopper and for the oldest GPU the backend supports.

Compiled with nvcc when it is on PATH (skipped otherwise, saying so), with
the options the backend gives NVRTC (``cuda.nvrtc_options()``): sm_90, and
the oldest architecture at or above :data:`MIN_ARCH` (compute capability
7.0, Volta: ``__match_any_sync`` needs it) that this nvcc still builds;
CUDA 13 dropped Volta, so there it is sm_75. The NVRTC test compiles with
CuPy's own compiler library, where one can be found.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import glob
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from cortex_gpu.backends import cuda

KERNELS = sorted(cuda.KERNEL_DIR.glob("*.cu"))
#: Oldest compute capability the kernels are written for (README: "What runs on the GPU").
MIN_ARCH = 70
NVCC = shutil.which("nvcc")
needs_nvcc = pytest.mark.skipif(NVCC is None, reason="nvcc is not on PATH")


def _nvcc_archs() -> list[int]:
    out = subprocess.run([NVCC, "--list-gpu-arch"], capture_output=True, text=True).stdout
    return sorted({int(a) for a in re.findall(r"compute_(\d+)", out)})


def _nvcc_options() -> list[str]:
    # nvcc takes NVRTC's options as they are; -Werror so that warnings are read, except nvcc's
    # notice that old architectures are deprecated (CUDA 12.8+ says so for sm_70)
    return [*cuda.nvrtc_options(), f"-I{cuda.KERNEL_DIR}", "-Werror", "all-warnings",
            "-Wno-deprecated-gpu-targets"]


def _compile(src: Path, arch: int, out: Path, extra=()) -> subprocess.CompletedProcess:
    return subprocess.run([NVCC, f"-arch=sm_{arch}", *_nvcc_options(), *extra, "-c", str(src), "-o", str(out)],
                          capture_output=True, text=True)


def test_kernel_files_present():
    names = {p.name for p in KERNELS}
    assert set(cuda.KERNEL_FILES) <= names and {"philox_selftest.cu", "distributions_selftest.cu"} <= names


@needs_nvcc
def test_every_kernel_compiles(tmp_path):
    archs = _nvcc_archs()
    oldest = min(a for a in archs if a >= MIN_ARCH)
    assert 90 in archs, f"this nvcc cannot build sm_90 ({archs})"
    jobs = [(src, arch) for arch in sorted({90, oldest}) for src in KERNELS]
    with ThreadPoolExecutor(max_workers=max(2, min(4, os.cpu_count() or 1))) as pool:
        results = list(pool.map(lambda j: _compile(j[0], j[1], tmp_path / f"{j[0].stem}_sm{j[1]}.o"), jobs))
    failed = [f"{src.name} sm_{arch}:\n{r.stderr}" for (src, arch), r in zip(jobs, results) if r.returncode]
    assert not failed, "\n".join(failed)
    assert all((tmp_path / f"{s.stem}_sm{a}.o").stat().st_size > 0 for s, a in jobs)


@needs_nvcc
def test_compile_error_is_reported(tmp_path):
    """The test above fails on a broken kernel: nvcc's status and message reach it."""
    bad = tmp_path / "bad.cu"
    bad.write_text('#include "delivery.cuh"\nextern "C" __global__ void k(cg_i64 *a) { a[0] = undefined_name; }\n')
    r = _compile(bad, 90, tmp_path / "bad.o")
    assert r.returncode != 0 and "undefined_name" in r.stderr


@needs_nvcc
@pytest.mark.parametrize("name, macro, bad", [("ring.cu", "CG_RING_THREADS", 1000),
                                              ("exchange.cu", "CG_RING_THREADS", 2048),
                                              ("update.cu", "CG_UPDATE_THREADS", 100),
                                              ("deliver.cu", "CG_DELIVER_WARPS", 33),
                                              ("deliver_stdp.cu", "CG_DELIVER_WARPS", 0)])
def test_block_size_is_checked_when_compiling(tmp_path, name, macro, bad):
    """The block scans and full-mask warp collectives need whole warps and at most 1024 threads: a kernel
    file built for another block size (its -D) fails to compile, naming the macro."""
    opts = [o for o in _nvcc_options() if not o.startswith(f"-D{macro}=")] + [f"-D{macro}={bad}"]
    r = subprocess.run([NVCC, "-arch=sm_90", *opts, "-c", str(cuda.KERNEL_DIR / name), "-o", str(tmp_path / "x.o")],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "static assertion failed" in r.stderr and macro in r.stderr, r.stderr


@needs_nvcc
def test_update_has_no_fma_with_the_backend_options(tmp_path):
    """--fmad=false keeps the neuron update's multiply-adds apart (the CPU rounds each one); without it
    nvcc contracts them, so the check is not vacuous."""
    src = cuda.KERNEL_DIR / "update.cu"
    ptx = tmp_path / "update.ptx"
    r = subprocess.run([NVCC, "-arch=sm_90", *cuda.nvrtc_options(), f"-I{cuda.KERNEL_DIR}", "-ptx", str(src),
                        "-o", str(ptx)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    text = ptx.read_text()
    assert "fma.rn.f64" not in text and "mul.rn.f64" in text
    opts = [o for o in cuda.nvrtc_options() if o != "--fmad=false"] + [f"-I{cuda.KERNEL_DIR}"]
    r = subprocess.run([NVCC, "-arch=sm_90", *opts, "-ptx", str(src), "-o", str(ptx)], capture_output=True, text=True)
    assert r.returncode == 0 and "fma.rn.f64" in ptx.read_text()


@needs_nvcc
def test_delivery_ptx_has_no_atomic_instruction(tmp_path):
    """No atom./red. instruction in the step kernels' PTX, whatever the source calls them."""
    for name in ("deliver.cu", "update.cu", "ring.cu", "exchange.cu"):
        ptx = tmp_path / f"{name}.ptx"
        r = subprocess.run([NVCC, "-arch=sm_90", *cuda.nvrtc_options(), f"-I{cuda.KERNEL_DIR}", "-ptx",
                            str(cuda.KERNEL_DIR / name), "-o", str(ptx)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert not re.search(r"^\s*(atom|red)\.", ptx.read_text(), flags=re.M), name


def test_kernel_source_pastes_headers_in():
    """The backend hands NVRTC one text per file, headers included, so that CuPy's cache (keyed by
    the text) sees a header change."""
    src = cuda.kernel_source("deliver.cu")
    assert not re.search(r'#include\s+"', src)
    for header in ("philox.cuh", "delivery.cuh", "scan.cuh"):
        assert f'#line 1 "{header}"' in src and src.count(f"#line 1 \"{header}\"") == 1
    assert "CORTEX_GPU_DELIVERY_CUH" in src and "cg_block_run" in src


@needs_nvcc
def test_pasted_source_compiles(tmp_path):
    for name in cuda.KERNEL_FILES:
        f = tmp_path / name
        f.write_text(cuda.kernel_source(name))
        r = subprocess.run([NVCC, "-arch=sm_90", *cuda.nvrtc_options(), "-Werror", "all-warnings", "-c", str(f),
                            "-o", str(tmp_path / (name + ".o"))], capture_output=True, text=True)
        assert r.returncode == 0, f"{name}: {r.stderr}"


# --------------------------------------------------------------------------- NVRTC
def _find_nvrtc() -> str | None:
    """libnvrtc: $CORTEX_GPU_NVRTC, the system's, or one from a CUDA wheel (CuPy's dependency)."""
    if os.environ.get("CORTEX_GPU_NVRTC"):
        return os.environ["CORTEX_GPU_NVRTC"]
    name = ctypes.util.find_library("nvrtc")
    if name:
        return name
    for site in sys.path:
        hits = sorted(glob.glob(os.path.join(site, "nvidia", "*", "lib", "libnvrtc.so*"))
                      + glob.glob(os.path.join(site, "nvidia", "cuda_nvrtc", "lib", "libnvrtc.so*")))
        if hits:
            return hits[0]
    return None


def _nvrtc_compile(lib, source: str, name: str, options) -> tuple[int, str]:
    prog = ctypes.c_void_p()
    assert lib.nvrtcCreateProgram(ctypes.byref(prog), source.encode(), name.encode(), 0, None, None) == 0
    opts = (ctypes.c_char_p * len(options))(*[o.encode() for o in options])
    status = lib.nvrtcCompileProgram(prog, len(options), opts)
    size = ctypes.c_size_t()
    lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
    log = ctypes.create_string_buffer(size.value)
    lib.nvrtcGetProgramLog(prog, log)
    lib.nvrtcDestroyProgram(ctypes.byref(prog))
    return status, log.value.decode(errors="replace")


def test_nvrtc_compiles_the_backend_kernels():
    """The path the backend takes at run time (cupy.RawModule compiles with NVRTC, no host headers)."""
    path = _find_nvrtc()
    if path is None:
        pytest.skip("no libnvrtc found (CuPy's CUDA wheels bring one; or set CORTEX_GPU_NVRTC)")
    try:
        lib = ctypes.CDLL(path)
    except OSError as exc:
        pytest.skip(f"libnvrtc at {path} does not load: {exc}")
    for name in (*cuda.KERNEL_FILES, cuda.CONSTRUCT_KERNEL_FILE, "philox_selftest.cu", "distributions_selftest.cu"):
        status, log = _nvrtc_compile(lib, cuda.kernel_source(name), name,
                                     ["--gpu-architecture=compute_90", *cuda.nvrtc_options()])
        if "libnvrtc-builtins" in log:
            pytest.skip(f"libnvrtc at {path} cannot find its builtins library: {log.strip()}")
        assert status == 0 and "warning" not in log, f"{name}: {log}"
