"""Robust vs non-robust execution when the model is right and when it is misspecified.

    python -m execgym.experiments.robust_execution [hydra overrides]   # conf/robust_execution.yaml

The environment's parameters (``env.params``) are the *nominal* model. Three policies:

* ``nominal``: the Cartea-Jaimungal-Penalva optimum of the nominal model (``k = eta``,
  ``b = gamma``, ``phi = lambda sigma^2``), ``make_baseline("stochastic_control")``;
* ``robust``: the max-min schedule over the ambiguity set (impact and volatility within
  ``ambiguity`` ranges, drift ambiguity ``psi``), ``make_baseline("robust")``;
* ``oracle``: the optimum for the true model, drift included (it knows the truth).

For every true model on the ``truth`` grid (impact and volatility multipliers of the
nominal model and a price drift; multipliers 1 and drift 0 are "the model is right"), the
Almgren-Chriss environment is configured with the TRUE parameters and each policy runs the
same seeded episodes (common random numbers). Per side, true model and policy the table
has the mean implementation shortfall (bps of arrival notional) with its 95% t-interval,
its std, the sample mean-variance objective ``E + lambda V`` (bps), the paired difference
robust - nominal with its 95% interval, and the exact expectations of the (deterministic)
schedules as a check of the simulation. Lower is better throughout.

Writes ``robust_execution.csv`` (one row per side, true model and policy),
``table_<side>.md`` and ``worst_case.md`` in Hydra's run directory.
"""

from __future__ import annotations

import itertools
import logging
from pathlib import Path
from typing import Any

import hydra
import numpy as np
import pandas as pd
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf
from tqdm.auto import tqdm

from execgym.baselines import make_baseline
from execgym.baselines.robust import RobustExecutionPolicy, expected_objective, robust_schedule
from execgym.baselines.stochastic_control import CJPParams
from execgym.envs.contract import side_sign
from execgym.experiments.lib.builders import build_env_factory, cfg_int
from execgym.experiments.lib.evaluation import compare_policies, summarize
from execgym.experiments.lib.runner import env_task
from execgym.experiments.lib.statistics import t_interval

logger = logging.getLogger(__name__)

__all__ = ["exact_moments", "run", "true_model"]

POLICIES = ("nominal", "robust", "oracle")


def true_model(env_config: Any, alpha: float) -> tuple[CJPParams, float]:
    """The CJP model of an Almgren-Chriss config (``k = eta``, ``b = gamma``,
    ``phi = lambda sigma^2``) and its drift in the liquidation frame (currency/share/day:
    the price drift for a seller, minus it for a buyer)."""
    c = env_config
    model = CJPParams(k=c.eta, b=c.gamma, alpha=alpha, phi=c.risk_aversion * c.sigma**2, horizon=c.horizon_days)
    return model, -side_sign(c.side) * c.drift_usd_per_day


def exact_moments(holdings: np.ndarray, env_config: Any) -> tuple[float, float]:
    """Exact mean and variance (USD, USD^2) of the implementation shortfall of the
    deterministic schedule ``holdings[0..N]`` (the last forced to 0, as the env does) in
    the environment configured by ``env_config``: ``epsilon X`` minus the model's expected
    objective without inventory penalty, and ``sigma^2 tau sum_{k>=1} h_k^2``."""
    h = np.asarray(holdings, dtype=np.float64).copy()
    h[-1] = 0.0
    model, drift = true_model(env_config, alpha=1.0)
    no_penalty = CJPParams(k=model.k, b=model.b, alpha=model.alpha, phi=0.0, horizon=model.horizon)
    mean = env_config.epsilon * h[0] - expected_objective(h, no_penalty, drift)
    tau = env_config.horizon_days / (h.size - 1)
    return float(mean), float(env_config.sigma**2 * tau * np.dot(h[1:], h[1:]))


