"""Training throughput on the native LOB vector env: how much market time training simulates.

    python benchmarks/bench_training.py [--sizes 64 256] [--intervals 1 30] [--seconds 10] [--parallel]

Config: ``execgym/LOBExecution-v0``'s default market and order with participation-rate
actions (discrete, so both learners take them), in ``LOBExecutionVectorEnv`` with
same-step autoreset, as ``python -m execgym.experiments.train`` builds it, at each decision
interval of ``--intervals``: one-second decisions (600 per episode: the learner's hardest
case, each step simulates little) and the benchmark's 30-second decisions (60 per
episode, ``conf/benchmark_tasks/default.yaml``). Torch runs on one thread, as the train and
benchmark jobs set it.

Reports, per decision interval and M, measured in the same run:

* the env's own rate: steps per second (all M markets) under random actions, the
  reference;
* the actor-critic (``execgym.agents.ActorCritic``, ``n_steps`` 16) and SB3's PPO
  (``n_steps`` 16, 4 epochs of minibatches of a quarter of the rollout) training: steps
  per second, simulated market-seconds per wall-second (steps/s x the decision
  interval), and the training overhead, the share of training time not spent stepping
  the env (``1 - training rate / env rate``).

Every rate is the best of ``--repeats`` windows of about ``--seconds`` each, after a warm-up.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import machine  # noqa: E402
from execgym.agents.actor_critic import ActorCritic, ActorCriticConfig  # noqa: E402
from execgym.agents.sb3 import GymnasiumVecEnv, make_sb3_model  # noqa: E402
from execgym.envs.lob_vector import LOBExecutionVectorEnv  # noqa: E402

N_STEPS = 16


def env_kwargs(interval_s: float) -> dict:
    """The env's config at decision interval ``interval_s``: 600 decisions per episode up to
    1-s decisions, else 60 (the benchmark's 30-min orders at 30 s)."""
    horizon_s = 600.0 * interval_s if interval_s <= 1.0 else 60.0 * interval_s
    return dict(decision_interval_s=interval_s, horizon_s=horizon_s, action="participation",
                autoreset_mode="SameStep")


def env_rate(m: int, kw: dict, parallel: bool, seconds: float, repeats: int) -> float:
    """Steps/s of the env alone under random participation choices."""
    env = LOBExecutionVectorEnv(m, parallel=parallel, **kw)
    env.reset(seed=0)
    actions = np.random.default_rng(0).integers(0, 5, size=(256, m))
    for k in range(20):
        env.step(actions[k])
    best = 0.0
    for _ in range(repeats):
        n, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds:
            env.step(actions[n % len(actions)])
            n += 1
        best = max(best, n * m / elapsed)
    return best


def _timed(learn, budget: int) -> float:
    start = time.perf_counter()
    learn(budget)
    return budget / (time.perf_counter() - start)


def actor_critic_rate(m: int, kw: dict, parallel: bool, budget: int, repeats: int) -> float:
    agent = ActorCritic(LOBExecutionVectorEnv(m, parallel=parallel, **kw), ActorCriticConfig(n_steps=N_STEPS), seed=0)
    agent.learn(m * N_STEPS * 2, progress=False)  # warm-up
    return max(_timed(lambda b: agent.learn(b, progress=False), budget) for _ in range(repeats))


def ppo_rate(m: int, kw: dict, parallel: bool, budget: int, repeats: int) -> float:
    from stable_baselines3.common.vec_env import VecMonitor

    venv = VecMonitor(GymnasiumVecEnv(LOBExecutionVectorEnv(m, parallel=parallel, **kw)))
    model = make_sb3_model("ppo", venv, 0, {"n_steps": N_STEPS, "batch_size": m * N_STEPS // 4, "n_epochs": 4})
    model.learn(m * N_STEPS * 2)  # warm-up
    return max(_timed(lambda b: model.learn(b, reset_num_timesteps=False), budget) for _ in range(repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--intervals", type=float, nargs="+", default=[1.0, 30.0],
                        help="decision intervals (s) to measure at")
    parser.add_argument("--seconds", type=float, default=5.0, help="about how long one timed window lasts")
    parser.add_argument("--repeats", type=int, default=2, help="windows per row; the best is reported")
    parser.add_argument("--parallel", action="store_true", help="step the markets on numba's threads")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"machine: {machine()}; torch threads: {torch.get_num_threads()}; env parallel={args.parallel}")
    print(f"{'dt (s)':>6} {'M':>5} {'env steps/s':>12} {'learner':>13} {'train steps/s':>14} "
          f"{'market-s per s':>15} {'overhead':>9}")
    for dt in args.intervals:
        kw = env_kwargs(dt)
        for m in args.sizes:
            env = env_rate(m, kw, args.parallel, args.seconds, args.repeats)
            print(f"{dt:>6g} {m:>5} {env:>12,.0f} {'(env alone)':>13} {'':>14} {env * dt:>15,.0f} {'':>9}",
                  flush=True)
            for name, rate in (("actor-critic", actor_critic_rate), ("PPO", ppo_rate)):
                per_update = m * N_STEPS
                budget = per_update * max(2, int(env * args.seconds * 0.3 // per_update))  # whole updates
                train = rate(m, kw, args.parallel, budget, args.repeats)
                print(f"{dt:>6g} {m:>5} {'':>12} {name:>13} {train:>14,.0f} {train * dt:>15,.0f} "
                      f"{1 - train / env:>8.0%}", flush=True)


if __name__ == "__main__":
    main()
