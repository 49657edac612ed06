"""Execution report for one order and one policy: the per-step trajectory and its plot.

The trajectory has one row per decision step with the child order, its fill, the
market, and the running shortfall; the plot draws the schedule against the TWAP and
(where the environment has an impact model) Almgren-Chriss references.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from execgym.baselines.almgren_chriss import ACParams, ac_holdings
from execgym.envs.contract import ExecutionTask, PolicyPredictor
from execgym.experiments.lib.evaluation import play_episode

logger = logging.getLogger(__name__)

__all__ = ["execution_report", "execution_trajectory", "plot_execution", "reference_schedules"]


def execution_trajectory(env: gym.Env, policy: PolicyPredictor, seed: int) -> pd.DataFrame:
    """Run one episode and return its per-step trajectory.

    Columns: ``step``; ``time_<unit>`` (decision time, the task's time unit);
    ``holdings_before`` and ``holdings`` (shares left to trade before/after the step);
    ``child_shares`` (shares traded); ``fill_price`` (currency/share, NaN if none);
    ``mid`` (unaffected price at decision); ``market_volume`` (shares in the interval);
    ``cum_shortfall_bps`` (shortfall so far vs arrival, bps of the order's notional).
    ``df.attrs["execution"]`` holds the episode summary.
    """
    task: ExecutionTask = env.unwrapped.task
    time_key = f"time_{task.time_unit}"
    rows: list[dict[str, Any]] = []
    holdings = task.total_shares
    info: dict[str, Any] = {}
    for _, info in play_episode(env, policy, seed):
        rows.append({
            "step": info["step"],
            time_key: info[time_key],
            "holdings_before": holdings,
            "child_shares": info["shares"],
            "holdings": info["holdings"],
            "fill_price": info["fill_price"],
            "mid": info["mid"],
            "market_volume": info["market_volume"],
            "cum_shortfall_bps": info["cum_shortfall_bps"],
        })
        holdings = info["holdings"]
    df = pd.DataFrame(rows)
    df.attrs["execution"] = dict(info.get("execution", {}))
    return df


def reference_schedules(task: ExecutionTask) -> dict[str, np.ndarray]:
    """Reference holdings paths ``x_0..x_N`` (shares): TWAP, and AC if the task has a model."""
    refs = {"TWAP": task.total_shares * (1.0 - np.arange(task.n_steps + 1) / task.n_steps)}
    model = task.impact_model
    if model:
        try:
            params = ACParams(total_shares=task.total_shares, horizon=task.horizon, n_steps=task.n_steps,
                              sigma=model["sigma"], eta=model["eta"], gamma=model["gamma"],
                              epsilon=model["epsilon"], risk_aversion=model["risk_aversion"])
        except ValueError as err:  # e.g. a noise-free test market: no AC schedule exists
            logger.info("no Almgren-Chriss reference for this task: %s", err)
        else:
            refs[f"Almgren-Chriss (lambda={params.risk_aversion:g})"] = ac_holdings(params)
    return refs


def plot_execution(trajectory: pd.DataFrame, task: ExecutionTask, path: str | Path, title: str = "") -> Path:
    """Save a three-panel PNG of ``trajectory`` (from :func:`execution_trajectory`) to ``path``.

    Panels: holdings vs the reference schedules; child orders vs market volume; mid and
    fill prices with the running shortfall in bps.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    unit = task.time_unit
    grid = np.arange(task.n_steps + 1) * task.tau
    t = trajectory[f"time_{unit}"].to_numpy()
    fig = Figure(figsize=(9, 9), constrained_layout=True)
    ax_hold, ax_child, ax_price = fig.subplots(3, 1, sharex=True)

    x = np.concatenate([[task.total_shares], trajectory["holdings"].to_numpy()])
    ax_hold.step(np.concatenate([t, [t[-1] + task.tau]]), x, where="post", label="policy", lw=2)
    for name, ref in reference_schedules(task).items():
        ax_hold.plot(grid, ref, ls="--", label=name)
    ax_hold.set_ylabel("shares left to trade")
    ax_hold.legend(loc="upper right")
    ax_hold.set_title(title or f"{task.side} {task.total_shares:,.0f} shares")

    ax_child.bar(t, trajectory["child_shares"], width=0.8 * task.tau, align="edge", label="child order")
    ax_child.set_ylabel("shares per step")
    ax_vol = ax_child.twinx()
    ax_vol.plot(t + 0.5 * task.tau, trajectory["market_volume"], color="grey", marker=".", label="market volume")
    ax_vol.set_ylabel("market volume (shares)")
    ax_child.legend(loc="upper left")
    ax_vol.legend(loc="upper right")

    ax_price.plot(t, trajectory["mid"], label="mid (unaffected)")
    ax_price.scatter(t, trajectory["fill_price"], s=12, color="C3", label="fill price")
    ax_price.axhline(task.arrival_price, color="k", lw=0.8, ls=":", label="arrival")
    ax_price.set_ylabel("price")
    ax_price.set_xlabel(f"time ({unit})")
    ax_bps = ax_price.twinx()
    ax_bps.plot(t, trajectory["cum_shortfall_bps"], color="C2", label="cumulative shortfall")
    ax_bps.set_ylabel("shortfall (bps)")
    ax_price.legend(loc="upper left")
    ax_bps.legend(loc="lower right")
    fig.savefig(path, dpi=110)
    logger.info("execution plot saved to %s", path)
    return path


def execution_report(
    env: gym.Env, policy: PolicyPredictor, seed: int, out_dir: str | Path, name: str = "policy"
) -> tuple[pd.DataFrame, Path]:
    """Trajectory of one seeded episode, saved as ``<name>_trajectory.csv`` and ``<name>_execution.png``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    traj = execution_trajectory(env, policy, seed)
    traj.to_csv(out_dir / f"{name}_trajectory.csv", index=False)
    shortfall = traj.attrs["execution"].get("shortfall_bps", float("nan"))
    png = plot_execution(traj, env.unwrapped.task, out_dir / f"{name}_execution.png",
                         title=f"{name}: shortfall {shortfall:.1f} bps (seed {seed})")
    return traj, png
