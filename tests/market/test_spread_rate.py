"""Market orders that wait for a tight spread: the market orders' intensity multiplied by a
factor of the spread's bucket. Its thinning gives the configured rates (a constant factor is
a faster market), the fit finds the factors again from a simulated day, the calibration
writes them, the refinement keeps the day's count of market orders, and without the
mechanism the stream is unchanged."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from execgym.envs.market.analysis.calibration.flow import calibrate_flow, marketable_orders
from execgym.envs.market.analysis.calibration.refine import refine_depth
from execgym.envs.market.analysis.calibration.spread_rate import fit_spread_rate, spread_buckets
from execgym.envs.market.data.lobster_data import load_lobster, sample_lobster_dir
from execgym.envs.market.data.simulated_day import simulate_day
from execgym.envs.market.simulation.flow import FlowConfig
from execgym.envs.market.simulation.simulator import SimulatorConfig

DEPTH = (0.0, 0.0, 300.0, 600.0, 900.0, 1200.0, 1200.0, 1200.0, 1200.0, 1200.0)


def _market(ticks=(), factor=(), rate=0.5):
    flow = FlowConfig(market_rate_per_s=rate, resilience_per_s=0.2, intraday=None, anchor="opposite_best",
                      mean_limit_size_shares=100.0, mean_market_size_shares=100.0, depth_shares=DEPTH,
                      market_spread_ticks=ticks, market_spread_factor=factor)
    return SimulatorConfig(flow=flow, warmup_s=300.0)


def _day(market, seconds=3_600.0, seed=0):
    return simulate_day(market, np.random.default_rng(seed), seconds, dt_s=60.0)


def _orders(day):
    return marketable_orders(day.messages, day.start_s, day.end_s)


def test_a_factor_of_one_leaves_the_stream_unchanged():
    a = _day(_market(), 900.0, seed=3).messages
    b = _day(_market((1.0, 4.0), (1.0, 1.0)), 900.0, seed=3).messages
    assert a.equals(b)


def test_a_constant_factor_is_a_proportionally_faster_market_order_flow():
    # thinning against the bound mu * max factor: a factor 3 everywhere = three times mu
    n = [len(_orders(_day(_market((1.0,), (3.0,)), 1_200.0, seed=s))) for s in range(2)]
    m = [len(_orders(_day(_market(rate=1.5), 1_200.0, seed=s))) for s in range(2)]
    base = [len(_orders(_day(_market(), 1_200.0, seed=s))) for s in range(2)]
    assert abs(np.mean(n) - np.mean(m)) < 4.0 * np.sqrt(np.mean(m) / 2.0)
    assert np.mean(n) > 2.3 * np.mean(base)


def test_the_fit_finds_the_factors_of_a_simulated_day():
    ticks = (1.0, 4.0)
    day = _day(_market(ticks, (3.0, 0.5)), 3_600.0, seed=1)
    table = fit_spread_rate(day, _orders(day)["time_s"].to_numpy(), ticks)
    assert list(table.index) == [1.0, 4.0] and table["time_share"].sum() == pytest.approx(1.0)
    ratio = table["factor"].iloc[0] / table["factor"].iloc[1]
    assert 4.0 < ratio < 9.0  # configured: 6
    flat = _day(_market(), 3_600.0, seed=1)
    flat_table = fit_spread_rate(flat, _orders(flat)["time_s"].to_numpy(), ticks)
    assert table["factor"].iloc[0] > 1.4 * flat_table["factor"].iloc[0]
    # normalised: the exposure-weighted factor is 1 (the day's count is kept)
    assert np.average(table["factor"], weights=table["time_share"]) == pytest.approx(1.0)


def test_buckets_hold_about_equal_time_and_start_at_one_tick():
    day = _day(_market(), 1_800.0, seed=2)
    edges = spread_buckets(day, 4)
    assert edges[0] == 1.0 and all(b > a for a, b in zip(edges, edges[1:])) and len(edges) <= 4
    assert all(float(x).is_integer() for x in edges)
    with pytest.raises(ValueError, match="n_buckets"):
        spread_buckets(day, 17)
    with pytest.raises(ValueError, match="low_quantiles"):
        spread_buckets(day, 10, low_quantiles=(0.2,))
    with pytest.raises(ValueError, match="at most"):
        spread_buckets(day, 14, low_quantiles=(0.01, 0.02, 0.03))


def test_low_quantiles_split_the_narrowest_decile_of_a_recorded_day():
    d = sample_lobster_dir()
    goog = load_lobster(d / "GOOG_2012-06-21_34200000_57600000_message_10.csv.xz",
                        d / "GOOG_2012-06-21_34200000_57600000_orderbook_10.csv.xz")
    deciles = spread_buckets(goog, 10)
    finer = spread_buckets(goog, 10, low_quantiles=(0.01, 0.03, 0.06))
    added = sorted(set(finer) - set(deciles))
    assert set(deciles) <= set(finer) and len(added) == 3
    assert all(1.0 < x < deciles[1] for x in added)  # within the first decile [1, 14) ticks
    with pytest.raises(ValueError, match="spread_rate_low.*spread_rate=True"):
        calibrate_flow(goog, max_distance=20, spread_rate_low=(0.01,))
    with pytest.raises(TypeError, match="low_quantiles"):
        spread_buckets(goog, 10, low_quantiles=("a",))


def test_calibration_and_refinement_keep_the_days_market_orders():
    truth = _market((1.0, 4.0), (3.0, 0.5))
    day = _day(truth, 2_400.0, seed=4)
    cal = calibrate_flow(day, max_distance=10, spread_rate=True)
    assert cal.flow.market_spread_ticks[0] == 1.0 and len(cal.flow.market_spread_factor) >= 2
    assert cal.flow.market_spread_factor[0] > cal.flow.market_spread_factor[-1]
    mapping = cal.market_config(0.01, 1000.0, 300.0)
    again = SimulatorConfig.from_mapping(mapping)
    assert again.flow.market_spread_ticks == cal.flow.market_spread_ticks
    target = len(_orders(day))
    # a market with half the rate: the refinement raises it towards the day's count
    start = SimulatorConfig.from_mapping({**mapping, "flow": {**mapping["flow"],
                                                              "market_rate_per_s": 0.5 * cal.flow.market_rate_per_s}})
    before = len(_orders(_day(start, 2_400.0, seed=9)))
    refined, _ = refine_depth(start, day, iterations=3, seed=5, spread_rate=True)
    after = len(_orders(_day(refined, 2_400.0, seed=9)))
    assert refined.flow.market_rate_per_s > start.flow.market_rate_per_s
    assert abs(after - target) < 0.6 * abs(before - target)
    with pytest.raises(ValueError, match="no market_spread_factor"):
        refine_depth(_market(), day, iterations=1, spread_rate=True)


@pytest.mark.parametrize("ticks, factor, match", [
    ((1.0, 5.0), (1.0,), "one factor per spread bucket"),
    ((2.0,), (1.0,), "from 1"),
    ((1.0, 1.0), (1.0, 1.0), "increasing"),
    ((1.0, 2.5), (1.0, 1.0), "whole ticks"),
    ((1.0,), (-1.0,), r"market_spread_factor\[0\]"),
    (tuple(float(i) for i in range(1, 18)), (1.0,) * 17, "at most 16"),
])
def test_bad_spread_factors_are_rejected(ticks, factor, match):
    with pytest.raises(ValueError, match=match):
        FlowConfig(market_spread_ticks=ticks, market_spread_factor=factor)


def test_fit_rejects_bad_buckets():
    day = _day(_market(), 600.0, seed=1)
    times = _orders(day)["time_s"].to_numpy()
    for ticks in ((), (2.0,), (1.0, 1.0)):
        with pytest.raises(ValueError, match="spread_ticks"):
            fit_spread_rate(day, times, ticks)
    with pytest.raises(ValueError, match="hold no time"):
        fit_spread_rate(day, times, (1.0, 500.0))


@pytest.mark.parametrize("top", [1.0, 1.5])
def test_the_factor_thins_the_excited_market_orders_too(top):
    """The Hawkes excitation's market orders take the spread's factor as the base ones do,
    also when no factor exceeds 1 (factor 0 from a 2-tick spread: market orders wait for
    a one-tick spread), and factors of one draw nothing."""
    def executions_at_a_wide_spread(factor, alpha):
        flow = FlowConfig(anchor="opposite_best", intraday=None, depth_shares=(1500.0,) * 5,
                          market_rate_per_s=0.5, hawkes_alpha_per_s=alpha, hawkes_beta_per_s=100.0,
                          market_spread_ticks=(1.0, 2.0), market_spread_factor=factor)
        day = simulate_day(SimulatorConfig(flow=flow, warmup_s=60.0), np.random.default_rng(1), 600.0, dt_s=60.0,
                           levels=1, all_messages=True, open_time_s=0.0)
        spread = day.orderbook[:, 0] - day.orderbook[:, 2]
        before = np.r_[np.nan, spread[:-1]]
        executed = (day.messages["type"] == 4).to_numpy()
        return executed.sum(), (executed & (before >= 2 * np.min(spread[spread > 0]))).sum()

    n, wide = executions_at_a_wide_spread((top, 0.0), 80.0)
    assert n > 300 and wide < 0.15 * n  # (walks aside, every order comes at a one-tick spread)
    hawkes = {"hawkes_alpha_per_s": 80.0, "hawkes_beta_per_s": 100.0}
    plain, ones = (simulate_day(SimulatorConfig(flow=dataclasses.replace(_market(*tf).flow, **hawkes), warmup_s=60.0),
                                np.random.default_rng(4), 600.0, dt_s=60.0).messages
                   for tf in ((), ((1.0, 4.0), (1.0, 1.0))))
    assert (plain["type"] == 4).sum() > 100 and plain.equals(ones)
