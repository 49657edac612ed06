"""Kyle's lambda: OLS with Newey-West errors, on synthetic data and simulated markets with known impact."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from execgym.envs.market.analysis.microstructure.frames import mirror_day
from execgym.envs.market.analysis.microstructure.kyle import (
    interval_flow,
    kyle_lambda,
    newey_west_lags,
    ols_hac,
    simulator_lambda,
)
from execgym.envs.market.data.simulated_day import simulate_day

from .conftest import flat_config


def test_ols_matches_scipy_linregress_and_recovers_a_known_slope():
    rng = np.random.default_rng(0)
    x = rng.normal(size=2000)
    y = 0.3 + 0.5 * x + rng.normal(scale=0.7, size=2000)
    res = ols_hac(y, x, lags=0)
    ref = stats.linregress(x, y)
    assert res.params[1] == pytest.approx(ref.slope, rel=1e-10)
    assert res.params[0] == pytest.approx(ref.intercept, rel=1e-10)
    assert res.se_ols[1] == pytest.approx(ref.stderr, rel=1e-10)
    assert res.r2 == pytest.approx(ref.rvalue ** 2, rel=1e-10)
    assert abs(res.params[1] - 0.5) < 4 * res.se_ols[1]
    # homoskedastic iid errors: the robust error agrees with the classical one
    assert res.se_hac[1] == pytest.approx(res.se_ols[1], rel=0.1)


def test_newey_west_errors_match_the_sampling_spread_of_overlapping_regressions():
    # overlapping windows of h periods: flow and errors are MA(h-1); OLS errors understate
    rng = np.random.default_rng(1)
    h, n, lam = 6, 600, 0.2
    slopes, se_ols, se_hac = [], [], []
    for _ in range(300):
        f = rng.normal(size=n + h)
        e = rng.normal(scale=2.0, size=n + h)
        kernel = np.ones(h)
        q = np.convolve(f, kernel, "valid")[:n]
        dp = lam * q + np.convolve(e, kernel, "valid")[:n]
        res = ols_hac(dp, q, lags=2 * (h - 1))
        slopes.append(res.params[1])
        se_ols.append(res.se_ols[1])
        se_hac.append(res.se_hac[1])
    spread = np.std(slopes)
    assert abs(np.mean(slopes) - lam) < 3 * spread / math.sqrt(300)
    assert np.mean(se_hac) == pytest.approx(spread, rel=0.2)
    assert np.mean(se_ols) < 0.75 * spread


def test_ols_refuses_bad_input():
    with pytest.raises(ValueError, match="equal length"):
        ols_hac([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="constant"):
        ols_hac([1.0, 2.0, 3.0], [1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="finite"):
        ols_hac([1.0, np.nan, 3.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="lags must be"):
        ols_hac([1.0, 2.0, 4.0], [1.0, 2.0, 3.0], lags=5)
    assert newey_west_lags(100) == 4


def test_simulator_lambda_limits():
    # long intervals: only the permanent part; short ones: all of kappa
    assert simulator_lambda(1e-3, 2e-4, 0.1, 1e6) == pytest.approx(2e-4, rel=1e-3)
    assert simulator_lambda(1e-3, 2e-4, 0.1, 1e-6) == pytest.approx(1.2e-3, rel=1e-6)
    with pytest.raises(ValueError, match="rho"):
        simulator_lambda(1e-3, 0.0, 0.0, 60.0)


@pytest.fixture(scope="module")
def lambdas():
    out = {}
    for kappa, gamma in ((0.0, 0.0), (0.0, 2e-4), (0.0, 5e-4), (1e-3, 0.0), (1e-3, 2e-4)):
        day = simulate_day(flat_config(transient_ticks_per_share=kappa, permanent_ticks_per_share=gamma),
                           np.random.default_rng(1), 7200.0, levels=1)
        out[kappa, gamma] = kyle_lambda(day, 60.0, step_s=10.0)
    return out


def test_simulated_lambda_rises_with_permanent_and_transient_impact(lambdas):
    def above(a, b):  # a significantly above b
        la, lb = lambdas[a], lambdas[b]
        return la.lambda_ticks_per_share - lb.lambda_ticks_per_share > 2 * math.hypot(la.se_hac, lb.se_hac)

    assert above((0.0, 2e-4), (0.0, 0.0)) and above((0.0, 5e-4), (0.0, 2e-4))
    assert above((1e-3, 0.0), (0.0, 0.0)) and above((1e-3, 2e-4), (1e-3, 0.0))
    for est in lambdas.values():  # overlapping windows: the HAC lag covers the overlap
        assert est.lags == 10  # 60-s windows every 10 s: MA(5) errors, 2 x 5 lags


@pytest.mark.parametrize("kappa, gamma", [(0.0, 2e-4), (0.0, 5e-4), (1e-3, 2e-4)])
def test_simulated_lambda_matches_the_configured_impact(lambdas, kappa, gamma):
    est = lambdas[kappa, gamma].lambda_ticks_per_share
    assert est == pytest.approx(simulator_lambda(kappa, gamma, 0.1, 60.0), rel=0.2)


def test_lambda_is_the_same_for_the_mirrored_day(sim_day):
    a = kyle_lambda(sim_day, 30.0)
    b = kyle_lambda(mirror_day(sim_day), 30.0)
    assert a.lambda_ticks_per_share > 0
    assert b.lambda_ticks_per_share == pytest.approx(a.lambda_ticks_per_share, rel=1e-9)
    flow = interval_flow(sim_day, 30.0)
    flow_m = interval_flow(mirror_day(sim_day), 30.0)
    np.testing.assert_allclose(flow_m["signed_volume_shares"], -flow["signed_volume_shares"])
    np.testing.assert_allclose(flow_m["dmid_ticks"], -flow["dmid_ticks"])


def test_interval_flow_refuses_intervals_longer_than_the_day(sim_day):
    with pytest.raises(ValueError, match="shorter than interval_s"):
        interval_flow(sim_day, 1e6)
    with pytest.raises(ValueError, match="interval_s must be > 0"):
        interval_flow(sim_day, 0.0)


def test_amzn_lambda_is_positive_and_signing_by_lee_ready_agrees_with_the_truth(amzn_day):
    truth = kyle_lambda(amzn_day, 300.0)
    lr = kyle_lambda(amzn_day, 300.0, rule="lee_ready")
    assert truth.lambda_ticks_per_share > 2 * truth.se_hac
    assert lr.lambda_ticks_per_share == pytest.approx(truth.lambda_ticks_per_share, rel=0.25)
