"""Robust execution: drift ambiguity and worst-case schedules over parameter ranges."""

from __future__ import annotations

import numpy as np
import pytest

from execgym.baselines import make_baseline
from execgym.baselines.robust import (
    RobustExecutionPolicy,
    ambiguity_models,
    corner_models,
    drift_robust_params,
    expected_objective,
    robust_schedule,
)
from execgym.baselines.stochastic_control import CJPParams, closed_form_inventory
from execgym.envs.almgren_chriss import AlmgrenChrissEnv
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


def test_drift_enters_the_objective_through_the_holdings_after_each_trade():
    h = closed_form_inventory(BASE, 1e6, GRID)
    dt = 5.0 / 20
    assert expected_objective(h, BASE, drift=0.1) - expected_objective(h, BASE) == pytest.approx(0.1 * dt * h[1:].sum())
    with pytest.raises(ValueError, match="drift"):
        expected_objective(h, BASE, drift=float("nan"))


def test_the_optimum_under_a_drift_trades_slower_when_it_helps_and_faster_when_it_hurts():
    flat = robust_schedule([BASE], 1e6, 20)
    helped = robust_schedule([BASE], 1e6, 20, drifts=[0.1])
    hurt = robust_schedule([BASE], 1e6, 20, drifts=[-0.1])
    assert np.all(helped[1:-1] > flat[1:-1]) and np.all(hurt[1:-1] < flat[1:-1])
    for schedule, drift in ((helped, 0.1), (hurt, -0.1)):  # and each is the best of the three for its model
        assert expected_objective(schedule, BASE, drift) >= max(expected_objective(h, BASE, drift) for h in (flat, helped, hurt)) - 1e-6
    with pytest.raises(ValueError, match="drifts"):
        robust_schedule([BASE], 1e6, 20, drifts=[0.1, 0.2])


def test_ambiguity_models_are_the_corners_with_the_drift_averse_penalty():
    lam, sigma, psi = 1e-6, 0.95, 2e-7
    models = ambiguity_models(2.5e-6, 2.5e-7, sigma, lam, 5.0, impact_range=(0.5, 2.0), sigma_range=(1.0, 3.0), psi=psi)
    assert len(models) == 4
    assert {(m.k, m.b) for m in models} == {(1.25e-6, 1.25e-7), (5e-6, 5e-7)}
    assert sorted({m.phi for m in models}) == pytest.approx([(lam + psi / 2) * s**2 for s in (sigma, 3 * sigma)])
    assert len(ambiguity_models(2.5e-6, 2.5e-7, sigma, lam, 5.0)) == 1  # no ambiguity: the nominal model
    for kwargs, match in (({"impact_range": (2.0, 1.0)}, "impact_range"), ({"sigma_range": (0.0, 1.0)}, "sigma_range"),
                          ({"sigma_range": (1.0,)}, "sigma_range"), ({"psi": -1.0}, "psi")):
        with pytest.raises(ValueError, match=match):
            ambiguity_models(2.5e-6, 2.5e-7, sigma, lam, 5.0, **kwargs)


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_registered_robust_baseline_has_a_better_worst_case_than_the_nominal_optimum(side):
    env = AlmgrenChrissEnv(side=side, n_steps=20)
    ranges = {"impact_range": (0.5, 2.0), "sigma_range": (0.5, 2.0), "psi": 2e-7}
    robust = make_baseline("robust", env.task, **ranges)
    nominal = make_baseline("stochastic_control", env.task)
    models = ambiguity_models(2.5e-6, 2.5e-7, 0.95, 1e-6, 5.0, **ranges)
    worst = lambda h: min(expected_objective(h, m) for m in models)  # noqa: E731
    assert worst(robust.holdings) >= worst(nominal.path) - 1e-9 * abs(worst(nominal.path))
    assert worst(robust.holdings) > worst(nominal.path)  # strictly: the nominal model is not the worst case
    np.testing.assert_allclose(robust.holdings, robust_schedule(models, 1e6, 20))
    with pytest.raises(ValueError, match="sigma"):
        make_baseline("robust", AlmgrenChrissEnv(n_steps=5).task, sigma_range=(2.0, 1.0))
    with pytest.raises(TypeError, match="sigma_rnage"):
        make_baseline("robust", AlmgrenChrissEnv(n_steps=5).task, sigma_rnage=(1.0, 2.0))
