"""Decision steps per second of execgym/LOBExecution-v0 on its default market.

    python benchmarks/bench_lob_env.py [--seconds 2]

Config: the default environment with a one-second decision interval (600 decisions over
10 minutes from the open) and a constant 1%-of-remaining market order per decision.
Reports: the single environment (unwrapped and through ``gymnasium.make``), the native
``LOBExecutionVectorEnv`` and gymnasium's ``SyncVectorEnv`` over single environments at
M = 1, 64, 1024 with their ratio (measured in the same run), the background events the
market generates per decision, and the share of the single env's wall time spent
generating and matching background flow (``MarketSimulator._run_until``, diffusion
included) vs the environment's own code.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import machine  # noqa: E402
import envs  # noqa: E402,F401
from envs.lob_execution import LOBExecutionEnv  # noqa: E402
from envs.lob_vector import LOBExecutionVectorEnv  # noqa: E402
from envs.market import simulator as simulator_module  # noqa: E402

KW = dict(decision_interval_s=1.0, horizon_s=600.0)
ACTION = np.array([0.01], dtype=np.float32)


def single_rate(env: gym.Env, seconds: float) -> tuple[float, float, float]:
    """(steps/s, background events per decision, share of time in background flow)."""
    flow_time = [0.0]
    original = simulator_module.MarketSimulator._run_until

    def timed(self, t_end):
        start = time.perf_counter()
        original(self, t_end)
        flow_time[0] += time.perf_counter() - start

    env.reset(seed=0)
    for _ in range(50):  # warm up (numba compilation is cached on disk after the first run)
        env.step(ACTION)
    env.reset(seed=1)
    n, events = 0, 0
    simulator_module.MarketSimulator._run_until = timed
    try:
        start = time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            sim = env.unwrapped._sim
            before = sim._fs[5 + 2]  # S_N_BG_EVENTS
            _, _, term, trunc, _ = env.step(ACTION)
            events += int(sim._fs[7] - before) if sim is env.unwrapped._sim else 0
            n += 1
            if term or trunc:
                env.reset()
    finally:
        simulator_module.MarketSimulator._run_until = original
    return n / elapsed, events / n, flow_time[0] / elapsed


def vector_rate(venv: gym.vector.VectorEnv, seconds: float) -> float:
    m = venv.num_envs
    venv.reset(seed=0)
    actions = np.tile(ACTION, (m, 1))
    venv.step(actions)
    n, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        venv.step(actions)
        n += 1
    return n * m / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 64, 1024])
    args = parser.parse_args()
    print(f"machine: {machine()}")
    raw, events, flow_share = single_rate(LOBExecutionEnv(**KW), args.seconds)
    made, _, _ = single_rate(gym.make("execgym/LOBExecution-v0", **KW), args.seconds)
    print(f"single env, 1 s decisions: {raw:,.0f} steps/s unwrapped, {made:,.0f} through gymnasium.make")
    print(f"  background events per decision: {events:.1f}; time in background flow {flow_share:.0%}, "
          f"in the environment's own code {1 - flow_share:.0%}")
    print(f"{'M':>6} {'native steps/s':>16} {'SyncVectorEnv steps/s':>22} {'ratio':>7}")
    for m in args.sizes:
        native = vector_rate(LOBExecutionVectorEnv(m, **KW), args.seconds)
        sync = vector_rate(gym.vector.SyncVectorEnv([lambda: LOBExecutionEnv(**KW) for _ in range(m)]), args.seconds)
        print(f"{m:>6} {native:>16,.0f} {sync:>22,.0f} {native / sync:>6.1f}x", flush=True)


if __name__ == "__main__":
    main()
