"""Hydra callbacks: after a multirun, one evaluation table for all its runs."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from execgym.experiments.evaluation import summarize

logger = logging.getLogger(__name__)

__all__ = ["AggregateEvaluations", "aggregate_evaluations"]


def aggregate_evaluations(sweep_dir: str | Path) -> pd.DataFrame | None:
    """Concatenate every run's ``evaluation.csv`` under ``sweep_dir`` and summarise per run and policy.

    Writes ``evaluation_all.csv`` (every episode of every run) and ``evaluation_all.md``
    (mean, std, 95% CI of shortfall per agent, seed and policy) into ``sweep_dir``.
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
        for policy, row in summary.iterrows():
            rows.append({"run_agent": agent, "run_seed": seed, "policy": policy,
                         "shortfall_bps_mean": row["shortfall_bps_mean"], "shortfall_bps_std": row["shortfall_bps_std"],
                         "ci95_low": row["shortfall_bps_ci_low"], "ci95_high": row["shortfall_bps_ci_high"],
                         "mv_cost_bps_mean": row["mv_cost_bps_mean"], "n_episodes": row["n_episodes"]})
    table = pd.DataFrame(rows)
    (sweep_dir / "evaluation_all.md").write_text(table.to_markdown(index=False, floatfmt=".3f") + "\n")
    logger.info("multirun evaluation of %d runs written to %s", len(files), sweep_dir)
    return table


class AggregateEvaluations(Callback):
    """Hydra callback: :func:`aggregate_evaluations` over the sweep directory at the end of a multirun."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        aggregate_evaluations(config.hydra.sweep.dir)