def _check_grid(truth: dict[str, Any]) -> tuple[list[float], list[float], list[float]]:
    axes = []
    for name in ("impact", "sigma", "drift_usd_per_day"):
        values = [float(v) for v in (truth.get(name) or [])]
        if not values:
            raise ValueError(f"truth.{name} must list at least one value, got {truth.get(name)!r}")
        if name != "drift_usd_per_day" and min(values) <= 0:
            raise ValueError(f"truth.{name} multipliers must be > 0, got {values!r}")
        axes.append(values)
    return axes[0], axes[1], axes[2]


def run(cfg: DictConfig, out_dir: Path) -> pd.DataFrame:
    """Run the grid for each side in ``cfg.sides``; write the outputs to ``out_dir``; return
    the long table (one row per side, true model and policy)."""
    impacts, sigmas, drifts = _check_grid(OmegaConf.to_container(cfg.truth, resolve=True))
    n_episodes, seed, alpha = cfg_int(cfg, "n_episodes"), cfg_int(cfg, "seed"), float(cfg.alpha)
    ambiguity = OmegaConf.to_container(cfg.ambiguity, resolve=True)
    rows = []
    for side in cfg.sides:
        env_cfg = OmegaConf.to_container(cfg.env, resolve=True)
        env_cfg["params"]["side"] = side
        make_nominal, nominal_cfg = build_env_factory(env_cfg)  # validates the nominal model
        if nominal_cfg.drift_usd_per_day != 0.0:
            raise ValueError(f"the nominal model has no drift; got env.params.drift_usd_per_day="
                             f"{nominal_cfg.drift_usd_per_day!r} (set the true drifts in truth.drift_usd_per_day)")
        task = env_task(make_nominal)
        fixed = {"nominal": make_baseline("stochastic_control", task, alpha=alpha),
                 "robust": make_baseline("robust", task, alpha=alpha, **ambiguity)}
        grid = list(itertools.product(impacts, sigmas, drifts))
        for m_impact, m_sigma, drift in tqdm(grid, desc=f"true models ({side})", disable=not cfg.progress):
            params = {**env_cfg["params"], "eta": nominal_cfg.eta * m_impact, "gamma": nominal_cfg.gamma * m_impact,
                      "sigma": nominal_cfg.sigma * m_sigma, "drift_usd_per_day": drift}
            make_env, truth_cfg = build_env_factory({**env_cfg, "params": params})
            model, model_drift = true_model(truth_cfg, alpha)
            oracle = robust_schedule([model], task.total_shares, task.n_steps, drifts=[model_drift])
            policies = {**fixed, "oracle": RobustExecutionPolicy(task, oracle)}
            schedules = {"nominal": fixed["nominal"].path, "robust": fixed["robust"].holdings, "oracle": oracle}
            episodes = compare_policies(policies, make_env, n_episodes, seed)
            summary = summarize(episodes, risk_aversion=truth_cfg.risk_aversion)
            by_policy = {p: g.sort_values("episode")["shortfall_bps"].to_numpy() for p, g in episodes.groupby("policy")}
            diff, diff_low, diff_high = t_interval(by_policy["robust"] - by_policy["nominal"])
            notional = task.notional
            for name in POLICIES:
                s = summary.loc[name]
                mean_usd, var_usd = exact_moments(schedules[name], truth_cfg)
                rows.append({
                    "side": side, "impact x": m_impact, "sigma x": m_sigma, "drift usd/day": drift,
                    "model right": m_impact == 1.0 and m_sigma == 1.0 and drift == 0.0, "policy": name,
                    "shortfall bps": s["shortfall_bps_mean"], "ci low": s["shortfall_bps_ci_low"],
                    "ci high": s["shortfall_bps_ci_high"], "std bps": s["shortfall_bps_std"],
                    "E + λV bps": s["mean_variance_usd"] / notional * 1e4,
                    "robust - nominal bps": diff, "diff ci low": diff_low, "diff ci high": diff_high,
                    "exact shortfall bps": mean_usd / notional * 1e4,
                    "exact E + λV bps": (mean_usd + truth_cfg.risk_aversion * var_usd) / notional * 1e4,
                    "n_episodes": n_episodes,
                })
    table = pd.DataFrame(rows)
    out_dir.mkdir(parents=True, exist_ok=True)
    table.to_csv(out_dir / "robust_execution.csv", index=False)
    for side in cfg.sides:
        (out_dir / f"table_{side}.md").write_text(side_table(table, side).to_markdown(index=False) + "\n")
    (out_dir / "worst_case.md").write_text(worst_case(table).to_markdown(index=False) + "\n")
    return table


