"""A random-number generator whose whole state is a small array, for numba kernels.

xoshiro256** (Blackman and Vigna, "Scrambled linear pseudorandom number generators",
ACM TOMS 2021) keeps its state in four 64-bit words. Holding that state in an array lets
compiled kernels carry one independent stream per simulated market, where a
``numpy.random.Generator`` object cannot be stored in an array. States are seeded from a
``numpy.random.Generator`` (:func:`new_state`), so every stream still comes from the seed
the user gave.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit
from numba.core import cgutils, types
from numba.extending import intrinsic

from execgym.envs.market.simulation._jit import HOT_INLINE

__all__ = ["exponential", "new_state", "next_u64", "normal", "uniform", "uniform_below"]

_TWO_PI = 2.0 * math.pi
#: 2**-53: scales the top 53 bits of a 64-bit output to a double on [0, 1)
_TWO_POW_MINUS_53 = 1.0 / 9007199254740992.0


def _exponential_ziggurat() -> tuple[float, np.ndarray, np.ndarray]:
    """The 256-layer ziggurat of ``exp(-x)`` (Marsaglia and Tsang 2000, "The ziggurat method
    for generating random variables", J. Stat. Softw. 5(8)): the right edge ``r`` of the
    base layer, each layer's right edge ``x[i]`` (``x[0] = v / f(r)``, the base strip's
    width with its tail; ``x[256] = 0``) and the density there, ``f[i] = exp(-x[i])``. Every
    layer has the area ``v``."""
    r = 7.69711747013104972
    v = 3.949659822581572e-3
    x = np.empty(257)
    x[0] = v / math.exp(-r)
    x[1] = r
    for i in range(1, 255):
        x[i + 1] = -math.log(v / x[i] + math.exp(-x[i]))
    x[256] = 0.0
    f = np.exp(-x)
    return r, x, f


_ZIG_R, _ZIG_X, _ZIG_F = _exponential_ziggurat()


def new_state(rng: np.random.Generator) -> np.ndarray:
    """A fresh xoshiro256** state (4 uint64 words, never all zero) drawn from ``rng``."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    state = rng.integers(0, np.iinfo(np.uint64).max, size=4, dtype=np.uint64, endpoint=True)
    if not state.any():
        state[0] = np.uint64(0x9E3779B97F4A7C15)
    return state


def _xoshiro_next(builder, state_ptrs):
    """xoshiro256**'s step in LLVM IR: the next 64-bit output from the four words at
    ``state_ptrs``, which it advances (the paper's ``next``: ``rotl(s1 * 5, 7) * 9``, then
    the linear update of the state)."""
    i64 = ir.IntType(64)

    def rotl(x, k):
        return builder.or_(builder.shl(x, i64(k)), builder.lshr(x, i64(64 - k)))

    s0, s1, s2, s3 = (builder.load(p) for p in state_ptrs)
    result = builder.mul(rotl(builder.mul(s1, i64(5)), 7), i64(9))
    t = builder.shl(s1, i64(17))
    s2 = builder.xor(s2, s0)
    s3 = builder.xor(s3, s1)
    s1 = builder.xor(s1, s2)
    s0 = builder.xor(s0, s3)
    s2 = builder.xor(s2, t)
    s3 = rotl(s3, 45)
    for p, v in zip(state_ptrs, (s0, s1, s2, s3)):
        builder.store(v, p)
    return result


def _state_pointers(context, builder, aryty, ary):
    """Pointers to the four words of the state array (any layout)."""
    arr = context.make_array(aryty)(context, builder, ary)
    return [cgutils.get_item_pointer(context, builder, aryty, arr, [context.get_constant(types.intp, k)])
            for k in range(4)]


def _is_state(s) -> bool:
    return isinstance(s, types.Array) and s.ndim == 1 and s.dtype == types.uint64 and s.mutable


# The two primitives are numba intrinsics (LLVM IR written at the call site) rather than
# functions inlined at numba's IR level: the background flow draws at some eighty places, and
# numba inlines by copying and re-analysing the callee's IR at each, which made most of the
# flow kernel's compilation time (envs/market/NOTEBOOK.md, "Compilation time, the twenty-first session").


@intrinsic
def next_u64(typingctx, s):
    """The next 64-bit output; advances the state array ``s`` (4 uint64 words) in place."""
    if not _is_state(s):
        return None

    def codegen(context, builder, signature, args):
        return _xoshiro_next(builder, _state_pointers(context, builder, signature.args[0], args[0]))

    return types.uint64(s), codegen


@intrinsic
def uniform(typingctx, s):
    """A double uniform on [0, 1) (the top 53 bits of :func:`next_u64`)."""
    if not _is_state(s):
        return None

    def codegen(context, builder, signature, args):
        bits = _xoshiro_next(builder, _state_pointers(context, builder, signature.args[0], args[0]))
        top = builder.uitofp(builder.lshr(bits, ir.IntType(64)(11)), ir.DoubleType())
        return builder.fmul(top, ir.Constant(ir.DoubleType(), _TWO_POW_MINUS_53))

    return types.float64(s), codegen


@njit(**HOT_INLINE)
def uniform_below(s, n):
    """An integer uniform on ``[0, n)`` for ``n >= 1`` (multiply-shift; bias below 2**-53 n)."""
    return np.int64(uniform(s) * n)


@njit(**HOT_INLINE)
def exponential(s):
    """A standard exponential variate (mean 1) by the ziggurat (:func:`_exponential_ziggurat`):
    about 99% of draws take one 64-bit output, a multiplication and a comparison (no
    logarithm). The output's low 8 bits pick the layer, its top 53 the position in it."""
    while True:
        b = next_u64(s)
        i = np.int64(b & np.uint64(255))
        x = np.float64(b >> np.uint64(11)) * _TWO_POW_MINUS_53 * _ZIG_X[i]
        if x < _ZIG_X[i + 1]:
            return x  # inside the rectangle under the next layer: under the density
        if i == 0:
            return _ZIG_R - math.log(1.0 - uniform(s))  # the tail beyond r: r plus an exponential
        if _ZIG_F[i] + uniform(s) * (_ZIG_F[i + 1] - _ZIG_F[i]) < math.exp(-x):
            return x  # the wedge: under the density


@njit(**HOT_INLINE)
def normal(s):
    """A standard normal variate (Box-Muller, one of the pair)."""
    u1 = 1.0 - uniform(s)  # (0, 1]
    u2 = uniform(s)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(_TWO_PI * u2)
