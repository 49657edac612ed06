"""Numba's on-disk cache of the compiled kernels: a function defined under ``envs`` is fresh
only while every source file of ``envs`` is unchanged (numba alone checks the function's
own file, so an environment step compiled against an older flow kernel would run it)."""

from __future__ import annotations

import numpy as np
from numba import njit

from execgym.envs.market.simulation import _jit
from execgym.envs.market.simulation import rng as R


def test_kernels_use_the_locator_that_covers_all_kernel_sources():
    locator = R.uniform._cache._impl.locator
    assert isinstance(locator, _jit._KernelSourcesStamp)
    stamp = locator.get_source_stamp()
    assert stamp[1] == _jit.kernel_sources_stamp() and len(stamp[1]) == 64


def test_a_change_to_any_kernel_source_makes_every_kernels_cache_stale(monkeypatch):
    R.uniform(R.new_state(np.random.default_rng(0)))  # compiled for this signature
    dispatcher = R.uniform
    sig = dispatcher.signatures[0]
    fresh = type(dispatcher._cache)(dispatcher.py_func)
    fresh.save_overload(sig, dispatcher.overloads[sig])
    assert type(dispatcher._cache)(dispatcher.py_func).load_overload(sig, dispatcher.targetctx) is not None
    monkeypatch.setattr(_jit, "kernel_sources_stamp", lambda: "another kernel source")
    assert type(dispatcher._cache)(dispatcher.py_func).load_overload(sig, dispatcher.targetctx) is None


def test_functions_elsewhere_keep_numbas_own_locators():
    @njit(cache=True)
    def twice(x):
        return 2 * x

    assert not isinstance(twice._cache._impl.locator, _jit._KernelSourcesStamp)
