"""Throughput of the native vectorised Almgren-Chriss env vs gymnasium's SyncVectorEnv.

    python benchmarks/bench_ac_vector_env.py [--sizes 1 64 1024 16384] [--seconds 1.0]

For each batch size M, both run the same default config (50 steps per episode, NextStep
autoreset, a constant 5% action) and report environment steps per second (M x vector
steps / wall time, best of 3 timed windows). The reference, SyncVectorEnv over M single
``AlmgrenChrissEnv`` instances (no wrappers), is measured in the same run.
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
from execgym.envs.almgren_chriss import AlmgrenChrissEnv  # noqa: E402
from execgym.envs.almgren_chriss_vector import AlmgrenChrissVectorEnv  # noqa: E402


def steps_per_second(venv: gym.vector.VectorEnv, seconds: float, repeats: int = 3) -> float:
    """Best-of-``repeats`` environment steps per second over windows of ``seconds``."""
    actions = np.full((venv.num_envs, 1), 0.05, dtype=np.float32)
    venv.reset(seed=0)
    for _ in range(3):  # warm-up
        venv.step(actions)
    best = 0.0
    for _ in range(repeats):
        n, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            venv.step(actions)
            n += 1
        best = max(best, n * venv.num_envs / elapsed)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 64, 1024, 16384])
    parser.add_argument("--seconds", type=float, default=1.0, help="length of each timed window")
    args = parser.parse_args()

    print(f"machine: {machine()}")
    print(f"{'M':>7} {'vector steps/s':>16} {'SyncVectorEnv steps/s':>22} {'ratio':>8}")
    for m in args.sizes:
        native = steps_per_second(AlmgrenChrissVectorEnv(m), args.seconds)
        sync_env = gym.vector.SyncVectorEnv([AlmgrenChrissEnv for _ in range(m)])
        sync = steps_per_second(sync_env, args.seconds)
        print(f"{m:>7} {native:>16,.0f} {sync:>22,.0f} {native / sync:>7.1f}x", flush=True)


if __name__ == "__main__":
    main()
