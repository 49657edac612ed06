"""Robust execution: drift ambiguity and worst-case schedules over parameter ranges."""

from __future__ import annotations

import numpy as np
import pytest

from baselines.robust import (
    RobustExecutionPolicy,
    corner_models,
    drift_robust_params,
    expected_objective,
    robust_schedule,
)
from baselines.stochastic_control import CJPParams, closed_form_inventory
from envs.almgren_chriss import AlmgrenChrissEnv
from tests.helpers import run_episode

BASE = CJPParams(k=2.5e-6, b=2.5e-7, alpha=1e-2, phi=9e-7, horizon=5.0)
GRID = np.linspace(0.0, 5.0, 21)


def test_drift_ambiguity_raises_the_running_penalty_and_speeds_up_trading():
    robust = drift_robust_params(BASE, psi=2e-6, sigma=0.95)
    assert robust.phi == pytest.approx(BASE.phi + 0.5 * 2e-6 * 0.95**2)
    assert drift_robust_params(BASE, psi=0.0, sigma=0.95) == BASE
    nominal_path = closed_form_inventory(BASE, 1e6, GRID)
    robust_path = closed_form_inventory(robust, 1e6, GRID)
    assert np.all(robust_path[1:-1] < nominal_path[1:-1])


def test_robust_schedule_has_the_best_worst_case():
    models = corner_models(BASE, k_range=(1e-6, 5e-6), phi_range=(1e-7, 4e-6))
    assert len(models) == 4
    robust = robust_schedule(models, 1e6, 20)
    worst = lambda h: min(expected_objective(h, m) for m in models)  # noqa: E731
    for m in models + [BASE]:
        assert worst(robust) >= worst(closed_form_inventory(m, 1e6, GRID)) - 1e-6 * abs(worst(robust))
    # robustness has a price when the nominal model is right
    assert expected_objective(robust, BASE) <= expected_objective(closed_form_inventory(BASE, 1e6, GRID), BASE) + 1.0
    assert robust[0] == 1e6 and np.all(np.diff(robust) <= 1e-6)


def test_one_model_gives_its_own_optimum():
    schedule = robust_schedule([BASE], 1e6, 40)
    closed = closed_form_inventory(BASE, 1e6, np.linspace(0, 5.0, 41))
    assert expected_objective(schedule, BASE) >= expected_objective(closed, BASE) - 1e-9 * abs(expected_objective(closed, BASE))
    np.testing.assert_allclose(schedule, closed, atol=0.02 * 1e6)  # discrete vs continuous optimum


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_policy_follows_its_schedule_in_the_environment(side):
    env = AlmgrenChrissEnv(side=side, n_steps=20)
    schedule = robust_schedule(corner_models(BASE, k_range=(1e-6, 5e-6)), 1e6, 20)
    _, infos = run_episode(env, RobustExecutionPolicy(env.task, schedule), seed=0)
    holdings = np.array([1e6] + [i["holdings"] for i in infos])
    expected = schedule.copy()
    expected[-1] = 0.0
    np.testing.assert_allclose(holdings, expected, atol=1.0, rtol=1e-5)


def test_bad_inputs():
    with pytest.raises(ValueError, match="k_range"):
        corner_models(BASE, k_range=(5e-6, 1e-6))
    with pytest.raises(ValueError, match="psi"):
        drift_robust_params(BASE, psi=-1.0, sigma=1.0)
    with pytest.raises(ValueError, match="models"):
        robust_schedule([], 1e6, 10)
    with pytest.raises(ValueError, match="holdings"):
        RobustExecutionPolicy(AlmgrenChrissEnv(n_steps=5).task, np.ones(3))


def test_robust_execution_experiment_shows_the_trade_off(capsys):
    from experiments.robust_execution import main

    table = main()
    right = table[(np.isclose(table["k / eta"], 1.0)) & (np.isclose(table["phi / (lambda sigma^2)"], 1.0))].iloc[0]
    assert right["nominal objective bps"] <= right["robust objective bps"]  # right model: nominal is optimal
    assert table["robust objective bps"].max() < table["nominal objective bps"].max()  # better worst case
    assert "worst case over the range" in capsys.readouterr().out
