"""Numba options and a prefetch intrinsic shared by the compiled kernels of the market."""

from __future__ import annotations

from llvmlite import binding, ir
from numba.core import cgutils, types
from numba.extending import intrinsic

__all__ = ["HOT", "prefetch"]

#: options of the hot-path kernels (the book's event path and everything it calls, the
#: background flow, the vectorised environments' steps). ``_nrt=False`` compiles them
#: without numba's runtime reference counting: these functions never allocate, and the
#: atomic increments and decrements numba otherwise emits around array arguments cost
#: more than the book operations themselves (about half the run time of the background
#: flow, measured with ``perf``). Allocating an array inside such a function is a
#: compile-time error, so the restriction cannot be broken silently.
HOT = {"cache": True, "_nrt": False}


# the intrinsic's name carries its pointer type: opaque pointers from LLVM 15 on
_PREFETCH = "llvm.prefetch.p0" if binding.llvm_version_info >= (15,) else "llvm.prefetch.p0i8"


@intrinsic
def prefetch(typingctx, arr, index):
    """Hint the CPU to bring the cache line of ``arr.flat[index]`` (a C-contiguous array) into
    its caches, without waiting for it (LLVM's ``llvm.prefetch``: a read, kept in the L2
    cache and above: locality 2 of 3, so it does not evict the L1 working set)."""
    if not isinstance(arr, types.Array) or arr.layout != "C" or not isinstance(index, types.Integer):
        return None
    sig = types.void(arr, index)

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, args[0])
        ptr = builder.gep(ary.data, [args[1]])
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, _PREFETCH)
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(2), i32(1)])
        return context.get_dummy_value()

    return sig, codegen
