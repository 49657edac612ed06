"""The main job: evaluate the classical baselines on identical seeded episodes.

    python -m experiments.compare_baselines [hydra overrides]

Prints a comparison table and writes, in Hydra's run directory: ``episodes.csv`` (one
row per policy and episode), ``summary.csv`` / ``summary.md`` (mean, std and 95% CI
per policy) and, per reported policy, its execution trajectory (CSV) and plot (PNG).
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
import pandas as pd
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from experiments.builders import build_baselines, build_env_factory
from experiments.evaluation import compare_policies, summarize
from experiments.report import execution_report

logger = logging.getLogger(__name__)


def comparison_table(summary: pd.DataFrame, notional: float) -> pd.DataFrame:
    """The headline columns of :func:`~experiments.evaluation.summarize`, formatted."""
    ci = (summary["shortfall_bps_ci_high"] - summary["shortfall_bps_ci_low"]) / 2.0
    table = pd.DataFrame({
        "shortfall bps (mean ± 95% CI)": [f"{m:.2f} ± {h:.2f}" for m, h in zip(summary["shortfall_bps_mean"], ci)],
        "shortfall std bps": summary["shortfall_bps_std"].round(2),
        "vs market VWAP bps": summary["vwap_slippage_bps_mean"].round(2),
        "participation %": (100 * summary["participation_mean"]).round(2),
    }, index=summary.index)
    if "mean_variance_usd" in summary:
        table["E + λV bps"] = (summary["mean_variance_usd"] / notional * 1e4).round(2)
    return table.sort_values("shortfall bps (mean ± 95% CI)" if "E + λV bps" not in table else "E + λV bps")


def run(cfg: DictConfig, out_dir: Path) -> pd.DataFrame:
    """Evaluate, write the outputs to ``out_dir`` and return the comparison table."""
    make_env, env_config = build_env_factory(cfg.env)
    task = make_env().unwrapped.task
    policies = build_baselines(cfg.baselines, task)
    logger.info("evaluating %s on %s, %d episodes, seed %d", list(policies), cfg.env.id, cfg.n_episodes, cfg.seed)
    episodes = compare_policies(policies, make_env, int(cfg.n_episodes), int(cfg.seed), progress=bool(cfg.progress))
    risk_aversion = getattr(env_config, "risk_aversion", None)
    summary = summarize(episodes, risk_aversion=risk_aversion)
    table = comparison_table(summary, task.notional)

    out_dir.mkdir(parents=True, exist_ok=True)
    episodes.to_csv(out_dir / "episodes.csv", index=False)
    summary.to_csv(out_dir / "summary.csv")
    (out_dir / "summary.md").write_text(table.to_markdown() + "\n")
    for name in cfg.report.policies:
        if name in policies:
            execution_report(make_env(), policies[name], int(cfg.report.seed), out_dir / "reports", name)
    return table


@hydra.main(version_base=None, config_path="../conf", config_name="compare_baselines")
def main(cfg: DictConfig) -> None:
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    table = run(cfg, out_dir)
    lam = cfg.env.params.get("risk_aversion")
    print(f"\n{cfg.env.id}: {cfg.env.params.side} {cfg.env.params.total_shares:,} shares, "
          f"{cfg.n_episodes} seeded episodes per policy (lambda = {lam})\n")
    print(table.to_markdown())
    print(f"\nper-episode results, summary and execution plots: {out_dir}")


if __name__ == "__main__":
    main()
