"""Cartea-Jaimungal-Penalva optimal execution: closed form, numerical HJB, limits, policies."""

from __future__ import annotations

import numpy as np
import pytest

from execgym.baselines import make_baseline
from execgym.baselines.almgren_chriss import ACParams, continuous_holdings
from execgym.baselines.stochastic_control import (
    CJPParams,
    StochasticControlPolicy,
    closed_form_h2,
    closed_form_inventory,
    closed_form_speed,
    solve_hjb,
)
from execgym.envs.almgren_chriss import AlmgrenChrissEnv
from tests.helpers import run_episode

# terminal boundary layers of width ~ k / alpha well inside the horizon, so that the grids
# resolve them (the alpha -> infinity limit is checked on the closed form below)
PARAMS = [
    dict(k=1.25e-5, b=2.5e-7, alpha=2e-5, phi=9e-7, horizon=5.0),
    dict(k=5e-6, b=0.0, alpha=1e-5, phi=4e-6, horizon=2.0),
    dict(k=2e-5, b=1e-6, alpha=4e-5, phi=0.0, horizon=1.0),
]


def dp_path(sol, q0, n_steps):
    q, path = q0, [q0]
    for n in range(n_steps):
        q = float(sol.next_inventory(n, q))
        path.append(q)
    return np.array(path)


@pytest.mark.parametrize("kw", PARAMS)
def test_numerical_hjb_equals_the_closed_form_within_grid_error(kw):
    p = CJPParams(**kw)
    q0 = 1e5
    errors, path_errors = [], []
    for n_steps, n_q, n_controls in ((25, 101, 201), (100, 401, 801)):
        sol = solve_hjb(p, q0, n_steps, n_q, n_controls=n_controls)
        exact_value = closed_form_h2(p, sol.t[0]) * sol.q**2
        errors.append(np.max(np.abs(sol.value[0] - exact_value)) / np.max(np.abs(exact_value)))
        path = dp_path(sol, q0, n_steps)
        path_errors.append(np.max(np.abs(path - closed_form_inventory(p, q0, sol.t))) / q0)
    # discrete time and inventory: the errors shrink as both grids refine
    assert errors[1] < errors[0] and errors[1] < 0.01
    assert path_errors[1] < path_errors[0] and path_errors[1] < 0.01


def test_riccati_solution_satisfies_its_equation_and_terminal_condition():
    p = CJPParams(**PARAMS[0])
    t = np.linspace(0, p.horizon, 20001)
    g = closed_form_h2(p, t) + p.b / 2
    dg = np.gradient(g, t)
    np.testing.assert_allclose(dg[5:-5], (p.phi - g**2 / p.k)[5:-5], rtol=1e-4)
    assert closed_form_h2(p, p.horizon) == pytest.approx(-p.alpha)
    # speed is the inventory path's slope
    q = closed_form_inventory(p, 1e5, t)
    np.testing.assert_allclose(-np.gradient(q, t)[5:-5], closed_form_speed(p, t, q)[5:-5], rtol=1e-4)


def test_limits_reproduce_twap_and_the_almgren_chriss_trajectory():
    t = np.linspace(0, 5.0, 51)
    twap = CJPParams(k=2.5e-6, b=0.0, alpha=1e9, phi=0.0, horizon=5.0)
    np.testing.assert_allclose(closed_form_inventory(twap, 1e6, t), 1e6 * (1 - t / 5.0), atol=1e-2)
    lam, sigma, eta = 1e-6, 0.95, 2.5e-6
    ac = ACParams(1e6, 5.0, 5, sigma, eta, 0.0, 0.0, lam)
    cjp = CJPParams(k=eta, b=0.0, alpha=1e9, phi=lam * sigma**2, horizon=5.0)
    np.testing.assert_allclose(closed_form_inventory(cjp, 1e6, t), continuous_holdings(ac, t), atol=1e-2)


def test_nonlinear_impact_has_a_numerical_solution_that_trades_differently():
    p = CJPParams(**PARAMS[1])
    linear = dp_path(solve_hjb(p, 1e5, 40, 201), 1e5, 40)
    concave = dp_path(solve_hjb(p, 1e5, 40, 201, beta=0.5), 1e5, 40)
    np.testing.assert_allclose(linear, closed_form_inventory(p, 1e5, np.linspace(0, p.horizon, 41)), atol=1e5 / 100)
    assert np.max(np.abs(linear - concave)) > 1e5 / 100  # another impact law, another schedule
    assert np.all(np.diff(concave) <= 1e-9) and np.all(np.diff(linear) <= 1e-9)


