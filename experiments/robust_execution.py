"""Robust vs non-robust execution when the model is right and when it is misspecified.

    python -m experiments.robust_execution

The nominal model is the Almgren-Chriss environment's (k = eta, b = gamma, phi = lambda
sigma^2, T = 5 days, X = 1M shares, N = 20); the truth may lie anywhere in
``k in [0.4, 2] x eta`` and ``phi in [0.1, 4] x lambda sigma^2``. For each true model on a grid
over that range, the script prints the expected implementation shortfall (bps of arrival
notional) and the expected objective (with its inventory penalty) of:
the nominal optimum (Cartea-Jaimungal-Penalva closed form for the nominal model; the
row 1, 1 is "the model is right"), the
robust max-min schedule over the range's corners, and the oracle (the optimum for the
true model). Expected values are exact for these deterministic schedules.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from baselines.robust import corner_models, expected_objective, robust_schedule
from baselines.stochastic_control import CJPParams, closed_form_inventory
from envs.almgren_chriss import AlmgrenChrissConfig


def shortfall_bps(holdings: np.ndarray, model: CJPParams, notional: float) -> float:
    """Expected shortfall (bps): the objective without the running inventory penalty."""
    no_risk = CJPParams(model.k, model.b, model.alpha, 0.0, model.horizon)
    return -expected_objective(holdings, no_risk) / notional * 1e4


def main() -> pd.DataFrame:
    cfg = AlmgrenChrissConfig()
    n, x = 20, cfg.total_shares
    notional = x * cfg.arrival_price_usd
    nominal = CJPParams(k=cfg.eta, b=cfg.gamma, alpha=1e-2, phi=cfg.risk_aversion * cfg.sigma**2,
                        horizon=cfg.horizon_days)
    k_range, phi_range = (0.4 * nominal.k, 2.0 * nominal.k), (0.1 * nominal.phi, 4.0 * nominal.phi)
    grid = np.linspace(0.0, nominal.horizon, n + 1)
    nominal_path = closed_form_inventory(nominal, x, grid)
    robust_path = robust_schedule(corner_models(nominal, k_range=k_range, phi_range=phi_range), x, n)
    rows = []
    # the nominal model itself (1, 1) and the corners of the range
    for k in (k_range[0], nominal.k, k_range[1]):
        for phi in (phi_range[0], nominal.phi, phi_range[1]):
            truth = CJPParams(k=float(k), b=nominal.b, alpha=nominal.alpha, phi=float(phi), horizon=nominal.horizon)
            oracle = closed_form_inventory(truth, x, grid)
            row = {"k / eta": k / nominal.k, "phi / (lambda sigma^2)": phi / nominal.phi}
            for name, path in (("nominal", nominal_path), ("robust", robust_path), ("oracle", oracle)):
                row[f"{name} shortfall bps"] = shortfall_bps(path, truth, notional)
                row[f"{name} objective bps"] = -expected_objective(path, truth) / notional * 1e4
            rows.append(row)
    table = pd.DataFrame(rows)
    print("\nExpected shortfall and objective (bps of notional; lower is better) by true model\n")
    print(table.to_markdown(index=False, floatfmt=".2f"))
    worst = table[["nominal objective bps", "robust objective bps"]].max()
    print(f"\nworst case over the range: nominal {worst['nominal objective bps']:.2f} bps, "
          f"robust {worst['robust objective bps']:.2f} bps")
    return table


if __name__ == "__main__":
    main()
