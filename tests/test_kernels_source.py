"""Static checks of the CUDA sources: no atomics where synaptic input is summed (I1), and the
constants the kernels share with Python are the same numbers (no GPU or compiler needed)."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from cortex_gpu import keys, philox
from cortex_gpu.backends import cpu, cuda
from cortex_gpu.models import PROP_COLUMNS
from cortex_gpu.record import RECORDABLE_CODES

#: Kernels that deliver, drive or merge synaptic input; with every header they include, none may
#: use an atomic operation (I1: one warp or thread owns each accumulator).
DELIVERY_ENTRY_FILES = ("deliver.cu", "deliver_stdp.cu", "update.cu", "ring.cu", "exchange.cu")


_STRING = r'"(?:\\.|[^"\\])*"'


def strip_comments(src: str) -> str:
    """C source without comments (line numbers kept)."""
    src = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), src, flags=re.S)
    return re.sub(r"//[^\n]*", "", src)


def find_atomics(src: str) -> list[tuple[int, str]]:
    """``(line, text)`` of every atomic operation in CUDA source ``src``: an identifier containing
    'atomic' (atomicAdd, atomicCAS, __atomic_fetch_add, cuda::atomic_ref, ...) outside string
    literals, or an ``atom.``/``red.`` instruction in inline PTX (``asm(...)``). Comments do not count."""
    code = strip_comments(src)
    hits = []
    for n, line in enumerate(code.splitlines(), 1):
        for asm in re.finditer(r"\basm\b[^(]*\(\s*((?:" + _STRING + r"\s*)+)", line):
            hits += [(n, m.group(0)) for m in re.finditer(r"\b(?:atom|red)\.[\w.]+", asm.group(1))]
        bare = re.sub(_STRING, '""', line)
        hits += [(n, m.group(0)) for m in re.finditer(r"\b\w*atomic\w*\b", bare, flags=re.I)]
    return hits


def included_files(entry: Path) -> list[Path]:
    """``entry`` and every kernel header it includes, transitively."""
    seen, todo = [], [entry]
    while todo:
        f = todo.pop()
        if f in seen:
            continue
        seen.append(f)
        for inc in re.findall(r'#include\s+"([^"]+)"', f.read_text()):
            todo.append(f.parent / inc)
    return seen


def delivery_sources() -> list[Path]:
    files = []
    for name in DELIVERY_ENTRY_FILES:
        files += [f for f in included_files(cuda.KERNEL_DIR / name) if f not in files]
    return files


# --------------------------------------------------------------------------- atomics
def test_checker_finds_planted_atomics():
    snippet = """
    // atomicAdd in a comment is fine, and so is /* atomicCAS */ here
    __device__ void add(long long *acc, long long x) { atomicAdd((unsigned long long *)acc, x); }
    __device__ void cas(int *a) { int old = atomicCAS(a, 0, 1); (void)old; }
    __device__ void ptx(long long *a) { asm volatile("red.global.add.u64 [%0], 1;" :: "l"(a)); }
    __device__ void ref(int *a) { cuda::atomic_ref<int, cuda::thread_scope_device> r(*a); }
    __device__ void msg() { printf("atomic words in a string do not count"); }
    """
    found = find_atomics(snippet)
    names = [t for _, t in found]
    assert "atomicAdd" in names and "atomicCAS" in names and "atomic_ref" in names
    assert any("red.global" in t for t in names)
    assert all(line != 2 and line != 7 for line, _ in found)     # the comment and the string


def test_checker_passes_clean_code():
    assert find_atomics("__global__ void k(int *a) { a[threadIdx.x] += 1; } // not atomicAdd") == []


def test_no_atomics_in_delivery_kernels():
    files = delivery_sources()
    names = {f.name for f in files}
    assert {"deliver.cu", "delivery.cuh", "neuron.cuh", "scan.cuh", "philox.cuh", "exchange.cu", "exchange.cuh"} <= names
    assert names == {f for f in names if f in cuda.DELIVERY_KERNEL_FILES or f == "philox.cuh"}
    for f in files:
        hits = find_atomics(f.read_text())
        assert not hits, f"{f.name} uses atomic operations (I1 forbids them): {hits}"


def test_no_atomics_in_the_construction_kernels():
    """The device build's result must not depend on thread timing: each entry's thread writes its own
    synapses, every other output has one writer (kernels/construct.cu's invariants)."""
    files = included_files(cuda.KERNEL_DIR / "construct.cu")
    assert {"construct.cu", "construct.cuh", "distributions.cuh", "philox.cuh"} <= {f.name for f in files}
    for f in files:
        hits = find_atomics(f.read_text())
        assert not hits, f"{f.name} uses atomic operations: {hits}"


# --------------------------------------------------------------------------- shared constants
def _defines(name: str) -> dict[str, str]:
    text = (cuda.KERNEL_DIR / name).read_text()
    return dict(re.findall(r"#define\s+(CG_\w+)\s+(.+?)\s*(?:/\*.*)?$", text, flags=re.M))


def test_propagator_columns_match_models():
    d = _defines("neuron.cuh")
    want = {"P22": "P22", "P21EX": "P21ex", "P21IN": "P21in", "P20": "P20", "P11EX": "P11ex", "P11IN": "P11in",
            "P31EX": "P31ex", "P31IN": "P31in", "P21IEX": "P21Iex", "P21IIN": "P21Iin", "PSC0EX": "psc0ex",
            "PSC0IN": "psc0in", "IE": "I_e", "THETA": "theta", "VRESET": "V_reset", "EL": "E_L", "VMIN": "V_min"}
    for cname, col in want.items():
        assert int(d[f"CG_{cname}"]) == PROP_COLUMNS.index(col), cname
        assert int(d[f"CG_{cname}"]) == getattr(cpu, cname), cname
    assert int(d["CG_N_PROP"]) == len(PROP_COLUMNS)


def test_drive_and_fixed_point_constants():
    d = _defines("neuron.cuh")
    assert int(d["CG_GUIDE_SIZE"]) == philox.GUIDE_SIZE
    assert eval(d["CG_POISSON_STREAM"].replace("u", "")) == cpu._POISSON_STREAM == keys.POISSON << 24
    assert int(d["CG_KIND_PSC_EXP"]) == 0 and int(d["CG_KIND_DC"]) == 1
    dd = _defines("delivery.cuh")
    assert float.fromhex(dd["CG_FIXED_ONE"]) == cpu.FIXED_ONE
    assert float.fromhex(dd["CG_INV_FIXED"]) == cpu._INV_FIXED
    assert RECORDABLE_CODES["V_m"] == 0 and RECORDABLE_CODES["I_syn_ex"] == 1 and RECORDABLE_CODES["I_syn_in"] == 2


def test_model_kinds_match_kernels():
    from cortex_gpu.models import NEURON_MODELS
    assert NEURON_MODELS["iaf_psc_exp"].kind == 0 and NEURON_MODELS["iaf_psc_alpha"].kind == 1
    d = _defines("neuron.cuh")
    assert NEURON_MODELS["parrot_neuron"].kind == int(d["CG_KIND_PARROT"]) == cpu.PARROT
    assert int(d["CG_PARROT_MAX_COPIES"]) == cpu.PARROT_MAX_COPIES
    assert eval(_defines("delivery.cuh")["CG_ONE_FX"].replace("LL", "")) == cpu._ONE_FX


def test_delivery_files_are_listed():
    """Every kernel file that delivers (and every header it includes) is in cuda.DELIVERY_KERNEL_FILES."""
    assert {f.name for f in delivery_sources()} <= set(cuda.DELIVERY_KERNEL_FILES) | {"philox.cuh"}


@pytest.mark.parametrize("name, macro, value", [("update.cu", "CG_UPDATE_THREADS", cuda.UPDATE_THREADS),
                                                ("deliver.cu", "CG_DELIVER_WARPS", cuda.DELIVER_WARPS),
                                                ("ring.cu", "CG_RING_THREADS", cuda.RING_THREADS),
                                                ("exchange.cu", "CG_RING_THREADS", cuda.RING_THREADS),
                                                ("construct.cu", "CG_CONSTRUCT_THREADS", cuda.CONSTRUCT_THREADS)])
def test_block_size_defaults_match_backend(name, macro, value):
    """The kernels' #ifndef defaults equal what the backend passes with -D (either way the same sizes)."""
    assert int(_defines(name)[macro]) == value
    assert f"-D{macro}={value}" in cuda.nvrtc_options()


def test_kernel_headers_name_their_invariant():
    """STYLE: each kernel file opens with a comment that states the invariant it keeps."""
    for f in sorted(cuda.KERNEL_DIR.glob("*.cu")) + sorted(cuda.KERNEL_DIR.glob("*.cuh")):
        head = f.read_text().split("*/", 1)[0]
        assert head.lstrip().startswith("/*") and re.search(r"[Ii]nvariant", head), f.name


def test_emulator_signatures_match_kernels():
    """tests/cuda_emulator/emulator.cpp takes each kernel's parameters after (grid, block)."""
    import sys
    sys.path.insert(0, str(Path(__file__).parent / "cuda_emulator"))
    from signatures import kernel_signatures, source_signatures
    emu = (Path(__file__).parent / "cuda_emulator" / "emulator.cpp").read_text()
    emu = re.sub(r"EMU void (\w+)\(int grid, int block,", r'extern "C" __global__ void \1(', emu)
    emu = emu.replace('#define EMU_DELIVER(NAME, W, DOFF)', '#define CG_DELIVER_KERNEL(NAME, W, DOFF)')
    emu = re.sub(r"EMU void NAME\(int grid, int block,", 'extern "C" __global__ void NAME(', emu)
    emu = re.sub(r"^EMU_DELIVER\(", "CG_DELIVER_KERNEL(", emu, flags=re.M)
    mine = source_signatures(emu)
    for name in cuda.KERNEL_FILES:
        for k, params in kernel_signatures(cuda.KERNEL_DIR / name).items():
            assert [(p.dtype, p.pointer) for p in mine[k]] == [(p.dtype, p.pointer) for p in params], k
    assert np.dtype(np.int64) == np.dtype("int64")


def test_construction_codes_match_the_cpu_build():
    """construct.cuh's rule and error codes are connect.RULE_CODES and build's error codes."""
    from cortex_gpu import build
    from cortex_gpu.connect import RULE_CODES
    d = _defines("construct.cuh")
    names = {"one_to_one": "ONE_TO_ONE", "all_to_all": "ALL_TO_ALL", "fixed_indegree": "FIXED_INDEGREE",
             "fixed_total_number": "FIXED_TOTAL", "pairwise_bernoulli": "BERNOULLI"}
    assert {rule: int(d["CG_RULE_" + names[rule]]) for rule in RULE_CODES} == RULE_CODES
    assert (int(d["CG_BUILD_ERR_DELAY"]), int(d["CG_BUILD_ERR_REDRAW"]), int(d["CG_BUILD_ERR_DELAY_MAX"])) == \
        (build._ERR_DELAY, build._ERR_REDRAW, build._ERR_DELAY_MAX)
