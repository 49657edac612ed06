"""Hydra callbacks: after a multirun, one evaluation table for all its runs and an aggregate
over training seeds; for the benchmark, one leaderboard over its jobs' tasks."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from execgym.experiments.lib.evaluation import summarize
from execgym.experiments.lib.leaderboard import leaderboard_markdown
from execgym.experiments.lib.statistics import REFERENCE, paired_differences, seed_aggregate

logger = logging.getLogger(__name__)

__all__ = ["AggregateEvaluations", "MergeLeaderboards", "aggregate_evaluations", "merge_leaderboards"]


def aggregate_evaluations(sweep_dir: str | Path, reference: str = REFERENCE) -> pd.DataFrame | None:
    """Concatenate every run's ``evaluation.csv`` under ``sweep_dir`` and summarise them.

    Writes into ``sweep_dir``:

    * ``evaluation_all.csv``: every episode of every run;
    * ``evaluation_all.md``: per agent, seed and policy, the mean, std and 95% CI of the
      shortfall (bps) and the paired difference to ``reference`` with its 95% CI;
    * ``evaluation_seeds.csv`` / ``.md``: per agent, the interquartile mean over its training
      seeds of its mean shortfall and of its paired difference to ``reference``, each with a
      stratified bootstrap 95% CI (strata: the env), and the mean and std over seeds
      (:func:`~execgym.experiments.lib.statistics.seed_aggregate`).

    Returns the per-run table, or ``None`` if no run wrote an evaluation.
    """
    sweep_dir = Path(sweep_dir)
    files = sorted(sweep_dir.glob("*/evaluation.csv"))
    if not files:
        return None
    episodes = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
    episodes.to_csv(sweep_dir / "evaluation_all.csv", index=False)
    rows = []
    for (agent, seed), group in episodes.groupby(["run_agent", "run_seed"], sort=True):
        summary = summarize(group)
        paired = paired_differences(group, reference) if reference in set(group["policy"]) else None
        for policy, row in summary.iterrows():
            entry = {"run_agent": agent, "run_seed": seed, "policy": policy,
                     "shortfall_bps_mean": row["shortfall_bps_mean"], "shortfall_bps_std": row["shortfall_bps_std"],
                     "ci95_low": row["shortfall_bps_ci_low"], "ci95_high": row["shortfall_bps_ci_high"]}
            if paired is not None:
                entry |= {f"vs_{reference}_bps": paired.at[policy, "diff_mean"],
                          f"vs_{reference}_ci95_low": paired.at[policy, "diff_ci_low"],
                          f"vs_{reference}_ci95_high": paired.at[policy, "diff_ci_high"]}
            entry |= {"mv_cost_bps_mean": row["mv_cost_bps_mean"], "n_episodes": row["n_episodes"]}
            rows.append(entry)
    table = pd.DataFrame(rows)
    (sweep_dir / "evaluation_all.md").write_text(table.to_markdown(index=False, floatfmt=".3f") + "\n")
    seeds = seed_aggregate(episodes, reference)
    seeds.to_csv(sweep_dir / "evaluation_seeds.csv")
    (sweep_dir / "evaluation_seeds.md").write_text(
        f"Per agent over its training seeds: interquartile mean (IQM) of the seeds' mean shortfall (bps) and "
        f"of their paired difference to {reference} (bps, + = costlier), with stratified bootstrap 95% CIs "
        f"(Agarwal et al. 2021; strata: env).\n\n" + seeds.to_markdown(floatfmt=".3f") + "\n")
    logger.info("multirun evaluation of %d runs written to %s", len(files), sweep_dir)
    return table


class AggregateEvaluations(Callback):
    """Hydra callback: :func:`aggregate_evaluations` over the sweep directory at the end of a multirun."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        aggregate_evaluations(config.hydra.sweep.dir, str(config.get("reference_policy", REFERENCE)))


def merge_leaderboards(sweep_dir: str | Path, reference: str = REFERENCE, confidence: float = 0.95) -> pd.DataFrame | None:
    """One leaderboard for a benchmark multirun (e.g. ``-m only=task_a,task_b``): every job's
    ``leaderboard.csv`` under ``sweep_dir`` concatenated into ``sweep_dir/leaderboard.csv``
    and ``leaderboard.md`` (each task's description and scored metric from its job's
    ``benchmark_config.yaml``). A task that several jobs ran is refused: their rows would
    not be one comparison. Returns the merged table, or ``None`` if no job wrote one."""
    sweep_dir = Path(sweep_dir)
    files = sorted(sweep_dir.glob("*/leaderboard.csv"))
    if not files:
        return None
    boards, descriptions, metrics = [], {}, {}
    for f in files:
        board = pd.read_csv(f, index_col=["task", "policy"])
        cfg = OmegaConf.load(f.parent / "benchmark_config.yaml")
        for task in board.index.get_level_values("task").unique():
            if task in descriptions:
                raise ValueError(f"task {task!r} ran in more than one job of {sweep_dir}; merge them by hand")
            descriptions[task] = cfg.benchmark.tasks[task].description
            metrics[task] = cfg.benchmark.tasks[task].get("metric", "shortfall_bps")
        boards.append(board)
    merged = pd.concat(boards)
    merged.to_csv(sweep_dir / "leaderboard.csv")
    tables = {task: merged.xs(task, level="task") for task in descriptions}
    (sweep_dir / "leaderboard.md").write_text(
        f"# Leaderboard: {len(files)} jobs of {sweep_dir.name}\n\n"
        + leaderboard_markdown(tables, reference, descriptions, confidence, metrics))
    logger.info("leaderboard of %d jobs written to %s", len(files), sweep_dir)
    return merged


class MergeLeaderboards(Callback):
    """Hydra callback: :func:`merge_leaderboards` over the sweep directory at the end of a multirun."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        merge_leaderboards(config.hydra.sweep.dir, str(config.get("reference_policy", REFERENCE)),
                           float(config.get("confidence", 0.95)))
