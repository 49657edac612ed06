"""Train an agent, watch it against the baselines in TensorBoard, and compare them at the end.

    python -m execgym.experiments.train [env=<group>] [agent=<group>] [seed=<n>] [overrides]
    python -m execgym.experiments.train -m seed=0,1 agent=actor_critic,ppo      # joblib, 2 workers

In Hydra's run directory: ``.hydra/`` (the config), ``checkpoints/`` (periodic and final),
``tensorboard/`` (agent and baseline series under the same tags, HParams; ``train/``: the
learner's own logs, SB3's or the actor-critic's losses, entropy, explained variance, episode
returns and steps/s),
``evaluation.csv`` (every episode of the final comparison, agent and baselines on the
same seeds) and ``evaluation.md``. A multirun also writes ``evaluation_all.csv`` / ``.md``
for all its runs in the sweep directory.
"""

from __future__ import annotations

import logging
import math
import random
import time
from pathlib import Path

import hydra
import numpy as np
import pandas as pd
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from execgym.experiments.agents import build_agent
from execgym.experiments.builders import build_baselines, build_env_factory
from execgym.experiments.comparison import comparison_table
from execgym.experiments.evaluation import compare_policies, summarize
from execgym.experiments.tensorboard_eval import PeriodicEvaluator, eval_metrics

logger = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    """Seed Python, numpy's legacy global state and torch (agents also seed their own streams)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def run(cfg: DictConfig, out_dir: Path) -> tuple[pd.DataFrame, float]:
    """Train and evaluate as configured; return the comparison table and the agent's objective.

    The objective (what an Optuna sweep minimises) is the agent's mean mean-variance cost
    in bps where the environment defines it, else its mean shortfall in bps.
    """
    seed = int(cfg.seed)
    seed_everything(seed)
    torch.set_num_threads(1)
    out_dir.mkdir(parents=True, exist_ok=True)
    make_env, env_config = build_env_factory(cfg.env)
    task = make_env().unwrapped.task
    baselines = build_baselines(cfg.baselines, task, env_config)
    agent_cfg = OmegaConf.to_container(cfg.agent, resolve=True)
    name = agent_cfg.pop("name", agent_cfg["kind"])
    tb_dir = out_dir / "tensorboard"
    agent = build_agent(agent_cfg, cfg.env.id, env_config, seed, int(cfg.n_envs),
                        tensorboard_dir=str(tb_dir / "train"), resume_from=cfg.resume_from)
    evaluator = PeriodicEvaluator(make_env, baselines, tb_dir, int(cfg.eval.every_steps),
                                  int(cfg.eval.n_episodes), int(cfg.eval.seed))
    ckpt_dir = out_dir / "checkpoints"

    def on_update(num_timesteps: int) -> bool:
        return evaluator(agent.policy, num_timesteps)

    logger.info("training %s on %s for %d steps (seed %d, %d envs)", name, cfg.env.id, cfg.total_timesteps,
                seed, cfg.n_envs)
    start = time.perf_counter()
    agent.learn(int(cfg.total_timesteps), on_update, checkpoint_dir=ckpt_dir,
                checkpoint_every=int(cfg.checkpoint_every_steps), name=name)
    train_s = time.perf_counter() - start
    final_ckpt = agent.save(ckpt_dir / f"{name}_final")
    evaluator.next_at = 0
    evaluator(agent.policy, agent.num_timesteps)

    policies = {name: agent.policy, **baselines}
    episodes = compare_policies(policies, make_env, int(cfg.final_eval.n_episodes), int(cfg.final_eval.seed))
    episodes.insert(0, "run_env", cfg.env.id)
    episodes.insert(0, "run_seed", seed)
    episodes.insert(0, "run_agent", name)
    episodes.to_csv(out_dir / "evaluation.csv", index=False)
    summary = summarize(episodes, risk_aversion=getattr(env_config, "risk_aversion", None))
    table = comparison_table(summary, task.notional, episodes, cfg.reference_policy)
    (out_dir / "evaluation.md").write_text(table.to_markdown() + "\n")
    mine = episodes[episodes["policy"] == name]
    final = eval_metrics(mine, task.total_shares)
    objective = final.get("eval/mean_variance_bps", final["eval/shortfall_bps_mean"])
    evaluator.log_hparams({"agent": name, "seed": seed, "total_timesteps": int(cfg.total_timesteps),
                           **{k: v for k, v in agent_cfg.items() if k != "kind"}}, final)
    evaluator.close()
    logger.info("trained in %.1f s; final checkpoint %s", train_s, final_ckpt)
    return table, float(objective) if not math.isnan(objective) else float("inf")


@hydra.main(version_base=None, config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> float:
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    table, objective = run(cfg, out_dir)
    print(f"\n{cfg.agent.name} (seed {cfg.seed}, {cfg.total_timesteps:,} steps) against the baselines on "
          f"{cfg.final_eval.n_episodes} seeded episodes of {cfg.env.id}:\n")
    print(table.to_markdown())
    print(f"\nrun directory: {out_dir}")
    print(f"TensorBoard: .venv/bin/tensorboard --logdir {out_dir / 'tensorboard'}  (then open http://localhost:6006)")
    return objective


if __name__ == "__main__":
    main()
