"""The Almgren-Chriss closed form against the paper's definitions and a numerical optimum."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import minimize

from execgym.baselines.almgren_chriss import (
    ACParams,
    ac_expected_cost,
    ac_half_life,
    ac_holdings,
    ac_kappa,
    ac_trades,
    ac_variance,
    continuous_expected_cost,
    continuous_holdings,
    continuous_kappa,
    continuous_variance,
    efficient_frontier,
    trade_list_expected_cost,
    trade_list_variance,
)

# the paper's example (section 3) and variations: short/long horizons, strong risk aversion
PAPER = dict(total_shares=1e6, horizon=5.0, n_steps=5, sigma=0.95, eta=2.5e-6, gamma=2.5e-7,
             epsilon=0.0625, risk_aversion=1e-6)
PARAM_SETS = [
    PAPER,
    {**PAPER, "n_steps": 20, "risk_aversion": 2e-6},
    {**PAPER, "n_steps": 12, "risk_aversion": 1e-7, "gamma": 0.0},
    dict(total_shares=5e4, horizon=1.0, n_steps=16, sigma=0.3, eta=1e-5, gamma=1e-6,
         epsilon=0.01, risk_aversion=3e-4),
    {**PAPER, "n_steps": 8, "risk_aversion": 0.0},
]


def _objective_in_fractions(p: ACParams):
    """E + lambda V of the first N-1 trades (as fractions of X), with n_N = X - sum."""
    big_x = p.total_shares

    def f(u: np.ndarray) -> float:
        n = np.append(u, 1.0 - u.sum()) * big_x
        x = big_x - np.concatenate([[0.0], np.cumsum(n)])
        e = trade_list_expected_cost(n, p)
        v = trade_list_variance(x, p)
        return (e + p.risk_aversion * v) / (big_x * 50.0)

    return f


@pytest.mark.parametrize("kw", PARAM_SETS)
def test_closed_form_holdings_equal_numerical_minimum_of_e_plus_lambda_v(kw):
    p = ACParams(**kw)
    n = p.n_steps
    u0 = np.full(n - 1, 1.0 / n)  # start from TWAP
    res = minimize(_objective_in_fractions(p), u0, method="BFGS", options={"gtol": 1e-12, "maxiter": 10_000})
    numeric = np.append(res.x, 1.0 - res.x.sum()) * p.total_shares
    np.testing.assert_allclose(ac_trades(p), numeric, rtol=0, atol=1e-4 * p.total_shares)
    # and the closed form is at least as good as what the optimiser found
    f = _objective_in_fractions(p)
    assert f(ac_trades(p)[:-1] / p.total_shares) <= res.fun + 1e-12


@pytest.mark.parametrize("kw", PARAM_SETS)
def test_closed_form_e_and_v_equal_the_papers_definitions_on_the_optimal_trajectory(kw):
    p = ACParams(**kw)
    x, n = ac_holdings(p), ac_trades(p)
    assert x[0] == p.total_shares and x[-1] == 0.0
    np.testing.assert_allclose(-np.diff(x), n, rtol=1e-10, atol=1e-6)
    assert math.isclose(n.sum(), p.total_shares, rel_tol=1e-12)
    assert math.isclose(ac_expected_cost(p), trade_list_expected_cost(n, p), rel_tol=1e-10)
    assert math.isclose(ac_variance(p), trade_list_variance(x, p), rel_tol=1e-9)


@pytest.mark.parametrize("kw", PARAM_SETS)
def test_kappa_solves_the_papers_discrete_equation(kw):
    p = ACParams(**kw)
    kappa, tau = ac_kappa(p), p.tau
    lhs = 2.0 * (math.cosh(kappa * tau) - 1.0) / tau**2
    assert math.isclose(lhs, p.risk_aversion * p.sigma**2 / p.eta_tilde, rel_tol=1e-10, abs_tol=1e-300)


def test_paper_example_values():
    # eta_tilde = 2.5e-6 - 0.5 * 2.5e-7 * 1 day; kappa_tilde^2 = 1e-6 * 0.95^2 / eta_tilde
    p = ACParams(**PAPER)
    assert math.isclose(p.eta_tilde, 2.375e-6)
    kt2 = 1e-6 * 0.95**2 / 2.375e-6
    assert math.isclose(p.kappa_tilde_sq, kt2)
    assert math.isclose(ac_kappa(p), math.acosh(1 + kt2 / 2), rel_tol=1e-12)
    assert math.isclose(ac_half_life(p), 1.0 / ac_kappa(p))


def test_ac_holdings_equal_twap_when_risk_aversion_is_zero():
    p = ACParams(**{**PAPER, "risk_aversion": 0.0, "n_steps": 10})
    np.testing.assert_allclose(ac_holdings(p), np.linspace(1e6, 0.0, 11), rtol=1e-14)
    np.testing.assert_allclose(ac_trades(p), np.full(10, 1e5), rtol=1e-14)
    assert ac_half_life(p) == math.inf
    # E of TWAP: gamma X^2/2 + epsilon X + eta_tilde X^2 / T
    expected = 0.5 * p.gamma * 1e12 + p.epsilon * 1e6 + p.eta_tilde * 1e12 / p.horizon
    assert math.isclose(ac_expected_cost(p), expected, rel_tol=1e-12)


def test_tiny_risk_aversion_is_continuous_with_twap():
    base = {**PAPER, "n_steps": 10}
    twap = ACParams(**{**base, "risk_aversion": 0.0})
    tiny = ACParams(**{**base, "risk_aversion": 1e-20})
    np.testing.assert_allclose(ac_holdings(tiny), ac_holdings(twap), rtol=1e-9)
    assert math.isclose(ac_variance(tiny), ac_variance(twap), rel_tol=1e-9)
    assert math.isclose(ac_expected_cost(tiny), ac_expected_cost(twap), rel_tol=1e-9)


def test_huge_kappa_does_not_overflow():
    p = ACParams(**{**PAPER, "n_steps": 1000, "risk_aversion": 1.0})
    x = ac_holdings(p)
    assert np.all(np.isfinite(x)) and np.all(np.diff(x) <= 0)
    assert math.isfinite(ac_expected_cost(p)) and math.isfinite(ac_variance(p))
    assert math.isclose(ac_variance(p), trade_list_variance(x, p), rel_tol=1e-8)
    assert math.isclose(ac_expected_cost(p), trade_list_expected_cost(ac_trades(p), p), rel_tol=1e-8)


def test_more_risk_aversion_trades_faster_and_moves_along_the_frontier():
    p = ACParams(**{**PAPER, "n_steps": 25})
    lams = np.array([0.0, 1e-7, 1e-6, 1e-5, 1e-4])
    frontier = efficient_frontier(p, lams)
    assert list(frontier["risk_aversion"]) == list(lams)
    assert np.all(np.diff(frontier["variance"]) < 0)  # less risk ...
    assert np.all(np.diff(frontier["expected_cost"]) > 0)  # ... for more expected cost
    holdings = [ac_holdings(p.with_risk_aversion(lam)) for lam in lams]
    for slow, fast in zip(holdings, holdings[1:]):
        assert np.all(fast[1:-1] < slow[1:-1])
    # each point is the minimum of its own objective among the frontier's strategies
    for i, lam in enumerate(lams):
        objectives = frontier["expected_cost"] + lam * frontier["variance"]
        assert objectives.idxmin() == i


@pytest.mark.parametrize("lam", [0.0, 1e-7, 1e-6, 2e-5])
def test_discrete_solution_converges_to_the_continuous_time_limit(lam):
    base = {**PAPER, "risk_aversion": lam}
    coarse = ACParams(**{**base, "n_steps": 100})
    fine = ACParams(**{**base, "n_steps": 20_000})
    t = np.linspace(0.0, fine.horizon, fine.n_steps + 1)
    cont = continuous_holdings(fine, t)
    err_fine = np.max(np.abs(ac_holdings(fine) - cont))
    err_coarse = np.max(np.abs(ac_holdings(coarse) - continuous_holdings(coarse, t[::200])))
    assert err_fine < 1e-3 * fine.total_shares
    assert err_fine <= err_coarse + 1e-9
    assert math.isclose(ac_kappa(fine), continuous_kappa(fine), rel_tol=1e-3, abs_tol=1e-12)
    # eta_tilde -> eta as tau -> 0, so E and V reach the continuous-time values
    assert math.isclose(ac_expected_cost(fine), continuous_expected_cost(fine), rel_tol=1e-3)
    assert math.isclose(ac_variance(fine), continuous_variance(fine), rel_tol=1e-3)


def test_continuous_variance_series_branch_matches_closed_form_at_the_switch():
    p = ACParams(**PAPER)
    # kappa*T just below and above 1e-2 on either side of the series switch
    lo = p.with_risk_aversion((0.0099 / p.horizon) ** 2 * p.eta / p.sigma**2)
    hi = p.with_risk_aversion((0.0101 / p.horizon) ** 2 * p.eta / p.sigma**2)
    assert math.isclose(continuous_variance(lo), continuous_variance(hi), rel_tol=1e-4)
    zero = p.with_risk_aversion(0.0)
    assert math.isclose(continuous_variance(zero), p.sigma**2 * p.total_shares**2 * p.horizon / 3)


@pytest.mark.parametrize(
    "field, value",
    [
        ("total_shares", 0.0), ("total_shares", -5.0), ("total_shares", float("nan")),
        ("horizon", 0.0), ("horizon", float("inf")), ("n_steps", 0), ("sigma", 0.0),
        ("sigma", -0.1), ("sigma", float("nan")), ("eta", 0.0), ("gamma", -1e-9),
        ("epsilon", -0.01), ("risk_aversion", -1e-6), ("risk_aversion", float("nan")),
    ],
)
def test_invalid_parameters_raise_value_error_naming_them(field, value):
    with pytest.raises(ValueError, match=field):
        ACParams(**{**PAPER, field: value})


def test_non_integer_steps_raise_type_error():
    with pytest.raises(TypeError, match="n_steps"):
        ACParams(**{**PAPER, "n_steps": 5.5})


def test_non_positive_eta_tilde_raises_naming_it():
    # eta - gamma*tau/2 <= 0 with one-day steps
    with pytest.raises(ValueError, match="eta_tilde"):
        ACParams(**{**PAPER, "gamma": 5e-6})


def test_trade_lists_that_do_not_complete_the_order_are_rejected():
    p = ACParams(**PAPER)
    with pytest.raises(ValueError, match="sum to total_shares"):
        trade_list_expected_cost(np.full(5, 1e5), p)
