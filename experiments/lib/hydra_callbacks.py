"""Hydra callbacks: after a multirun, one evaluation table for all its runs and an aggregate
over training seeds."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from execgym.experiments.lib.evaluation import summarize
from execgym.experiments.lib.statistics import REFERENCE, paired_differences, seed_aggregate

logger = logging.getLogger(__name__)

__all__ = ["AggregateEvaluations", "aggregate_evaluations"]


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