@pytest.mark.parametrize("side", ["buy", "sell"])
@pytest.mark.parametrize("numerical", [False, True])
def test_policies_follow_their_optimal_path_in_the_environment(side, numerical):
    env = AlmgrenChrissEnv(side=side, n_steps=20)
    p = CJPParams(k=2.5e-6, b=2.5e-7, alpha=1e-2, phi=1e-6 * 0.95**2, horizon=5.0)
    policy = StochasticControlPolicy(env.task, p, numerical=numerical, n_q=2001)
    _, infos = run_episode(env, policy, seed=0)
    holdings = np.array([1e6] + [i["holdings"] for i in infos])
    if numerical:  # the dynamic program's own discrete-time optimum
        expected, atol = dp_path(policy.solution, 1e6, 20), 1.0
    else:  # the closed form, sampled at the decisions
        expected, atol = closed_form_inventory(p, 1e6, np.arange(21) * 0.25), 1.0
    expected[-1] = 0.0  # the environment completes the order at the last step
    np.testing.assert_allclose(holdings, expected, atol=atol, rtol=1e-6)
    # and the two agree up to time discretisation
    if numerical:
        closed = closed_form_inventory(p, 1e6, np.arange(21) * 0.25)
        assert np.max(np.abs(holdings[:-1] - closed[:-1])) < 0.03 * 1e6


@pytest.mark.parametrize("kw, match", [({"k": 0.0}, "k"), ({"phi": -1.0}, "phi"), ({"alpha": 1e-7, "b": 1e-6}, "alpha"),
                                       ({"horizon": float("nan")}, "horizon")])
def test_invalid_parameters_raise_naming_them(kw, match):
    with pytest.raises(ValueError, match=match):
        CJPParams(**{**PARAMS[0], **kw})
    with pytest.raises(ValueError, match="beta"):
        solve_hjb(CJPParams(**PARAMS[0]), 1e5, 10, beta=-1.0)


def test_registered_baseline_matches_almgren_chriss_when_alpha_is_large():
    from execgym.baselines import make_baseline
    from execgym.baselines.almgren_chriss import ac_holdings

    env = AlmgrenChrissEnv(n_steps=200)
    cjp = make_baseline("stochastic_control", env.task, alpha=1e3)
    ac = make_baseline("almgren_chriss", env.task)
    # the continuous-time CJP path vs the discrete AC closed form: close on a fine grid
    np.testing.assert_allclose(cjp.path, ac_holdings(ac.params), atol=0.01 * 1e6)


def test_terminal_penalty_at_the_fixed_point_gives_exponential_liquidation():
    k, phi, b = 1e-5, 4e-6, 2e-7
    p = CJPParams(k=k, b=b, alpha=b / 2 + np.sqrt(k * phi), phi=phi, horizon=3.0)
    assert p.zeta == np.inf
    t = np.linspace(0, 3.0, 31)
    np.testing.assert_allclose(closed_form_inventory(p, 1e5, t), 1e5 * np.exp(-p.gamma * t))
    # and it is the limit of nearby penalties
    near = CJPParams(k=k, b=b, alpha=p.alpha * (1 + 1e-9), phi=phi, horizon=3.0)
    np.testing.assert_allclose(closed_form_inventory(near, 1e5, t), closed_form_inventory(p, 1e5, t), rtol=1e-5)
    sol = solve_hjb(p, 1e5, 100, 401)
    assert np.max(np.abs(dp_path(sol, 1e5, 100) - closed_form_inventory(p, 1e5, sol.t))) < 0.01 * 1e5


def test_registered_non_linear_policy_matches_the_linear_cost_at_twap_speed():
    task = AlmgrenChrissEnv(n_steps=10).task
    policy = make_baseline("stochastic_control", task, beta=0.5)
    speed = task.total_shares / task.horizon  # shares/day
    assert policy.numerical and policy.params.k * speed**1.5 == pytest.approx(2.5e-6 * speed**2)
    assert make_baseline("stochastic_control", task, beta=0.5, k=1e-3).params.k == 1e-3
    assert make_baseline("stochastic_control", task).params.k == 2.5e-6
