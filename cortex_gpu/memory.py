"""Memory hints for the build: cache-line prefetch in kernels, page size of big arrays.

Prefetch. The build's scatter pass (:func:`cortex_gpu.build._pass_fill`)
appends each synapse to one of ~300 buckets in three arrays: ~900 write
fronts, far more than a hardware prefetcher follows, so every new cache
line of a front is a miss that stalls the store queue. Asking for the line a
few elements ahead of each front hides that latency (~30% of the scatter's
time at full-scale PD14). A prefetch never faults, so an index past the
array's end is harmless.

Page size. NumPy asks Linux for transparent huge pages on every large
array. Where free huge pages are scarce the kernel compacts memory on the
first touch of each 2 MiB region, stalling whichever thread touched it; the
scatter pass touches its arrays at hundreds of places at once. Small pages
made the full-scale PD14 build faster and steadier on the project machine
(median of 5: 6.9 s instead of 8.2 s), with no measurable change in the
simulation's speed, so the build's synapse arrays opt out of huge pages.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import sys

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["prefetch_write", "empty_small_pages"]


@intrinsic
def prefetch_write(typingctx, arr, index):
    """Hint that ``arr[index]`` (a 1-D array) is about to be written: ``llvm.prefetch``, keep in all levels."""
    if not isinstance(arr, types.Array) or arr.ndim != 1 or not isinstance(index, types.Integer):
        return None
    sig = types.void(arr, index)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]], wraparound=False)
        i8p = builder.bitcast(ptr, ir.IntType(8).as_pointer())
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p.type, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        # (address, rw = write, locality = keep in all cache levels, cache type = data)
        builder.call(fn, [i8p, i32(1), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen


_MADV_NOHUGEPAGE = 15   # Linux <sys/mman.h>
_PAGE = 4096


def _libc_madvise():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.madvise
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn


_madvise = _libc_madvise()


def empty_small_pages(n: int, dtype) -> np.ndarray:
    """``np.empty(n, dtype)`` whose whole pages are kept out of transparent huge pages (Linux).

    Must be called before the array is written: the hint decides how its
    pages are mapped at first touch. Elsewhere, or if the call fails, the
    array is returned as NumPy made it.
    """
    a = np.empty(n, dtype)
    if _madvise is not None and a.nbytes >= 16 * _PAGE:
        start = -(-a.ctypes.data // _PAGE) * _PAGE
        end = (a.ctypes.data + a.nbytes) // _PAGE * _PAGE
        if end > start:
            _madvise(start, end - start, _MADV_NOHUGEPAGE)
    return a
