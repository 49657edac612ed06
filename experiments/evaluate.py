"""Evaluate trained checkpoints and the baselines on the same seeded episodes.

    python -m execgym.experiments.evaluate +checkpoints.ac=outputs/.../actor_critic_final.pt [env=...]

(Hydra's ``+`` adds a key to the empty ``checkpoints`` mapping.)

Writes ``evaluation.csv`` (every episode) and ``evaluation.md`` (the comparison table) in
Hydra's run directory and prints the table.
"""

from __future__ import annotations

from pathlib import Path

import hydra
import pandas as pd
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from execgym.experiments.lib.agents import load_policy
from execgym.experiments.lib.builders import build_baselines, build_env_factory, cfg_int
from execgym.experiments.lib.runner import run_comparison


def run(cfg: DictConfig, out_dir: Path) -> pd.DataFrame:
    make_env, env_config = build_env_factory(cfg.env)
    env = make_env()
    task = env.unwrapped.task
    policies = {name: load_policy(path, cfg.env.id, env) for name, path in (cfg.checkpoints or {}).items()}
    env.close()
    policies.update(build_baselines(cfg.baselines, task, env_config))
    result = run_comparison(policies, make_env, cfg_int(cfg, "n_episodes"), cfg_int(cfg, "seed"),
                            notional=task.notional, reference=cfg.reference_policy,
                            risk_aversion=getattr(env_config, "risk_aversion", None))
    result.write(out_dir, episodes_file="evaluation.csv", summary_file=None, table_file="evaluation.md")
    return result.table


@hydra.main(version_base=None, config_path="../conf", config_name="evaluate")
def main(cfg: DictConfig) -> None:
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    table = run(cfg, out_dir)
    print(f"\n{cfg.env.id}, {cfg.n_episodes} seeded episodes per policy (seed {cfg.seed}):\n")
    print(table.to_markdown())
    print(f"\nper-episode results: {out_dir / 'evaluation.csv'}")


if __name__ == "__main__":
    main()
