"""Periodic evaluation during training, logged so agents and baselines share TensorBoard tags.

Every ``every_steps`` environment steps the agent is evaluated on fixed seeded episodes;
the baselines are evaluated once on the same seeds. Both are written under the same tags
(``eval/shortfall_bps_mean``, ``eval/shortfall_bps_std``, ``eval/mean_variance_bps``,
``eval/completion_rate``, ``eval/participation``) into sibling run directories
(``<tb>/agent``, ``<tb>/baseline_<name>``), so one TensorBoard view overlays the agent's
learning curve on the baselines' levels.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Callable, Mapping

import gymnasium as gym
import pandas as pd
from torch.utils.tensorboard import SummaryWriter

from execgym.experiments.lib.evaluation import evaluate_policy
from execgym.experiments.lib.runner import env_task

logger = logging.getLogger(__name__)

__all__ = ["TAGS", "PeriodicEvaluator", "eval_metrics"]

TAGS = ("eval/shortfall_bps_mean", "eval/shortfall_bps_std", "eval/mean_variance_bps",
        "eval/completion_rate", "eval/participation")


def eval_metrics(episodes: pd.DataFrame, total_shares: float) -> dict[str, float]:
    """The logged metrics of a set of evaluation episodes (NaN-free: undefined ones are left out)."""
    out = {
        "eval/shortfall_bps_mean": float(episodes["shortfall_bps"].mean()),
        "eval/shortfall_bps_std": float(episodes["shortfall_bps"].std(ddof=1)) if len(episodes) > 1 else 0.0,
        "eval/mean_variance_bps": float(episodes["mv_cost_bps"].mean()),
        "eval/completion_rate": float((episodes["executed_shares"] >= total_shares - 1e-6).mean()),
        "eval/participation": float(episodes["participation"].mean()),
    }
    return {k: v for k, v in out.items() if not math.isnan(v)}


class PeriodicEvaluator:
    """Evaluate and log every ``every_steps``; the baselines once, up front.

    :param make_env: builds one evaluation environment.
    :param baselines: name -> policy, logged as ``baseline_<name>``.
    :param tb_dir: TensorBoard root of the run.
    :param every_steps: environment steps between evaluations; 0 turns periodic evaluation
        off (:meth:`evaluate` still runs when called).
    """

    def __init__(self, make_env: Callable[[], gym.Env], baselines: Mapping[str, Any], tb_dir: str | Path,
                 every_steps: int, n_episodes: int, seed: int) -> None:
        self.make_env, self.every, self.n_episodes, self.seed = make_env, every_steps, n_episodes, seed
        self.total_shares = env_task(make_env).total_shares
        self.tb_dir = Path(tb_dir)
        self.writer = SummaryWriter(str(self.tb_dir / "agent"))
        self.baseline_metrics = {}
        self.baseline_writers = {}
        for name, policy in baselines.items():
            episodes = evaluate_policy(policy, make_env, n_episodes, seed, name)
            self.baseline_metrics[name] = eval_metrics(episodes, self.total_shares)
            self.baseline_writers[name] = SummaryWriter(str(self.tb_dir / f"baseline_{name}"))
        self.next_at = 0
        self.history: list[dict[str, float]] = []

    def __call__(self, policy: Any, num_timesteps: int) -> bool:
        """The periodic hook: evaluate if ``every_steps`` have passed since the last time."""
        if self.every <= 0 or num_timesteps < self.next_at:
            return True
        self.evaluate(policy, num_timesteps)
        return True

    def evaluate(self, policy: Any, num_timesteps: int) -> None:
        """Evaluate ``policy`` now and log it, with the baselines' levels, at ``num_timesteps``."""
        self.next_at = num_timesteps + self.every
        episodes = evaluate_policy(policy, self.make_env, self.n_episodes, self.seed, "agent")
        metrics = eval_metrics(episodes, self.total_shares)
        for tag, value in metrics.items():
            self.writer.add_scalar(tag, value, num_timesteps)
        for name, writer in self.baseline_writers.items():
            for tag, value in self.baseline_metrics[name].items():
                writer.add_scalar(tag, value, num_timesteps)
        self.history.append({"num_timesteps": num_timesteps, **metrics})
        logger.info("eval at %d steps: shortfall %.3f bps (baselines: %s)", num_timesteps,
                    metrics["eval/shortfall_bps_mean"],
                    ", ".join(f"{n} {m['eval/shortfall_bps_mean']:.3f}" for n, m in self.baseline_metrics.items()))

    def log_hparams(self, hparams: Mapping[str, Any], final: Mapping[str, float]) -> None:
        """Hyperparameters and final metrics for TensorBoard's HParams view."""
        clean = {k: (v if isinstance(v, (int, float, str, bool)) else str(v)) for k, v in hparams.items()}
        self.writer.add_hparams(clean, {f"hparam/{k.split('/')[-1]}": v for k, v in final.items()}, run_name=".")

    def close(self) -> None:
        self.writer.close()
        for writer in self.baseline_writers.values():
            writer.close()


