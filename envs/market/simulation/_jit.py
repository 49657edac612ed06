"""Numba options, the on-disk cache's freshness check and a prefetch intrinsic shared by the
compiled kernels of the market and the environments.

Numba's on-disk cache (``cache=True``) reuses a compiled function while *its own* source
file is unchanged, even when a function it calls, in another module, has changed: an
environment step compiled against an older flow kernel would keep running the old kernel
(numba's documented limitation). Importing this module registers cache locators for the
functions defined under the ``envs`` package whose freshness stamp also covers every
source file of that package that compiles code, so any change to any kernel recompiles
them all (functions elsewhere keep numba's own locators).
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from llvmlite import binding, ir
from numba.core import caching, cgutils, types
from numba.core.compiler import Compiler
from numba.extending import intrinsic

__all__ = ["HOT", "HOT_DISJOINT", "HOT_FORCE", "HOT_INLINE", "DisjointArgsCompiler", "kernel_sources_stamp", "prefetch",
           "sources_digest"]

#: the ``envs`` package: its functions' caches are checked against all of its sources
_ENVS = Path(__file__).resolve().parents[2]


def sources_digest(root: Path) -> str:
    """SHA-256 of the Python source files under ``root`` that compile code (those that
    mention ``njit`` or ``intrinsic``; relative path and content)."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        source = path.read_bytes()
        if b"njit" in source or b"intrinsic" in source:
            digest.update(str(path.relative_to(root)).encode())
            digest.update(source)
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)
def kernel_sources_stamp() -> str:
    """:func:`sources_digest` of the ``envs`` package (once per process)."""
    return sources_digest(_ENVS)


class _KernelSourcesStamp:
    """A numba cache locator mixin: only for files under ``envs``; fresh while every source
    file of ``envs`` is unchanged."""

    @classmethod
    def from_function(cls, py_func, py_file):
        try:
            Path(py_file).resolve().relative_to(_ENVS)
        except (ValueError, OSError):
            return None  # not one of ours: numba's own locators
        return super().from_function(py_func, py_file)

    def get_source_stamp(self):
        return super().get_source_stamp(), kernel_sources_stamp()


def _register_locators() -> None:
    """Put the kernel locators before numba's own (same order: a user cache directory, the
    source tree's ``__pycache__``, the user-wide cache)."""
    ours = [type(f"Kernel{base.__name__}", (_KernelSourcesStamp, base), {})
            for base in (caching.UserProvidedCacheLocator, caching.InTreeCacheLocator, caching.UserWideCacheLocator)]
    registered = caching.CacheImpl._locator_classes
    if not any(issubclass(c, _KernelSourcesStamp) for c in registered):
        registered[:0] = ours


_register_locators()

#: options of the hot-path kernels (the book's event path and everything it calls, the
#: background flow, the vectorised environments' steps). ``_nrt=False`` compiles them
#: without numba's runtime reference counting: these functions never allocate, and the
#: atomic increments and decrements numba otherwise emits around array arguments cost
#: more than the book operations themselves (about half the run time of the background
#: flow, measured with ``perf``). Allocating an array inside such a function is a
#: compile-time error, so the restriction cannot be broken silently. ``error_model="numpy"``
#: drops the check-and-raise that numba's default ("python") puts before every division (a
#: ``ZeroDivisionError``): these kernels divide only by what cannot be zero (rates and counts
#: they check first, positive parameters validated at their boundary), and the same events run
#: 1.7% faster on ``goog_2012_06_21_latent`` (envs/market/NOTEBOOK.md, "Speed and reproducibility,
#: the twentieth session").
HOT = {"cache": True, "_nrt": False, "error_model": "numpy", "forceinline": False}
#: options of the helpers called in the background flow's event loop (one decision each:
#: a price, a size, a side, the offspring of an event). Inlined into the loop at numba's IR
#: level: called, each was a function call with every array argument passed field by field,
#: and LLVM did not inline them across numba's libraries. Inlining took the flow from 263 to
#: 169 ns per event on the ``goog_2012_06_21_follow`` preset and from 156 to 120 on
#: ``goog_2012_06_21`` (AMD EPYC, ``benchmarks/bench_market_models.py``). Compilation pays for
#: it, once per machine (the kernels are cached): numba inlines by copying the callee's IR
#: into the caller and re-analysing it, so each call site of an inlined helper lengthens the
#: flow kernel's compilation, superlinearly. Hence the random numbers' primitives are
#: intrinsics (``rng.py``), a helper inlined into several places is called from one where the
#: code allows (the centre in ``_centre_price``, the profile's price in ``_near_profile_price``), and the
#: others stay calls: the impact and the revisions (rare events), the centre's enclosures past
#: its cached Taylor step (``_enclosed_centre``; the step itself is inlined: the latent orders
#: read the centre), an empty book's centre and the per-call bounds. Inlining the market
#: orders' size and sign, the impact, the flickers and the regrouping as well was no faster
#: (envs/market/NOTEBOOK.md, "Speed and reproducibility, the twentieth session"; "Compilation time, the
#: twenty-first session").
HOT_INLINE = {**HOT, "inline": "always"}
#: options of the event loop's largest helpers (the depth profile's and the latent orders'
#: prices, the view of the book's top levels, the excited cancellations' order, the book's
#: ``process``): inlined by LLVM instead (numba's ``forceinline`` option marks the function
#: ``alwaysinline``; :data:`HOT` sets it off, so that a called helper does not inherit it from
#: its caller). Numba compiles such a helper once, however many call sites it has, and the
#: flow kernel's own passes (SSA, reaching definitions, typing) no longer run over its copies,
#: which grow superlinearly with the kernel's length: the flow kernel compiles in 47 s instead
#: of 151 s (``goog_2012_06_21_latent`` from an empty cache, AMD EPYC). The same events, and
#: the same speed (interleaved A/B, three workers per tree, best of 30 days: 0.999 of the IR
#: inlining's), where inlining every helper this way compiled in 35 s but ran 3% slower
#: (envs/market/NOTEBOOK.md, "Compilation time, the twenty-fifth session").
HOT_FORCE = {**HOT, "forceinline": True}


class DisjointArgsCompiler(Compiler):
    """Numba's compiler (its documented extension point: a custom ``pipeline_class``) with
    every pointer argument of the compiled function marked ``noalias`` (numba's ``noalias``
    flag, which its decorators do not expose).

    LLVM's ``noalias`` promises that memory written during the call through one argument
    is reached through no other during it (read-only memory may be shared). Without it,
    every store to one array (the book's orders, its levels) could change any other (the
    flow's parameters, its state), so the compiler reloads them after each store and keeps
    nothing in registers across one. **The caller guarantees it**: the arrays passed to a
    function compiled this way do not overlap where the function writes (distinct arrays, or
    distinct rows of one). Breaking that is undefined behaviour, not an error.
    """

    def __init__(self, typingctx, targetctx, library, args, return_type, flags, locals):
        flags = flags.copy()
        flags.noalias = True
        super().__init__(typingctx, targetctx, library, args, return_type, flags, locals)


#: options of the background flow's entry points (:func:`~execgym.envs.market.simulation.flow.run_flow`
#: and its flat forms): :data:`HOT`, with their array arguments promised disjoint
#: (:class:`DisjointArgsCompiler`). The same events, 1.7% faster on ``goog_2012_06_21_latent``
#: (envs/market/NOTEBOOK.md, "Speed and upkeep, the twenty-third session").
HOT_DISJOINT = {**HOT, "pipeline_class": DisjointArgsCompiler}


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
