"""Smart order routing: the routers and a PPO agent on identical seeded episodes.

    python -m execgym.experiments.compare_routers [hydra overrides]

For each side in ``sides``: PPO trains briefly in ``execgym/SmartOrderRouting-v0`` (its
evaluation curve logged to TensorBoard beside the routers' levels, under the tags of
:mod:`execgym.experiments.lib.tensorboard_eval`), then every router and the agent run the same
``n_episodes`` seeded episodes (common random numbers). The table gives the all-in
shortfall (bps of arrival notional: price vs the arrival NBBO mid, taker fees, latency
slippage, unfilled penalty) with its 95% CI and std, the paired difference to
``reference`` with its 95% CI, the routing cost (each child against the NBBO mid at its
decision: the part a router controls), the fees, the latency slippage and the fill rate.
PPO trains on the routing-cost reward (``ppo.reward``; less noisy, same optimum, see
:class:`execgym.envs.routing.SmartOrderRoutingEnv`); all policies are evaluated on the all-in
shortfall.

Hydra's run directory gets, per side, ``episodes.csv``, ``summary.csv``, ``summary.md``
and the agent's final model; ``tensorboard/<side>/`` holds the learning curve, the
routers' levels and the final table (text and ``final/*`` scalars).
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path

import hydra
import numpy as np
import pandas as pd
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from torch.utils.tensorboard import SummaryWriter

from execgym.experiments.lib.agents import build_agent
from execgym.experiments.lib.builders import build_env_factory, build_routers, cfg_int
from execgym.experiments.lib.runner import run_comparison
from execgym.experiments.lib.seeding import seed_everything
from execgym.experiments.lib.statistics import paired_differences
from execgym.experiments.lib.tensorboard_eval import PeriodicEvaluator

logger = logging.getLogger(__name__)

#: the routing environment's own episode metrics, recorded beside evaluation.METRICS
ROUTING_METRICS = ("fees_bps", "fees_usd", "latency_slippage_bps", "routing_cost_bps", "fill_rate")


def routing_table(episodes: pd.DataFrame, summary: pd.DataFrame, reference: str) -> pd.DataFrame:
    """The comparison table, best mean all-in shortfall first."""
    ci = (summary["shortfall_bps_ci_high"] - summary["shortfall_bps_ci_low"]) / 2.0
    diff = paired_differences(episodes, reference).reindex(summary.index)
    diff = pd.DataFrame({"mean": diff["diff_mean"], "half": (diff["diff_ci_high"] - diff["diff_ci_low"]) / 2.0})
    table = pd.DataFrame({
        "all-in shortfall bps (mean ± 95% CI)": [f"{m:.2f} ± {h:.2f}" for m, h in zip(summary["shortfall_bps_mean"], ci)],
        "std bps": summary["shortfall_bps_std"].round(2),
        f"vs {reference} bps (paired, ± 95% CI)": [f"{m:+.3f} ± {h:.3f}" for m, h in zip(diff["mean"], diff["half"])],
        "routing cost bps": summary["routing_cost_bps_mean"].round(3),
        "fees bps": summary["fees_bps_mean"].round(3),
        "fees USD": summary["fees_usd_mean"].round(2),
        "latency slippage bps": summary["latency_slippage_bps_mean"].round(3),
        "fill rate %": (100 * summary["fill_rate_mean"]).round(2),
    }, index=summary.index)
    return table.loc[summary["shortfall_bps_mean"].sort_values().index]


def _train_agent(cfg: DictConfig, env_config, make_env, routers, tb_dir: Path, out_dir: Path):
    """PPO (or the configured agent) trained in the routing env with ``cfg.ppo.reward``, with
    periodic evaluation (on the evaluation env) logged."""
    agent_cfg = OmegaConf.to_container(cfg.agent, resolve=True)
    name = agent_cfg.pop("name", agent_cfg["kind"])
    train_config = replace(env_config, reward=str(cfg.ppo.reward))
    agent = build_agent(agent_cfg, cfg.env.id, train_config, cfg_int(cfg, "seed"), cfg_int(cfg, "ppo.n_envs"),
                        tensorboard_dir=str(tb_dir / "train"))
    evaluator = PeriodicEvaluator(make_env, routers, tb_dir, cfg_int(cfg, "eval.every_steps"), cfg_int(cfg, "eval.n_episodes"),
                                  cfg_int(cfg, "eval.seed"))
    start = time.perf_counter()
    agent.learn(cfg_int(cfg, "ppo.total_timesteps"), lambda n: evaluator(agent.policy, n))
    evaluator.next_at = 0
    evaluator(agent.policy, agent.num_timesteps)
    evaluator.close()
    logger.info("trained %s for %d steps in %.1f s", name, agent.num_timesteps, time.perf_counter() - start)
    agent.save(out_dir / f"{name}_final")
    return name, agent.policy


def _log_final(tb_dir: Path, table: pd.DataFrame, summary: pd.DataFrame) -> None:
    writer = SummaryWriter(str(tb_dir / "final"))
    writer.add_text("comparison", table.to_markdown())
    for policy, row in summary.iterrows():
        for metric in ("shortfall_bps", "fees_bps", "latency_slippage_bps", "fill_rate"):
            writer.add_scalar(f"final/{metric}/{policy}", float(row[f"{metric}_mean"]), 0)
    writer.close()


def run(cfg: DictConfig, out_dir: Path) -> dict[str, pd.DataFrame]:
    """Train (per side) and evaluate as configured, write the outputs; return the tables by side."""
    seed_everything(cfg_int(cfg, "seed"))
    torch.set_num_threads(1)
    tables = {}
    for side in cfg.sides:
        env_cfg = OmegaConf.to_container(cfg.env, resolve=True)
        env_cfg["params"]["side"] = side
        make_env, env_config = build_env_factory(env_cfg)
        routers = build_routers(cfg.routers, env_config)
        policies = dict(routers)
        side_dir, tb_dir = out_dir / side, out_dir / "tensorboard" / side
        side_dir.mkdir(parents=True, exist_ok=True)
        if cfg_int(cfg, "ppo.total_timesteps") > 0:
            name, policy = _train_agent(cfg, env_config, make_env, routers, tb_dir, side_dir)
            policies[name] = policy
        logger.info("evaluating %s (%s), %d episodes, seed %d", list(policies), side, cfg.n_episodes, cfg.seed)
        result = run_comparison(policies, make_env, cfg_int(cfg, "n_episodes"), cfg_int(cfg, "seed"), notional=np.nan,
                                reference=str(cfg.reference), progress=bool(cfg.progress),
                                extra_metrics=ROUTING_METRICS,
                                make_table=lambda summary, episodes: routing_table(episodes, summary, str(cfg.reference)))
        result.write(side_dir)
        _log_final(tb_dir, result.table, result.summary)
        tables[side] = result.table
    return tables


@hydra.main(version_base=None, config_path="../conf", config_name="compare_routers")
def main(cfg: DictConfig) -> None:
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    tables = run(cfg, out_dir)
    p = cfg.env.params
    for side, table in tables.items():
        print(f"\n{cfg.env.id}: {side} {p.total_shares:,} shares over {p.horizon_s:.0f} s across "
              f"{len(p.market.venues)} venues, {cfg.n_episodes} seeded episodes per policy\n")
        print(table.to_markdown())
    print(f"\nper-episode results and summaries (one folder per side): {out_dir}")
    print(f"TensorBoard: .venv/bin/tensorboard --logdir {out_dir / 'tensorboard'}")


if __name__ == "__main__":
    main()