def side_table(table: pd.DataFrame, side: str) -> pd.DataFrame:
    """One row per true model: each policy's shortfall (mean ± 95% CI) and E + λV, and the
    paired robust - nominal shortfall difference."""
    t = table[table["side"] == side]
    out = []
    for key, g in t.groupby(["impact x", "sigma x", "drift usd/day"], sort=False):
        g = g.set_index("policy")
        row = dict(zip(["impact x", "sigma x", "drift usd/day"], key))
        for p in POLICIES:
            half = (g.loc[p, "ci high"] - g.loc[p, "ci low"]) / 2.0
            row[f"{p} IS bps"] = f"{g.loc[p, 'shortfall bps']:.2f} ± {half:.2f}"
        d = g.loc["robust"]
        row["robust - nominal IS"] = f"{d['robust - nominal bps']:.2f} ± {(d['diff ci high'] - d['diff ci low']) / 2:.2f}"
        for p in POLICIES:
            row[f"{p} E+λV"] = round(float(g.loc[p, "E + λV bps"]), 2)
        out.append(row)
    return pd.DataFrame(out)


def worst_case(table: pd.DataFrame) -> pd.DataFrame:
    """Per side and policy: the worst (largest) mean shortfall and E + λV over the grid of true
    models, the exact worst E + λV and worst regret (E + λV above the oracle's, exact), and the
    model-right values."""
    out = []
    keys = ["side", "impact x", "sigma x", "drift usd/day"]
    oracle = table[table["policy"] == "oracle"].set_index(keys)["exact E + λV bps"]
    for (side, policy), g in table.groupby(["side", "policy"], sort=False):
        right = g[g["model right"]]
        regret = g.set_index(keys)["exact E + λV bps"] - oracle.reindex(g.set_index(keys).index)
        out.append({"side": side, "policy": policy,
                    "worst IS bps": g["shortfall bps"].max(), "worst E+λV bps": g["E + λV bps"].max(),
                    "exact worst E+λV bps": g["exact E + λV bps"].max(), "exact worst regret bps": regret.max(),
                    "model-right IS bps": right["shortfall bps"].iloc[0] if len(right) else np.nan,
                    "model-right E+λV bps": right["E + λV bps"].iloc[0] if len(right) else np.nan})
    return pd.DataFrame(out).round(2)


@hydra.main(version_base=None, config_path="../conf", config_name="robust_execution")
def main(cfg: DictConfig) -> None:
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    logging.getLogger("execgym.experiments.lib.evaluation").setLevel(logging.WARNING)  # one line per evaluation is too many
    table = run(cfg, out_dir)
    for side in cfg.sides:
        print(f"\n{side} {cfg.env.params.total_shares:,} shares over {cfg.env.params.horizon_days} days, "
              f"{cfg.n_episodes} common-random-number episodes per policy and true model; "
              "implementation shortfall (IS) in bps of arrival notional, mean ± 95% CI; lower is better\n")
        print(side_table(table, side).to_markdown(index=False))
    print("\nworst case over the grid of true models\n")
    print(worst_case(table).to_markdown(index=False))
    print(f"\nfull table: {out_dir / 'robust_execution.csv'}")


if __name__ == "__main__":
    main()
