"""Numba options shared by the compiled kernels of the market."""

from __future__ import annotations

__all__ = ["HOT"]

#: options of the hot-path kernels (the book's event path and everything it calls, the
#: background flow, the vectorised environments' steps). ``_nrt=False`` compiles them
#: without numba's runtime reference counting: these functions never allocate, and the
#: atomic increments and decrements numba otherwise emits around array arguments cost
#: more than the book operations themselves (about half the run time of the background
#: flow, measured with ``perf``). Allocating an array inside such a function is a
#: compile-time error, so the restriction cannot be broken silently.
HOT = {"cache": True, "_nrt": False}
