"""Decision steps per second of execgym/LOBExecution-v0 on its default market.

    python benchmarks/bench_lob_env.py [--seconds 1] [--repeats 3] [--sizes 1 64 1024] [--against COMMIT]

Config: the default environment with a one-second decision interval (600 decisions over
10 minutes from the open) and a constant 1%-of-remaining market order per decision.
Reports, measured in the same run:

* the single environment (unwrapped and through ``gymnasium.make``; the compiled episode
  core at M = 1) beside the pinned Python implementation it replaced
  (``tests/envs/reference_lob_env.py``, equal to it bit for bit), with their ratio, the
  background events the market generates per decision and the share of the single env's
  wall time inside its compiled step (the rest is the Gymnasium wrapper); for the pinned
  env, the share spent generating and matching background flow
  (``MarketSimulator.advance``: the flow's kernel calls and its report) vs its own Python code;
* the native ``LOBExecutionVectorEnv`` and gymnasium's ``SyncVectorEnv`` over single
  environments at M = 1, 64, 1024 with their ratio, and the share of the native env's time
  inside its compiled step (flow, book, rewards, observations and resets of all M markets);
  the native env's steps per second per market relative to M = 64 (the per-market
  footprint's cost); and the native env with ``parallel=True`` (markets on numba's
  threads, bit for bit the serial results) with its speed-up over the serial one.
Every rate is the best of ``--repeats`` windows of ``--seconds``: other processes on the
machine only ever slow a window down.

``--against COMMIT`` (default :data:`THROUGHPUT_COMMIT`, ``none`` for none) also times the
native vector env at M = 64 and the largest ``--sizes``, serial and parallel, as the code was
at ``COMMIT`` (extracted with ``git archive`` and stepped in a worker process,
``benchmarks/pinned_market.py``), its windows interleaved with today's: the throughput
targets (250k decisions/s on 2 threads at M = 1024) are absolute, and this machine's speed
drifts by 20-30% within minutes, so whether a change kept them is read from the ratio to
the code that met them, measured in the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import machine  # noqa: E402
from benchmarks.pinned_market import PinnedVectorEnv, pinned_tree  # noqa: E402
from execgym import envs  # noqa: E402,F401
from execgym.envs import lob_vector as lob_vector_module  # noqa: E402
from execgym.envs.lob_execution import LOBExecutionEnv  # noqa: E402
from execgym.envs.lob_vector import LOBExecutionVectorEnv  # noqa: E402
from execgym.envs.market.simulation import simulator as simulator_module  # noqa: E402
from tests.envs.reference_lob_env import ReferenceLOBEnv  # noqa: E402

KW = dict(decision_interval_s=1.0, horizon_s=600.0)
ACTION = np.array([0.01], dtype=np.float32)
#: the code of the twelfth session (2026-12-01), whose run of this benchmark gave 303,657 and
#: 327,249 decisions/s on 2 threads at M = 64 and 1024 (AMD EPYC, 2 cores; target 250k)
THROUGHPUT_COMMIT = "d24039b"


class _Timed:
    """Replace ``owner.name`` by a wrapper that adds its wall time to ``self.seconds``."""

    def __init__(self, owner, name: str) -> None:
        self.owner, self.name, self.seconds = owner, name, 0.0
        self.original = getattr(owner, name)

    def __enter__(self) -> _Timed:
        original = self.original

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start

        setattr(self.owner, self.name, timed)
        return self

    def __exit__(self, *exc) -> None:
        setattr(self.owner, self.name, self.original)


def single_rate(env: gym.Env, seconds: float, repeats: int) -> tuple[float, float, float]:
    """(best steps/s, background events per decision, share of time in the timed part).

    The timed part is the compiled step for the single env (``_vec_step``) and the
    background flow (``MarketSimulator.advance``) for the pinned Python env. The rate
    comes from uninstrumented windows; one more window, with the part timed, gives the
    share (timing adds a wrapper call per step).
    """
    raw = env.unwrapped
    pinned = isinstance(raw, ReferenceLOBEnv)

    def bg_events() -> float:
        return float(raw._sim._fs[0]["n_bg_events"] if pinned else raw._markets._fs[0]["n_bg_events"])

    env.reset(seed=0)
    for _ in range(50):  # warm up (numba compilation is cached on disk after the first run)
        env.step(ACTION)
    best, events, steps = 0.0, 0, 0
    for r in range(repeats + 1):
        env.reset(seed=1 + r)
        n = 0
        timing = None
        if r == repeats:
            timing = _Timed(simulator_module.MarketSimulator, "advance") if pinned else \
                _Timed(lob_vector_module, "_vec_step_flat")
        with timing or contextlib.nullcontext():
            start = time.perf_counter()
            while (elapsed := time.perf_counter() - start) < seconds:
                before = bg_events()
                _, _, term, trunc, _ = env.step(ACTION)
                events += int(bg_events() - before)
                n += 1
                if term or trunc:
                    env.reset()
        steps += n
        if timing is None:
            best = max(best, n / elapsed)
    return best, events / steps, timing.seconds / elapsed


def vector_rate(venv: gym.vector.VectorEnv, seconds: float, repeats: int) -> tuple[float, float]:
    """(best steps/s over all M markets, share of time in the compiled step), as
    :func:`single_rate` does: uninstrumented windows for the rate, one more for the share."""
    m = venv.num_envs
    venv.reset(seed=0)
    actions = np.tile(ACTION, (m, 1))
    venv.step(actions)
    native = isinstance(venv, LOBExecutionVectorEnv)
    best, kernel_share = 0.0, float("nan")
    for r in range(repeats + native):
        n = 0
        timing = _Timed(lob_vector_module, "_vec_step_flat_parallel" if getattr(venv, "parallel", False)
                        else "_vec_step_flat") if r == repeats else None
        with timing or contextlib.nullcontext():
            start = time.perf_counter()
            while (elapsed := time.perf_counter() - start) < seconds:
                venv.step(actions)
                n += 1
        if timing is None:
            best = max(best, n * m / elapsed)
        else:
            kernel_share = timing.seconds / elapsed
    return best, kernel_share


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=1.0, help="length of one timing window")
    parser.add_argument("--repeats", type=int, default=3, help="windows per row; the best is reported")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 64, 1024])
    parser.add_argument("--against", default=THROUGHPUT_COMMIT, metavar="COMMIT",
                        help="also time the native vector env at this commit in the same run ('none': no)")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    raw, events, kernel_share = single_rate(LOBExecutionEnv(**KW), args.seconds, args.repeats)
    made, _, _ = single_rate(gym.make("execgym/LOBExecution-v0", **KW), args.seconds, args.repeats)
    pinned, pinned_events, flow_share = single_rate(ReferenceLOBEnv(**KW), args.seconds, args.repeats)
    print(f"single env, 1 s decisions: {raw:,.0f} steps/s unwrapped, {made:,.0f} through gymnasium.make; "
          f"{kernel_share:.0%} of its time in the compiled step")
    print(f"  pinned Python env (before the core): {pinned:,.0f} steps/s, {flow_share:.0%} of its time in the "
          f"background flow; the single env is {raw / pinned:.1f}x as fast")
    print(f"  background events per decision: {events:.1f} (pinned env: {pinned_events:.1f}; default market, "
          "from the open)")
    print(f"{'M':>6} {'native steps/s':>16} {'vs M=64':>8} {'in compiled step':>17} {'prefetch':>9} "
          f"{'SyncVectorEnv steps/s':>22} {'ratio':>7} {'parallel steps/s':>17} {'speed-up':>9}")
    rows = {}
    for m in args.sizes:
        venv = LOBExecutionVectorEnv(m, **KW)
        native, kernel_share = vector_rate(venv, args.seconds, args.repeats)
        parallel, _ = vector_rate(LOBExecutionVectorEnv(m, parallel=True, **KW), args.seconds, args.repeats)
        sync, _ = vector_rate(gym.vector.SyncVectorEnv([lambda: LOBExecutionEnv(**KW) for _ in range(m)]),
                              args.seconds, args.repeats)
        rows[m] = native
        per_64 = f"{native / rows[64]:.2f}" if 64 in rows else "-"
        print(f"{m:>6} {native:>16,.0f} {per_64:>8} {kernel_share:>17.0%} {str(venv.prefetch):>9} {sync:>22,.0f} "
              f"{native / sync:>6.1f}x {parallel:>17,.0f} {parallel / native:>8.2f}x", flush=True)
    print(f"  parallel: numba {numba.config.THREADING_LAYER} threading layer, {numba.get_num_threads()} threads")
    if args.against != "none":
        against(args.against, sorted({64, max(args.sizes)}), args.seconds, args.repeats)


def against(commit: str, sizes: list[int], seconds: float, repeats: int) -> None:
    """Print the native vector env's best rates, today's and ``commit``'s, in interleaved
    windows of ``seconds``, ``repeats`` each, at each of ``sizes``, serial and parallel."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            root = pinned_tree(Path(__file__).resolve().parents[1], commit, Path(tmp))
        except ValueError as err:
            print(f"against: skipped ({err})")
            return
        print(f"against the code at {commit} (same run, interleaved windows; the first window of each compiles "
              "nothing: both warm up first)")
        print(f"{'M':>6} {'parallel':>9} {'today steps/s':>14} {f'{commit[:10]} steps/s':>20} {'ratio':>7}")
        for m in sizes:
            for parallel in (False, True):
                venv = LOBExecutionVectorEnv(m, parallel=parallel, **KW)
                actions = np.tile(ACTION, (m, 1))
                venv.reset(seed=0)
                venv.step(actions)
                with PinnedVectorEnv(root, m, parallel, KW, ACTION.tolist(), Path(tmp) / "numba_cache") as old:
                    old.run(0.1)
                    mine, theirs = 0.0, 0.0
                    for _ in range(repeats):
                        secs, steps = old.run(seconds)
                        theirs = max(theirs, steps / secs)
                        n, start = 0, time.perf_counter()
                        while (elapsed := time.perf_counter() - start) < seconds:
                            venv.step(actions)
                            n += 1
                        mine = max(mine, n * m / elapsed)
                print(f"{m:>6} {str(parallel):>9} {mine:>14,.0f} {theirs:>20,.0f} {mine / theirs:>6.2f}x", flush=True)


if __name__ == "__main__":
    main()
