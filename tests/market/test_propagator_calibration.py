"""Fitting the power-law propagator: the estimator recovers a known kernel from synthetic
flow, and the calibration's time scale gives the square-root law it was asked for."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.signal import fftconvolve

from execgym.envs.market.analysis.calibration import propagator as P
from execgym.envs.market.data.lobster_data import load_lobster, sample_lobster_dir
from execgym.envs.market.simulation.propagator import metaorder_response


def _synthetic(g0, beta, t0, g_inf, n=40_000, noise=0.3, seed=0):
    rng = np.random.default_rng(seed)
    s = rng.choice([-1.0, 1.0], n) * rng.exponential(50.0, n) * (rng.random(n) < 0.3)
    lags = np.arange(0, 1201, dtype=float)
    dm = fftconvolve(s, P._increments(np.array([g0, beta, math.log(t0), g_inf]), lags))[:n]
    return dm + noise * rng.standard_normal(n), s, lags


@pytest.mark.parametrize("beta", [0.3, 0.6])
def test_the_estimator_recovers_a_known_kernel(beta):
    g0, t0, g_inf = 0.02, 20.0, 0.002
    dm, s, lags = _synthetic(g0, beta, t0, g_inf)
    start = np.array([0.01, 0.5, math.log(1.0), 0.0])
    free = P._fit(dm, s, lags, np.ones_like(dm), start, None)
    assert free[0] == pytest.approx(g0, rel=0.05)
    assert free[1] == pytest.approx(beta, abs=0.05)
    assert math.exp(free[2]) == pytest.approx(t0, rel=0.25)
    fixed = P._fit(dm, s, lags, np.ones_like(dm), start, beta)
    assert fixed[1] == beta and fixed[0] == pytest.approx(g0, rel=0.05)


@pytest.fixture(scope="module")
def goog():
    d = sample_lobster_dir()
    return load_lobster(d / "GOOG_2012-06-21_34200000_57600000_message_10.csv.xz",
                        d / "GOOG_2012-06-21_34200000_57600000_orderbook_10.csv.xz")


@pytest.mark.parametrize("y, p", [(0.5, 0.1), (1.0, 0.05)])
def test_calibrated_time_scale_gives_the_requested_square_root_law(goog, y, p):
    c = P.calibrate_propagator(goog, square_root_y=y, participation=p)
    assert c["propagator_exponent"] == 0.5 and c["propagator_ticks_per_share"] > 0
    rate = p * c["volume_shares_per_s"]
    checks = [(1800.0, 1e-6)]  # exact at the reference duration
    if c["propagator_time_s"] < 1800.0 / 20:  # and near it at other durations >> t0
        checks += [(7200.0, 0.1), (450.0, 0.25)]
    for t, rel in checks:
        q = rate * t
        impact = c["propagator_ticks_per_share"] * rate * metaorder_response(0.5, c["propagator_time_s"], t, t)
        law = y * c["sigma_ticks_per_sqrt_s"] * math.sqrt(q / c["volume_shares_per_s"])
        assert impact == pytest.approx(law, rel=rel)


def test_fit_on_a_real_day_reports_intervals(goog):
    fit = P.fit_propagator(goog, bin_s=5.0, max_lag_s=600.0, n_boot=5)
    lo, hi = fit.t0_ci95
    assert lo <= hi and fit.beta == 0.5 and fit.g0_ticks_per_share > 0 and 0 < fit.r2 < 1
    assert set(fit.impact_config()) == {"propagator_ticks_per_share", "propagator_exponent", "propagator_time_s",
                                        "permanent_ticks_per_share"}


@pytest.mark.parametrize("kwargs, match", [({"square_root_y": 0.0}, "square_root_y"),
                                           ({"participation": 1.5}, "participation"),
                                           ({"beta": 1.0}, "beta")])
def test_calibration_rejects_bad_arguments(goog, kwargs, match):
    with pytest.raises(ValueError, match=match):
        P.calibrate_propagator(goog, **kwargs)


def test_other_exponents_and_no_bootstrap(goog):
    c = P.calibrate_propagator(goog, beta=0.4)
    rate = 0.1 * c["volume_shares_per_s"]
    impact = c["propagator_ticks_per_share"] * rate * metaorder_response(0.4, c["propagator_time_s"], 1800.0, 1800.0)
    law = 0.5 * c["sigma_ticks_per_sqrt_s"] * math.sqrt(rate * 1800.0 / c["volume_shares_per_s"])
    assert impact == pytest.approx(law, rel=1e-6)
    fit = P.fit_propagator(goog, bin_s=10.0, max_lag_s=300.0, n_boot=0)
    assert all(math.isnan(x) for x in fit.t0_ci95) and fit.t0_s > 0
