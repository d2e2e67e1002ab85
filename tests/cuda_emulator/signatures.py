"""Kernel signatures read from the CUDA sources, and the NumPy dtype each parameter takes.

Used by ``fake_cupy`` to check every launch of ``cortex_gpu.backends.cuda``
against the kernel it calls (argument count, array dtypes, scalar widths),
and to call the CPU emulator with matching ctypes.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["Param", "kernel_signatures", "source_signatures", "C_TYPES", "strip_comments"]

#: C parameter types of the kernels and the NumPy dtype of the data they point to or hold.
C_TYPES = {
    "cg_i64": np.int64, "long long": np.int64, "unsigned long long": np.uint64, "int": np.int32,
    "unsigned int": np.uint32, "cg_u32": np.uint32,
    "double": np.float64, "float": np.float32, "cg_u16": np.uint16, "unsigned short": np.uint16,
    "unsigned char": np.uint8, "signed char": np.int8,
}
_HEAD = r'extern\s+"C"\s+__global__\s+void\s+(?:__launch_bounds__\([^)]*\)\s*)?'


@dataclass(frozen=True)
class Param:
    name: str
    ctype: str        # base type, without const and *
    pointer: bool

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(C_TYPES[self.ctype])


def strip_comments(text: str) -> str:
    """C source without /* */ and // comments."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def _params(text: str) -> list[Param]:
    out = []
    for p in text.split(","):
        p = " ".join(p.replace("\\", " ").split())
        if not p:
            continue
        pointer = "*" in p
        words = p.replace("*", " ").replace("const ", " ").split()
        out.append(Param(words[-1], " ".join(words[:-1]), pointer))
    return out


def _macro_kernels(text: str) -> dict[str, list[Param]]:
    """Kernels defined by a macro ``#define M(NAME, A, ...) ... NAME(params)`` and its ``M(k, TA, ...)``
    lines (one or more type parameters)."""
    out: dict[str, list[Param]] = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        macro = re.match(r"#define\s+(\w+)\(NAME((?:,\s*\w+)+)\)", line)
        if macro is None:
            continue
        body = [line]
        while body[-1].rstrip().endswith("\\") and i + len(body) < len(lines):
            body.append(lines[i + len(body)])
        sig = re.search(_HEAD + r"NAME\s*\(([^)]*)\)", " ".join(body))
        if sig is None:
            continue
        name = macro.group(1)
        formals = [a.strip() for a in macro.group(2).split(",")[1:]]
        for inst in re.finditer(rf"^{name}\((\w+)((?:,\s*[\w ]+?)+)\)", text, flags=re.M):
            params = sig.group(1)
            for formal, actual in zip(formals, inst.group(2).split(",")[1:]):
                params = re.sub(rf"\b{formal}\b", actual.strip(), params)
            out[inst.group(1)] = _params(params)
    return out


def kernel_signatures(path: Path) -> dict[str, list[Param]]:
    """``{kernel name: parameters}`` of the ``extern "C" __global__`` kernels of one .cu file,
    including those a macro defines."""
    return source_signatures(Path(path).read_text())


def source_signatures(source: str) -> dict[str, list[Param]]:
    """:func:`kernel_signatures` of CUDA source text."""
    text = strip_comments(source)
    out = {m.group(1): _params(m.group(2)) for m in re.finditer(_HEAD + r"(\w+)\s*\(([^)]*)\)", text)
           if m.group(1) != "NAME"}
    out.update(_macro_kernels(text))
    return out
