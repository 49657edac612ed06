"""A depth profile per side (FlowConfig's ``depth_sell_shares``): each side's book follows its
own profile, buy and sell mirror each other, the calibration recovers both, and the
environments step such a market alike."""

from __future__ import annotations

import numpy as np
import pytest

from execgym.envs.market.analysis.calibration.flow import calibrate_flow
from execgym.envs.market.data.simulated_day import simulate_day
from execgym.envs.market.simulation.flow import P_LAM_TOTAL, P_P_BUY, FlowConfig, ImpactConfig, flow_params
from execgym.envs.market.simulation.simulator import SimulatorConfig
from tests.helpers import assert_vector_env_steps_as_single_envs

DEEP = (1000.0, 1500.0, 2000.0, 2500.0, 3000.0)
THIN = (500.0, 500.0, 1000.0, 1000.0, 1000.0)


def _day(bid, ask, seed=0):
    cfg = SimulatorConfig(flow=FlowConfig(anchor="opposite_best", intraday=None, depth_shares=bid,
                                          depth_sell_shares=ask), warmup_s=300.0)
    return simulate_day(cfg, np.random.default_rng(seed), 1800.0, dt_s=60.0, levels=5, open_time_s=0.0)


@pytest.fixture(scope="module")
def deep_bid():
    return _day(DEEP, THIN)


def _mean_depth(day):
    ob = day.orderbook
    return ob[:, 3::4].sum(axis=1).mean(), ob[:, 1::4].sum(axis=1).mean()  # bid, ask shares over 5 levels


def test_each_side_follows_its_profile_and_the_sides_mirror(deep_bid):
    bid, ask = _mean_depth(deep_bid)
    assert bid > 2.0 * ask  # configured 10,000 vs 4,000 shares over five ticks
    bid_m, ask_m = _mean_depth(_day(THIN, DEEP, seed=1))  # the mirror image: the ask side deep
    assert ask_m == pytest.approx(bid, rel=0.15) and bid_m == pytest.approx(ask, rel=0.15)


def test_calibration_recovers_each_side_and_writes_it(deep_bid):
    cal = calibrate_flow(deep_bid, 5, sides="separate")
    np.testing.assert_allclose(cal.flow.depth_shares, DEEP, rtol=0.15)
    np.testing.assert_allclose(cal.flow.depth_sell_shares, THIN, rtol=0.15)
    pooled = calibrate_flow(deep_bid, 5)
    assert pooled.flow.depth_sell_shares == ()
    np.testing.assert_allclose(pooled.flow.depth_shares, 0.5 * (np.array(DEEP) + THIN), rtol=0.15)
    cfg = SimulatorConfig.from_mapping(cal.market_config(0.01, 10_000.5, 300.0))
    np.testing.assert_allclose(cfg.flow.depth_sell_shares, cal.flow.depth_sell_shares, rtol=1e-3)
    with pytest.raises(ValueError, match="sides"):
        calibrate_flow(deep_bid, 5, sides="both")


def test_a_flow_without_limit_orders_splits_nothing():
    """No depth on either side: no limit order arrives, and the buy share is a plain 0.5 (no 0/0)."""
    fp, cum_w, _ = flow_params(FlowConfig(depth_shares=(0.0, 0.0)), ImpactConfig(), 1)
    assert fp[P_P_BUY] == 0.5 and fp[P_LAM_TOTAL] == 0.0 and cum_w.shape == (4, 2)


@pytest.mark.parametrize("bad, match", [
    ({"depth_sell_shares": (1.0, 2.0)}, "length of depth_shares"),
    ({"depth_sell_shares": (1.0,) * 9 + (-1.0,)}, r"depth_sell_shares\[9\]"),
])
def test_bad_sell_depth_is_refused(bad, match):
    with pytest.raises(ValueError, match=match):
        FlowConfig(**bad)


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_the_vector_env_steps_a_two_sided_market_as_the_single_env(side):
    kw = dict(horizon_s=60.0, decision_interval_s=10.0, total_shares=5_000, side=side, action="participation",
              market={"flow": {"depth_shares": list(DEEP), "depth_sell_shares": list(THIN)}})
    assert_vector_env_steps_as_single_envs(kw, seed=8)
