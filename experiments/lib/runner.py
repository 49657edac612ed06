"""The one comparison runner of the scripts: every policy on the same seeded episodes, the
summary, the table, and the files they are written to."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import gymnasium as gym
import pandas as pd

from execgym.experiments.lib.evaluation import compare_policies, summarize
from execgym.experiments.lib.tables import comparison_table

__all__ = ["Comparison", "env_task", "run_comparison"]


def env_task(make_env: Callable[[], gym.Env]) -> Any:
    """The :class:`~execgym.envs.contract.ExecutionTask` of the envs ``make_env`` builds (the
    env built to read it is closed again)."""
    env = make_env()
    try:
        return env.unwrapped.task
    finally:
        env.close()


@dataclass(frozen=True)
class Comparison:
    """Every episode (one row per policy and seed), the per-policy summary and the table."""

    episodes: pd.DataFrame
    summary: pd.DataFrame
    table: pd.DataFrame

    def write(self, out_dir: str | Path, episodes_file: str = "episodes.csv", summary_file: str | None = "summary.csv",
              table_file: str = "summary.md") -> Path:
        """The episodes and summary as CSV and the table as markdown in ``out_dir``; the folder."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        self.episodes.to_csv(out_dir / episodes_file, index=False)
        if summary_file:
            self.summary.to_csv(out_dir / summary_file)
        (out_dir / table_file).write_text(self.table.to_markdown() + "\n")
        return out_dir


def run_comparison(policies: Mapping[str, Any], make_env: Callable[[], gym.Env], n_episodes: int, seed: int, *,
                   notional: float, reference: str | None, risk_aversion: float | None = None,
                   progress: bool = False, extra_metrics: tuple[str, ...] = (),
                   columns: Mapping[str, Any] | None = None,
                   make_table: Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame] | None = None) -> Comparison:
    """Play every policy on the same ``n_episodes`` episodes from ``seed`` (common random
    numbers), summarise them, and tabulate each against ``reference`` (paired).

    :param columns: constant columns put first in the episodes (e.g. the run's agent and seed).
    :param make_table: ``(summary, episodes) -> table``; the default is
        :func:`~execgym.experiments.lib.tables.comparison_table`.
    """
    episodes = compare_policies(dict(policies), make_env, n_episodes, seed, progress=progress,
                                extra_metrics=extra_metrics)
    for name, value in reversed(list((columns or {}).items())):
        episodes.insert(0, name, value)
    summary = summarize(episodes, risk_aversion=risk_aversion, extra_metrics=extra_metrics)
    table = (make_table(summary, episodes) if make_table is not None
             else comparison_table(summary, notional, episodes, reference))
    return Comparison(episodes, summary, table)
