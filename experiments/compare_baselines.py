"""The main job: evaluate the classical baselines on identical seeded episodes.

    python -m execgym.experiments.compare_baselines [hydra overrides]

Prints a comparison table and writes, in Hydra's run directory: ``episodes.csv`` (one
row per policy and episode), ``summary.csv`` / ``summary.md`` (mean, std and 95% CI
per policy, and each policy's paired difference to ``reference_policy`` with its 95% CI) and, per reported policy, its execution trajectory (CSV) and plot (PNG).
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
import pandas as pd
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from execgym.experiments.lib.builders import build_baselines, build_env_factory, cfg_int
from execgym.experiments.lib.report import execution_report
from execgym.experiments.lib.runner import env_task, run_comparison

logger = logging.getLogger(__name__)


def run(cfg: DictConfig, out_dir: Path) -> dict[str, pd.DataFrame]:
    """Evaluate each side in ``cfg.sides``, write the outputs to ``out_dir``; return the tables by side."""
    tables = {}
    for side in cfg.get("sides", [cfg.env.params.side]):
        env_cfg = OmegaConf.to_container(cfg.env, resolve=True)
        env_cfg["params"]["side"] = side
        make_env, env_config = build_env_factory(env_cfg)
        task = env_task(make_env)
        policies = build_baselines(cfg.baselines, task, env_config)
        logger.info("evaluating %s on %s (%s), %d episodes, seed %d", list(policies), cfg.env.id, side,
                    cfg.n_episodes, cfg.seed)
        result = run_comparison(policies, make_env, cfg_int(cfg, "n_episodes"), cfg_int(cfg, "seed"),
                                notional=task.notional, reference=cfg.reference_policy,
                                risk_aversion=getattr(env_config, "risk_aversion", None), progress=bool(cfg.progress))
        side_dir = result.write(out_dir / side)
        for name in cfg.report.policies:
            if name in policies:
                execution_report(make_env(), policies[name], cfg_int(cfg, "report.seed"), side_dir / "reports", name)
        tables[side] = result.table
    return tables


@hydra.main(version_base=None, config_path="../conf", config_name="compare_baselines")
def main(cfg: DictConfig) -> None:
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    tables = run(cfg, out_dir)
    lam = cfg.env.params.get("risk_aversion")
    for side, table in tables.items():
        print(f"\n{cfg.env.id}: {side} {cfg.env.params.total_shares:,} shares, "
              f"{cfg.n_episodes} seeded episodes per policy" + (f" (lambda = {lam})" if lam is not None else "") + "\n")
        print(table.to_markdown())
    print(f"\nper-episode results, summaries and execution plots (one folder per side): {out_dir}")


if __name__ == "__main__":
    main()
