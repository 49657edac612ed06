"""Long memory of trade signs (FlowConfig's ``sign_run_*``, after Lillo, Mike and Farmer 2005):
runs of market orders of one sign with Pareto lengths make the sign autocorrelation decay as
a power law, buys and sells stay balanced, and the fit recovers the mechanism."""

from __future__ import annotations

import numpy as np
import pytest

from execgym.envs.market.analysis.acf import autocorrelation
from execgym.envs.market.analysis.calibration.flow import (
    _run_signs,
    calibrate_flow,
    fit_sign_runs,
    marketable_orders,
    sign_run_acf,
)
from execgym.envs.market.data.simulated_day import simulate_day
from execgym.envs.market.simulation.flow import FlowConfig
from execgym.envs.market.simulation.simulator import SimulatorConfig

DURATION_S = 3600.0


def _day(**flow):
    cfg = SimulatorConfig(flow=FlowConfig(anchor="opposite_best", intraday=None, depth_shares=(1500.0,) * 5,
                                          market_rate_per_s=1.0, **flow), warmup_s=300.0)
    return simulate_day(cfg, np.random.default_rng(0), DURATION_S, dt_s=60.0, levels=5, open_time_s=0.0)


def _signs(day):
    return marketable_orders(day.messages, day.start_s, day.end_s)["sign"].to_numpy()


def test_runs_of_signs_give_a_power_law_autocorrelation():
    alpha = 1.5
    acf = sign_run_acf(1.0, alpha, 200, n=1_000_000)
    lags = np.arange(10, 201)
    slope = np.polyfit(np.log(lags), np.log(acf[9:]), 1)[0]
    assert slope == pytest.approx(1.0 - alpha, abs=0.15)  # C(l) ~ l^(1 - alpha): long memory
    assert (sign_run_acf(0.5, alpha, 50) < acf[:50]).all()  # fewer followers, weaker memory
    # kept by its arguments (the fit evaluates one grid for every day): the same numbers, a copy
    kept = sign_run_acf(1.0, alpha, 200, n=1_000_000)
    np.testing.assert_array_equal(kept, acf)
    kept[:] = 0.0
    np.testing.assert_array_equal(sign_run_acf(1.0, alpha, 200, n=1_000_000), acf)
    with pytest.raises(ValueError, match="max_lag"):
        sign_run_acf(1.0, alpha, 0)


def test_the_simulated_market_has_the_memory_and_balanced_sides():
    plain, runs = _signs(_day()), _signs(_day(sign_run_share=0.8, sign_run_exponent=1.5))
    assert len(runs) > 3000
    # as many buys as sells (runs' heavy tails make the sample mean of the runs' signs noisier)
    assert abs(plain.mean()) < 0.1 and abs(runs.mean()) < 0.2
    far_plain, far_runs = autocorrelation(plain, 50)[9:].mean(), autocorrelation(runs, 50)[9:].mean()
    assert abs(far_plain) < 0.03 and far_runs > 0.04  # lags 10-50


def test_the_fit_recovers_the_mechanism_and_the_calibration_writes_it():
    fit = fit_sign_runs(_run_signs(300_000, 0.6, 1.5, 3))
    assert fit["sign_run_share"] == pytest.approx(0.6, abs=0.1)
    assert fit["sign_run_exponent"] == pytest.approx(1.5, abs=0.21)
    day = _day(sign_run_share=0.8, sign_run_exponent=1.5)
    cal = calibrate_flow(day, 5, sign_memory=True)
    assert cal.flow.sign_run_share > 0.5
    mapping = cal.market_config(0.01, 10_000.5, 300.0)
    cfg = SimulatorConfig.from_mapping(mapping)
    assert (cfg.flow.sign_run_share, cfg.flow.sign_run_exponent) == (cal.flow.sign_run_share,
                                                                      cal.flow.sign_run_exponent)
    assert calibrate_flow(day, 5).flow.sign_run_share == 0.0  # off unless asked
    with pytest.raises(ValueError, match="min_lag must be <= max_lag"):
        fit_sign_runs(_run_signs(1000, 0.5, 1.5, 0), max_lag=10, min_lag=20)


@pytest.mark.parametrize("bad, match", [
    ({"sign_run_share": 1.5}, "sign_run_share"),
    ({"sign_run_share": 0.5, "sign_run_exponent": 1.0}, r"sign_run_exponent must be in \(1, 2\]"),
    ({"sign_run_exponent": 2.5}, "sign_run_exponent"),
])
def test_bad_sign_memory_is_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        FlowConfig(**bad)
