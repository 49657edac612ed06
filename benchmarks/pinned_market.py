"""The simulator as it was at a past commit, timed beside today's code in the same run.

    python benchmarks/pinned_market.py ROOT PRESET   # a worker; bench_market_models starts it
    python benchmarks/pinned_market.py - PRESET      # the same on today's installed code (--processes)
    python benchmarks/pinned_market.py ROOT --vector SPEC   # a worker; bench_lob_env --against starts it

A speed target stated against "today's simulator" (issue 15: the realistic flows' events/s
within 0.7x of the simulator the issue measured) needs that simulator in the run that times
the new one, since two machines, or one machine an hour apart, differ by more than the
effect. :func:`pinned_tree` extracts the package's folders at a commit (``git archive``)
into a directory laid out as an installed ``execgym`` (the ``pyproject.toml`` folder map),
and :class:`PinnedMarket` runs a worker process on it (``PYTHONPATH`` first, a numba cache
of its own) that times market days on request, so the caller can interleave its runs with
its own.

The worker speaks one line per request on stdin: ``run SECONDS`` times ``SECONDS`` of market
time from the open after the warm-up, in 60-s steps (as ``bench_market_models.run``; ``run
SECONDS gc-off`` with the garbage collector off meanwhile, :func:`gc_off_timing`), and
answers ``{"seconds": wall, "events": background events}`` as one JSON line; end of input
stops it. :class:`PinnedVectorEnv` does the same for the native vector env (``run SECONDS``:
steps for that many wall-seconds, answered as ``{"seconds", "steps"}``), for the LOB envs'
throughput target (``bench_lob_env.py --against``). Only the workers import the pinned code;
nothing here imports today's ``execgym``.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

#: the package's folders and where they install (pyproject.toml's ``package-dir``)
PACKAGE_DIRS = {"envs": "envs", "agents": "agents", "baselines": "baselines", "experiments": "experiments",
                "conf": "conf"}


def pinned_tree(repo: Path, commit: str, into: Path) -> Path:
    """Extract ``commit``'s tree of ``repo`` under ``into`` and lay it out as an importable
    ``execgym`` package; return the directory to put first on ``PYTHONPATH``. Raises
    ``ValueError`` naming the commit if git cannot read it (not a git checkout, a shallow
    clone without it, an unknown commit)."""
    archive = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", commit],
                             capture_output=True, check=False)
    if archive.returncode != 0:
        raise ValueError(f"cannot read commit {commit!r} from {repo} with git archive: "
                         f"{archive.stderr.decode(errors='replace').strip()} (a full git checkout is needed)")
    tree = into / "tree"
    tree.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile() as f:
        f.write(archive.stdout)
        f.seek(0)
        with tarfile.open(fileobj=f) as tar:
            if hasattr(tarfile, "data_filter"):  # Python 3.11.4 on: refuse links out of the tree
                tar.extractall(tree, filter="data")
            else:  # pragma: no cover - older 3.11: git archive of our own repository
                tar.extractall(tree)
    if not (tree / "execgym" / "__init__.py").is_file():
        raise ValueError(f"commit {commit!r} has no execgym package (execgym/__init__.py)")
    root = into / "root"
    shutil.copytree(tree / "execgym", root / "execgym")
    for folder, name in PACKAGE_DIRS.items():
        if (tree / folder).is_dir():
            (root / "execgym" / name).symlink_to(tree / folder, target_is_directory=True)
    return root


class _PinnedWorker:
    """A worker process running ``pinned_market.py ROOT *args`` under the pinned code at
    ``root`` (``PYTHONPATH`` first, a numba cache of its own; ``root`` ``None``: today's
    installed code, and ``cache_dir`` ``None``: numba's cache as configured), answering one
    JSON line per request. Use as a context manager."""

    def __init__(self, root: Path | None, args: list[str], cache_dir: Path | None) -> None:
        env = dict(os.environ)
        if root is not None:
            env["PYTHONPATH"] = str(root)
        if cache_dir is not None:
            env["NUMBA_CACHE_DIR"] = str(cache_dir)
        self._proc = subprocess.Popen([sys.executable, __file__, "-" if root is None else str(root), *args],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True, bufsize=1)

    def _ask(self, request: str, *keys: str) -> tuple:
        try:
            self._proc.stdin.write(request + "\n")
            line = self._proc.stdout.readline()
        except BrokenPipeError:
            line = ""
        if not line:
            raise RuntimeError(f"the pinned code's worker stopped (exit status {self._proc.wait()})")
        try:
            out = json.loads(line)
            return tuple(out[k] for k in keys)
        except (ValueError, KeyError):
            raise RuntimeError(f"the pinned code's worker answered {line.strip()!r}, not its timing") from None

    def close(self) -> None:
        """Stop the worker (at the end of its input; killed if it does not stop within 60 s)."""
        try:
            self._proc.stdin.close()
            self._proc.wait(timeout=60)
        except (BrokenPipeError, subprocess.TimeoutExpired):
            self._proc.kill()
            self._proc.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class PinnedMarket(_PinnedWorker):
    """A worker process timing market days of ``preset`` (a ``conf/market`` name, or the path of
    a market YAML file) under the pinned code at ``root`` (:func:`pinned_tree`; ``None``: today's
    installed ``execgym``, so that today's code too can be timed in fresh processes, and
    ``cache_dir`` ``None``: its numba cache). Use as a context manager."""

    def __init__(self, root: Path | None, preset: str, cache_dir: Path | None) -> None:
        super().__init__(root, [preset], cache_dir)

    def run(self, market_s: float, gc_off: bool = False) -> tuple[float, int]:
        """Wall-seconds and background events over ``market_s`` seconds after the warm-up
        (``gc_off``: with the garbage collector off while they are timed, as :func:`gc_off_timing`)."""
        return self._ask(f"run {market_s}" + (" gc-off" if gc_off else ""), "seconds", "events")


class PinnedVectorEnv(_PinnedWorker):
    """A worker process stepping the native ``LOBExecutionVectorEnv`` (``num_envs`` markets,
    ``parallel`` or not, keyword arguments ``kwargs`` as JSON) under the pinned code at
    ``root``, with a constant action ``action`` (a list) for every market. Use as a context
    manager."""

    def __init__(self, root: Path, num_envs: int, parallel: bool, kwargs: dict, action: list[float],
                 cache_dir: Path) -> None:
        spec = {"num_envs": num_envs, "parallel": parallel, "kwargs": kwargs, "action": action}
        super().__init__(root, ["--vector", json.dumps(spec)], cache_dir)

    def run(self, wall_s: float) -> tuple[float, int]:
        """Wall-seconds and decision steps (over all markets) of steps taken for ``wall_s``
        wall-seconds (the first request also resets the env and takes one step)."""
        return self._ask(f"run {wall_s}", "seconds", "steps")


@contextlib.contextmanager
def gc_off_timing(off: bool):
    """With ``off``: collect the garbage, then keep the collector off for the block (as
    ``timeit`` times), so a collection of whatever else the process holds (a benchmark's other
    presets, the last run's simulator) does not land inside the timed market days; the
    collector is then left as it was."""
    if not off:
        yield
        return
    was_on = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def timed_days(sim, market_s: float, gc_off: bool = False) -> float:
    """Wall-seconds that ``sim`` (a ``MarketSimulator``, today's or the pinned one) takes to
    advance ``market_s`` seconds of market time in 60-s steps (``gc_off``: :func:`gc_off_timing`);
    the one timing loop of ``bench_market_models.run`` and of the pinned worker."""
    with gc_off_timing(gc_off):
        start = time.perf_counter()
        for _ in range(int(market_s // 60)):
            sim.advance(60.0)
        return time.perf_counter() - start


def _serve(root: Path | None, preset: str) -> None:
    """The worker: answer ``run SECONDS`` requests on stdin with the pinned simulator (``root``
    ``None``: today's)."""
    import numpy as np
    from omegaconf import OmegaConf

    import execgym
    from execgym.envs.market.simulation.simulator import MarketSimulator, SimulatorConfig

    if root is not None and not Path(execgym.__file__).resolve().is_relative_to(root.resolve()):
        raise RuntimeError(f"the worker imported execgym from {execgym.__file__}, not from the pinned tree {root}")
    if preset.endswith(".yaml"):
        path = Path(preset)
    elif root is None:
        from execgym.experiments.lib.builders import conf_file
        path = conf_file("market", f"{preset}.yaml")
    else:
        path = root / "execgym" / "conf" / "market" / f"{preset}.yaml"
    values = OmegaConf.to_container(OmegaConf.load(path))
    values.pop("defaults", None)
    cfg = SimulatorConfig.from_mapping(values)
    answer = sys.stdout
    sys.stdout = sys.stderr  # anything the pinned code prints stays out of the answers
    for line in sys.stdin:
        parts = line.split()
        market_s = float(parts[1])
        sim = MarketSimulator(cfg, np.random.default_rng(0))
        events = int(sim._fs[0]["n_bg_events"])
        seconds = timed_days(sim, market_s, len(parts) > 2 and parts[2] == "gc-off")
        print(json.dumps({"seconds": seconds, "events": int(sim._fs[0]["n_bg_events"]) - events}), file=answer,
              flush=True)


def _serve_vector(root: Path, spec: dict) -> None:
    """The worker: answer ``run SECONDS`` requests on stdin with the pinned native vector env."""
    import numpy as np

    import execgym
    from execgym.envs.lob_vector import LOBExecutionVectorEnv

    if not Path(execgym.__file__).resolve().is_relative_to(root.resolve()):
        raise RuntimeError(f"the worker imported execgym from {execgym.__file__}, not from the pinned tree {root}")
    m = spec["num_envs"]
    venv = LOBExecutionVectorEnv(m, parallel=spec["parallel"], **spec["kwargs"])
    actions = np.tile(np.asarray(spec["action"], dtype=np.float32), (m, 1))
    venv.reset(seed=0)
    venv.step(actions)
    answer = sys.stdout
    sys.stdout = sys.stderr
    for line in sys.stdin:
        wall_s = float(line.split()[1])
        n = 0
        start = time.perf_counter()
        while (elapsed := time.perf_counter() - start) < wall_s:
            venv.step(actions)
            n += 1
        print(json.dumps({"seconds": elapsed, "steps": n * m}), file=answer, flush=True)


if __name__ == "__main__":
    if sys.argv[2] == "--vector":
        _serve_vector(Path(sys.argv[1]), json.loads(sys.argv[3]))
    else:
        _serve(None if sys.argv[1] == "-" else Path(sys.argv[1]), sys.argv[2])
