"""Measure a metaorder's impact in the simulated market and its decay after execution.

    python -m execgym.experiments.metaorder_impact [hydra overrides]

Prints the average impact path (ticks, signed so that buys and sells both show positive
impact) during and after the metaorder, and the fitted decay
``I_inf + A exp(-rate (t - T))`` beside the configured resilience ``rho`` and permanent
impact ``gamma X``. Writes the path as ``impact_path.csv`` and a plot ``impact_path.png``
in Hydra's run directory.
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
import numpy as np
from hydra.core.hydra_config import HydraConfig
from matplotlib.figure import Figure
from omegaconf import DictConfig, OmegaConf

from execgym.envs.market.analysis.impact.metaorder import fit_decay, metaorder_impact
from execgym.envs.market.simulation.simulator import SimulatorConfig
from execgym.experiments.lib.builders import cfg_int

logger = logging.getLogger(__name__)


def run(cfg: DictConfig, out_dir: Path) -> tuple:
    market = SimulatorConfig.from_mapping(OmegaConf.to_container(cfg.market, resolve=True))
    path = metaorder_impact(market, side=cfg.side, total_shares=cfg_int(cfg, "total_shares"), duration_s=float(cfg.duration_s),
                            n_slices=cfg_int(cfg, "n_slices"), post_s=float(cfg.post_s), dt_s=float(cfg.dt_s),
                            n_runs=cfg_int(cfg, "n_runs"), seed=cfg_int(cfg, "seed"),
                            n_workers=cfg_int(cfg, "n_workers", minimum=1))
    fit = fit_decay(path, float(cfg.duration_s))
    out_dir.mkdir(parents=True, exist_ok=True)
    path.to_csv(out_dir / "impact_path.csv", index=False)
    fig = Figure(figsize=(8, 4.5), constrained_layout=True)
    ax = fig.subplots()
    ax.errorbar(path["time_s"], path["impact_ticks"], yerr=1.96 * path["stderr_ticks"], fmt=".", ms=3,
                label="measured (95% CI)")
    after = path["time_s"] >= cfg.duration_s
    t = path["time_s"][after] - cfg.duration_s
    ax.plot(path["time_s"][after], fit["permanent_ticks"] + fit["transient_ticks"] * np.exp(-fit["rate_per_s"] * t),
            label=f"fit: rate {fit['rate_per_s']:.3f}/s")
    ax.axvline(cfg.duration_s, color="k", lw=0.8, ls=":")
    ax.axhline(market.impact.permanent_ticks_per_share * cfg.total_shares, color="grey", ls="--", label="gamma X")
    ax.set_xlabel("seconds since the metaorder started")
    ax.set_ylabel("impact (ticks)")
    ax.legend()
    fig.savefig(out_dir / "impact_path.png", dpi=110)
    return path, fit, market


@hydra.main(version_base=None, config_path="../conf", config_name="metaorder_impact")
def main(cfg: DictConfig) -> None:
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    path, fit, market = run(cfg, out_dir)
    every = max(1, len(path) // 24)
    print(f"\n{cfg.side} {cfg.total_shares} shares over {cfg.duration_s:g} s in {cfg.n_slices} market orders, "
          f"{cfg.n_runs} paired runs\n")
    print(path.iloc[::every].to_string(index=False, float_format=lambda x: f"{x:8.3f}"))
    print(f"\ndecay after the metaorder: fitted rate {fit['rate_per_s']:.4f}/s "
          f"(configured resilience rho = {market.flow.resilience_per_s:g}/s)")
    print(f"permanent impact: fitted {fit['permanent_ticks']:.3f} ticks "
          f"(configured gamma X = {market.impact.permanent_ticks_per_share * cfg.total_shares:.3f} ticks)")
    print(f"\npath and plot: {out_dir}")


if __name__ == "__main__":
    main()
