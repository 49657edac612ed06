"""Do the agents find the optimum? PPO and the actor-critic against Almgren-Chriss, then in the LOB.

    python -m execgym.experiments.agents_vs_optimum [--ppo-timesteps 300000] [--ac-timesteps 1000000]
                                            [--lob-timesteps 60000] [--episodes 1000]

Part 1, ``execgym/AlmgrenChriss-v0`` with the mean-variance reward (N = 10): PPO on the
continuous action, the actor-critic on discrete participation rates from 1% to 12% in
steps of 0.5% (the optimal schedule trades 1-11% of each interval's expected volume; the
default 5-25% grid cannot express it). Each agent's gap to the closed-form optimum
``E + lambda V`` is estimated by pairing its realised mean-variance cost, episode by
episode, with the exact Almgren-Chriss policy's on the same seeds (same price shocks;
that policy's expected cost is the optimum), which removes most of the noise. The script
prints the gap (%) with its standard error and the wall time of training on this machine.

Part 2, ``execgym/LOBExecution-v0`` (PPO) and ``-Discrete-v0`` (actor-critic): each agent
against TWAP, VWAP, POV and calibrated Almgren-Chriss on the same seeded episodes, mean
shortfall in bps with 95% confidence intervals.
"""

from __future__ import annotations

import argparse
import logging
import time

import pandas as pd
from omegaconf import OmegaConf

from execgym.baselines import make_baseline
from execgym.baselines.almgren_chriss import ACParams, ac_expected_cost, ac_variance
from execgym.experiments.lib.agents import build_agent
from execgym.experiments.lib.builders import build_baselines, build_env_factory, conf_file
from execgym.experiments.lib.evaluation import compare_policies
from execgym.experiments.lib.runner import env_task, run_comparison

logger = logging.getLogger(__name__)

AC_ENV = {"id": "execgym/AlmgrenChriss-v0", "params": {"reward": "mean_variance", "n_steps": 10}}
AGENTS = {
    "ppo": ({"kind": "ppo", "n_steps": 64, "batch_size": 256, "n_epochs": 5, "gamma": 1.0, "learning_rate": 3e-4},
            "fraction"),
    # gae_lambda = 1: Monte-Carlo advantages, unbiased over these 10-decision episodes
    "actor_critic": ({"kind": "actor_critic", "n_steps": 10, "learning_rate": 7e-4, "ent_coef": 0.01,
                      "gae_lambda": 1.0}, "participation"),
}
FINE_RATES = [round(0.01 + 0.005 * i, 3) for i in range(23)]  # 1% .. 12%


def train(agent_cfg: dict, env_spec: dict, timesteps: int, seed: int, n_envs: int):
    make_env, env_config = build_env_factory(env_spec)
    agent = build_agent(dict(agent_cfg), env_spec["id"], env_config, seed, n_envs)
    start = time.perf_counter()
    agent.learn(timesteps, lambda n: True)
    return agent.policy, time.perf_counter() - start, make_env, env_config


def part_ac(timesteps: dict[str, int], episodes: int, seed: int) -> pd.DataFrame:
    rows = []
    reference_env, ref_cfg = build_env_factory(AC_ENV)
    ref_task = env_task(reference_env)
    exact_ac = make_baseline("almgren_chriss", ref_task)
    params = ACParams(ref_task.total_shares, ref_task.horizon, ref_task.n_steps, ref_cfg.sigma, ref_cfg.eta,
                      ref_cfg.gamma, ref_cfg.epsilon, ref_cfg.risk_aversion)
    optimum_bps = (ac_expected_cost(params) + ref_cfg.risk_aversion * ac_variance(params)) / ref_task.notional * 1e4
    reference = compare_policies({"ac": exact_ac}, reference_env, episodes, seed + 1)["mv_cost_bps"].to_numpy()
    for name, (agent_cfg, action) in AGENTS.items():
        extra = {"action": action}
        if action == "participation":
            extra["participation_rates"] = FINE_RATES
        spec = {"id": AC_ENV["id"], "params": {**AC_ENV["params"], **extra}}
        policy, wall, make_env, _ = train(agent_cfg, spec, timesteps[name], seed, 64)
        mine = compare_policies({name: policy}, make_env, episodes, seed + 1)["mv_cost_bps"].to_numpy()
        diff = mine - reference  # paired: the same seeds give the same price shocks in both envs
        rows.append({"agent": name, "action": action, "train_steps": timesteps[name], "train_wall_s": round(wall, 1),
                     "agent_objective_bps": mine.mean(), "ac_optimum_bps": optimum_bps,
                     "gap_%": 100 * diff.mean() / optimum_bps,
                     "gap_stderr_%": 100 * diff.std(ddof=1) / len(diff) ** 0.5 / optimum_bps})
    return pd.DataFrame(rows)


def part_lob(timesteps: int, episodes: int, seed: int) -> dict[str, pd.DataFrame]:
    tables = {}
    baselines_cfg = OmegaConf.load(conf_file("baselines", "lob.yaml"))
    for name, (agent_cfg, action) in AGENTS.items():
        spec = {"id": "execgym/LOBExecution-v0", "params": {"action": action}}
        policy, wall, make_env, cfg = train(agent_cfg, spec, timesteps, seed, 8)
        task = env_task(make_env)
        policies = {name: policy, **build_baselines(baselines_cfg, task, cfg)}
        result = run_comparison(policies, make_env, episodes, seed + 1, notional=task.notional, reference="twap")
        tables[f"{name} ({action} actions, trained {timesteps:,} steps in {wall:.0f} s)"] = result.table
    return tables


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ppo-timesteps", type=int, default=300_000)
    parser.add_argument("--ac-timesteps", type=int, default=1_000_000)
    parser.add_argument("--lob-timesteps", type=int, default=60_000)
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--lob-episodes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    ac = part_ac({"ppo": args.ppo_timesteps, "actor_critic": args.ac_timesteps}, args.episodes, args.seed)
    print("\nAlmgren-Chriss environment, mean-variance reward: objective E + lambda V (bps of notional)\n")
    print(ac.to_markdown(index=False, floatfmt=".3f"))
    for title, table in part_lob(args.lob_timesteps, args.lob_episodes, args.seed).items():
        print(f"\nLOB environment, {title}:\n")
        print(table.to_markdown())


if __name__ == "__main__":
    main()
