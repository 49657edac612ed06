"""Numba's on-disk cache of the compiled kernels: a function defined under ``envs`` is fresh
only while every source file of ``envs`` that compiles code is unchanged (numba alone checks
the function's own file, so an environment step compiled against an older flow kernel would
run it), and the options the flow's entry points compile with."""

from __future__ import annotations

import re

import numpy as np
from numba import njit

from execgym.envs.market.simulation import _jit
from execgym.envs.market.simulation import rng as R


def _cache_of(dispatcher):
    """A new numba cache object for ``dispatcher``'s function (as a new process makes it)."""
    return type(dispatcher._cache)(dispatcher.py_func)


def test_kernels_use_the_locator_that_covers_all_kernel_sources():
    locator = R.normal._cache._impl.locator
    assert isinstance(locator, _jit._KernelSourcesStamp)
    stamp = locator.get_source_stamp()
    assert stamp[1] == _jit.kernel_sources_stamp() and len(stamp[1]) == 64


def test_a_change_to_any_kernel_source_changes_every_kernels_stamp(monkeypatch):
    before = _cache_of(R.normal)
    monkeypatch.setattr(_jit, "kernel_sources_stamp", lambda: "another kernel source")
    after = _cache_of(R.normal)
    # the index numba keeps beside the cached code is checked against this stamp: a different
    # stamp makes the cached code stale (recompiled), whatever file changed
    assert before._cache_file._source_stamp[0] == after._cache_file._source_stamp[0]
    assert before._cache_file._source_stamp != after._cache_file._source_stamp


def test_the_digest_follows_the_files_that_compile_code(tmp_path):
    (tmp_path / "kernel.py").write_text("from numba import njit\n")
    (tmp_path / "plain.py").write_text("x = 1\n")
    first = _jit.sources_digest(tmp_path)
    (tmp_path / "plain.py").write_text("x = 2\n")
    assert _jit.sources_digest(tmp_path) == first  # no compiled code there
    (tmp_path / "kernel.py").write_text("from numba import njit  # changed\n")
    assert _jit.sources_digest(tmp_path) != first


def test_functions_elsewhere_keep_numbas_own_locators():
    @njit(cache=True)
    def twice(x):
        return 2 * x

    assert not isinstance(twice._cache._impl.locator, _jit._KernelSourcesStamp)


def _define_line(dispatcher, name: str) -> str:
    """The LLVM ``define`` line of ``dispatcher``'s compiled function (numba's internal one)."""
    (ir,) = dispatcher.inspect_llvm().values()
    return _define_line_of(ir, name)


def _define_line_of(ir: str, name: str) -> str:
    """The LLVM ``define`` line of the function ``name`` in the module ``ir`` (numba's internal one)."""
    lines = [line for line in ir.splitlines() if line.startswith("define") and name in line and "cpython" not in line
             and "cfunc" not in line]
    return lines[0]


def test_disjoint_args_compiler_marks_every_array_pointer_noalias():
    def scaled_copy(src, dst, k):
        for i in range(src.shape[0]):
            dst[i] = k * src[i]

    plain = njit(**{**_jit.HOT, "cache": False})(scaled_copy)
    disjoint = njit(**{**_jit.HOT_DISJOINT, "cache": False})(scaled_copy)
    src = np.arange(5.0)
    for f in (plain, disjoint):
        dst = np.zeros(5)
        f(src, dst, 2.0)
        np.testing.assert_array_equal(dst, 2.0 * src)  # same results
    # numba passes an array as fields; its data pointer is the argument named arg.<name>.4
    for name in ("src", "dst"):
        data = re.compile(rf"ptr ([^,%]*)%arg\.{name}\.4\b")
        assert "noalias" in data.search(_define_line(disjoint, "scaled_copy")).group(1)
        assert "noalias" not in data.search(_define_line(plain, "scaled_copy")).group(1)


def test_the_flow_entry_points_are_compiled_with_disjoint_arguments():
    from execgym.envs.market.simulation import flow as F

    for kernel in (F.run_flow, F.run_flow_flat, F.open_interval):
        assert kernel._compiler.pipeline_class is _jit.DisjointArgsCompiler, kernel


def _attributes(ir: str, define: str) -> str:
    """The function attributes of the LLVM ``define`` line (its ``#N`` group resolved)."""
    group = re.search(r"#(\d+)\s*\{?\s*$", define.split(")")[-1] + " ")
    if group is None:
        return define
    (body,) = re.findall(rf"^attributes #{group.group(1)} = \{{(.*)\}}", ir, re.M)
    return define + body


def test_forced_helpers_are_inlined_by_llvm_and_called_helpers_are_not():
    def helper(a, i):
        # too long for LLVM's own inlining threshold: a call unless the caller is made to inline it
        s = 0.0
        for j in range(a.shape[0]):
            s += a[(i + j) % a.shape[0]] * a[(i * j) % a.shape[0]]
            s -= a[(i + 3 * j) % a.shape[0]] / (1.0 + a[(j * j) % a.shape[0]] ** 2)
            s += np.sqrt(abs(a[(7 * i + j) % a.shape[0]])) + np.exp(-a[(i + 5 * j) % a.shape[0]] ** 2)
        return s

    a = np.linspace(0.0, 1.0, 7)
    results = {}
    for label, options in (("forced", _jit.HOT_FORCE), ("called", _jit.HOT)):
        h = njit(**{**options, "cache": False})(helper)

        def caller(a):
            return h(a, 1) + h(a, 2) + h(a, 3) + h(a, 4)

        g = njit(**{**_jit.HOT, "cache": False})(caller)
        results[label] = g(a)
        (ir,) = g.inspect_llvm().values()
        calls = re.findall(r"call [^@]*@\"?_ZN[^ (\"]*6helper", ir)  # numba's mangled name of `helper`
        forced = ["alwaysinline" in _attributes(hir, _define_line_of(hir, "helper"))
                  for hir in h.inspect_llvm().values()]
        assert forced and all(forced) == (label == "forced") and any(forced) == (label == "forced")
        assert (calls == []) == (label == "forced"), calls
    assert results["forced"] == results["called"]  # the same arithmetic, bit for bit
