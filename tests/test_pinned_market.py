"""The benchmark's pinned simulator: a past commit laid out as an importable package."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.pinned_market import gc_off_timing, pinned_tree

ROOT = Path(__file__).resolve().parents[1]


def _git_head() -> str:
    out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    if out.returncode != 0:
        pytest.skip("not a git checkout")
    return out.stdout.strip()


def test_pinned_tree_imports_the_commits_package(tmp_path):
    root = pinned_tree(ROOT, _git_head(), tmp_path)
    assert (root / "execgym" / "envs" / "market" / "simulation" / "flow.py").is_file()
    assert (root / "execgym" / "conf" / "market" / "goog_2012_06_21.yaml").is_file()
    code = "import execgym.envs.market.simulation.rng as r; print(r.__file__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                         env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}, check=True)
    assert Path(out.stdout.strip()).resolve().is_relative_to(tmp_path.resolve())  # not today's installed package


def test_unknown_commit_is_refused_by_name(tmp_path):
    _git_head()
    with pytest.raises(ValueError, match="deadbeef"):
        pinned_tree(ROOT, "deadbeef" * 5, tmp_path)


@pytest.mark.parametrize("off", [True, False])
def test_gc_off_timing_turns_the_collector_off_only_inside_and_always_back_on(off):
    """``--gc-off``'s block: the collector is off inside it (on without ``off``) and on again
    after it, also when the timed code raises."""
    assert gc.isenabled()
    with gc_off_timing(off):
        assert gc.isenabled() is not off
    assert gc.isenabled()
    with pytest.raises(ZeroDivisionError):
        with gc_off_timing(off):
            1 / 0
    assert gc.isenabled()


def test_gc_off_timing_leaves_a_collector_that_was_off_off():
    gc.disable()
    try:
        with gc_off_timing(True):
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.parametrize("argv, message", [(["--processes", "0"], "--processes must be at least 1, got 0"),
                                           (["--processes", "2", "--ablate"], "cannot run with --processes"),
                                           (["--presets", "nope"], "invalid choice: 'nope'")])
def test_bench_market_models_refuses_bad_process_arguments_before_timing_anything(argv, message, monkeypatch, capsys):
    from benchmarks import bench_market_models

    monkeypatch.setattr(sys, "argv", ["bench_market_models.py", *argv])
    with pytest.raises(SystemExit) as err:
        bench_market_models.main()
    assert err.value.code == 2
    out = capsys.readouterr()
    assert message in out.err and "machine:" not in out.out
