"""Software prefetch for numba kernels that append to many regions at once.

The build's scatter pass (:func:`cortex_gpu.build._pass_fill`) appends each
synapse to one of ~300 buckets in four arrays: ~1,200 write fronts, far
more than a hardware prefetcher follows, so every new cache line of a front
is a miss that stalls the store queue. Asking for the line a few elements
ahead of each front hides that latency (~30% of the scatter's time at
full-scale PD14). A prefetch never faults, so an index past the array's end
is harmless.
"""
from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["prefetch_write"]


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
