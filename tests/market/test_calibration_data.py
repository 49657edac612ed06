"""Calibration of the background flow: known answers on simulated days and hand-made books."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from execgym.envs.market.analysis.calibration.flow import (
    book_before,
    calibrate_flow,
    fit_hawkes,
    fit_intraday_profile,
    limit_arrival_rates,
    marketable_orders,
)
from execgym.envs.market.data.lobster_data import LobsterDay
from execgym.envs.market.data.simulated_day import simulate_day
from execgym.envs.market.simulation.flow import FlowConfig, ImpactConfig
from execgym.envs.market.simulation.simulator import SimulatorConfig
from execgym.envs.market.simulation.volume import IntradayVolumeProfile

TRUE_FLOW = FlowConfig(depth_shares=(1000.0, 1500.0, 2000.0, 2000.0, 1500.0), resilience_per_s=0.2,
                       mean_limit_size_shares=200.0, market_rate_per_s=0.3, mean_market_size_shares=100.0,
                       hawkes_alpha_per_s=0.5, hawkes_beta_per_s=1.0, anchor="opposite_best", intraday=None)
DURATION_S = 3000.0


@pytest.fixture(scope="module")
def simulated_day():
    cfg = SimulatorConfig(flow=TRUE_FLOW, impact=ImpactConfig(0.0, 0.0, 0.0), warmup_s=100.0)
    return simulate_day(cfg, np.random.default_rng(7), DURATION_S, dt_s=60.0, levels=10, open_time_s=0.0)


@pytest.fixture(scope="module")
def calibration(simulated_day):
    return calibrate_flow(simulated_day, max_distance=5, match="arrivals")


def test_limit_arrival_rates_recovered_on_both_sides(calibration):
    true = TRUE_FLOW.limit_rates_per_s()
    for side in ("buy", "sell"):
        np.testing.assert_allclose(calibration.table[f"lambda_{side}_per_s"], true, rtol=0.1)
    np.testing.assert_allclose(calibration.flow.limit_rates_per_s(), true, rtol=0.07)


def test_cancellation_rate_per_share_recovered_at_every_distance_and_pooled(calibration):
    for side in ("buy", "sell"):
        np.testing.assert_allclose(calibration.table[f"theta_{side}_per_s"], TRUE_FLOW.resilience_per_s, rtol=0.15)
    assert calibration.flow.resilience_per_s == pytest.approx(TRUE_FLOW.resilience_per_s, rel=0.03)
    np.testing.assert_allclose(calibration.flow.depth_shares, TRUE_FLOW.depth_shares, rtol=0.12)


def test_cancellation_rate_is_rho_also_under_heavy_market_order_flow():
    # market orders fill resting orders; the flow must still cancel each survivor at exactly rho
    flow = FlowConfig(depth_shares=(1000.0, 1500.0, 2000.0), resilience_per_s=0.2, mean_limit_size_shares=200.0,
                      market_rate_per_s=1.5, mean_market_size_shares=200.0, anchor="opposite_best", intraday=None)
    cfg = SimulatorConfig(flow=flow, impact=ImpactConfig(0.0, 0.0, 0.0), warmup_s=50.0)
    cal = calibrate_flow(simulate_day(cfg, np.random.default_rng(2), 1500.0, dt_s=60.0, open_time_s=0.0), 3,
                         hawkes=False)
    assert cal.flow.resilience_per_s == pytest.approx(0.2, rel=0.03)


def test_calibration_warns_about_distances_the_file_rarely_shows(simulated_day, caplog):
    # keep only the best level of each side: beyond the spread nothing is visible
    top = LobsterDay(simulated_day.messages, simulated_day.orderbook[:, :4], start_s=0.0, end_s=DURATION_S)
    with caplog.at_level("WARNING", logger="execgym.envs.market.analysis.calibration.flow"):
        calibrate_flow(top, max_distance=5, hawkes=False)
    assert "visible less than 10% of the session in this 1-level file" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="execgym.envs.market.analysis.calibration.flow"):
        calibrate_flow(simulated_day, max_distance=5, hawkes=False)
    assert caplog.text == ""


def test_sizes_recovered(calibration):
    assert calibration.flow.mean_limit_size_shares == pytest.approx(200.0, rel=0.05)
    assert calibration.flow.mean_market_size_shares == pytest.approx(100.0, rel=0.08)


def test_market_order_rates_and_hawkes_excitation_recovered_on_both_sides(calibration):
    mean_rate = TRUE_FLOW.market_rate_per_s / (1 - TRUE_FLOW.hawkes_alpha_per_s / TRUE_FLOW.hawkes_beta_per_s)
    hk = calibration.hawkes
    for side in ("buy", "sell"):
        assert hk.loc[side, "mean_rate_per_s"] == pytest.approx(mean_rate, rel=0.15)
        assert hk.loc[side, "branching_ratio"] == pytest.approx(0.5, abs=0.1)
        assert hk.loc[side, "beta_per_s"] == pytest.approx(1.0, rel=0.35)
    assert calibration.flow.market_rate_per_s == pytest.approx(0.3, rel=0.15)
    assert calibration.flow.hawkes_alpha_per_s / calibration.flow.hawkes_beta_per_s == pytest.approx(0.5, abs=0.07)


def test_match_depth_uses_the_measured_depth_at_each_distance(simulated_day, calibration):
    by_depth = calibrate_flow(simulated_day, max_distance=5, match="depth", hawkes=False)
    measured = 0.5 * (calibration.table["depth_buy_shares"] + calibration.table["depth_sell_shares"])
    np.testing.assert_allclose(by_depth.flow.depth_shares, measured.to_numpy())
    assert by_depth.flow.hawkes_alpha_per_s == 0.0
    assert by_depth.flow.market_rate_per_s == pytest.approx(by_depth.scalars["market_rate_mean_per_s"])


def test_calibrated_market_config_round_trips_through_simulator_config(calibration):
    mapping = calibration.market_config(0.01, 10_000.5, 300.0)
    cfg = SimulatorConfig.from_mapping(mapping)
    assert cfg.flow.anchor == "opposite_best" and len(cfg.flow.depth_shares) == 5
    assert cfg.flow.resilience_per_s == pytest.approx(calibration.flow.resilience_per_s, rel=1e-4)
    assert cfg.impact.permanent_ticks_per_share == 0.0


# --- hand-made books ----------------------------------------------------------------------------


def _day(rows, msgs, start_s=0.0, end_s=100.0):
    """A one-level LobsterDay from (ask, ask_size, bid, bid_size) ticks rows and message tuples."""
    ob = np.array([[a * 100, asz, b * 100, bsz] for a, asz, b, bsz in rows], dtype=np.int64)
    m = pd.DataFrame(msgs, columns=["time_s", "type", "order_id", "size_shares", "price", "direction"])
    m["price"] = m["price"] * 100
    return LobsterDay(m, ob, start_s=start_s, end_s=end_s)


def test_distances_from_each_anchor_on_both_sides():
    # book before each message: ask 10003, bid 10000 (mid 10001.5)
    rows = [(10003, 100, 10000, 100)] * 3
    msgs = [(1.0, 1, 1, 100, 10003, -1), (2.0, 1, 2, 100, 9999, 1), (3.0, 1, 3, 100, 10005, -1)]
    day = _day(rows, msgs)
    opp = book_before(day, "opposite_best")["distance_ticks"].to_numpy()
    ref = book_before(day, "reference")["distance_ticks"].to_numpy()
    np.testing.assert_array_equal(opp, [3, 4, 5])  # sell at ask: 3 above the bid; buy 4 below the ask
    np.testing.assert_array_equal(ref, [2, 3, 4])  # from floor(mid) = 10001 (sells), ceil(mid) = 10002 (buys)


def test_marketable_orders_group_executions_by_time_and_side():
    rows = [(10001, 100, 10000, 100)] * 6
    msgs = [(1.0, 4, 1, 30, 10001, -1), (1.0, 4, 2, 20, 10002, -1),  # one buy walking two levels
            (2.0, 4, 3, 10, 10000, 1),  # a sell
            (2.0, 1, 9, 10, 10000, 1), (3.0, 5, 0, 50, 10000, 1),  # a submission; a hidden execution
            (3.5, 4, 4, 5, 10000, 1)]
    mo = marketable_orders(_day(rows, msgs).messages)
    np.testing.assert_array_equal(mo["sign"], [1, -1, -1])
    np.testing.assert_array_equal(mo["size_shares"], [50, 10, 5])
    np.testing.assert_array_equal(mo["n_fills"], [2, 1, 1])
    assert mo["last_price"].iloc[0] == 1_000_200


def test_exposure_excludes_distances_beyond_the_visible_levels():
    # two-level file; the bid's second level is 5 below the ask for the first half, 3 below after
    ob = np.array([[10001 * 100, 100, 10000 * 100, 100, 10002 * 100, 100, 9996 * 100, 100],
                   [10001 * 100, 100, 10000 * 100, 100, 10002 * 100, 100, 9998 * 100, 100]], dtype=np.int64)
    m = pd.DataFrame([(0.0, 1, 1, 100, 10002 * 100, -1), (50.0, 1, 2, 100, 10002 * 100, -1)],
                     columns=["time_s", "type", "order_id", "size_shares", "price", "direction"])
    lam = limit_arrival_rates(LobsterDay(m, ob, start_s=0.0, end_s=100.0), max_distance=6)
    np.testing.assert_allclose(lam["buy_exposure_s"], [100, 100, 100, 50, 50, 0])


def test_fit_intraday_profile_recovers_a_known_u_shape():
    true = IntradayVolumeProfile(open_boost=2.0, close_boost=1.5, decay_frac=0.08, noise_sigma=0.0)
    rng = np.random.default_rng(3)
    u = np.linspace(0, 1, 20001)
    cdf = true.cumulative_fraction(u)
    times = 23_400.0 * np.interp(rng.uniform(size=60_000), cdf, u)
    prof, table = fit_intraday_profile(times, np.ones_like(times), 0.0, 23_400.0, bucket_s=300.0)
    assert prof.open_boost == pytest.approx(2.0, rel=0.2)
    assert prof.close_boost == pytest.approx(1.5, rel=0.2)
    assert prof.decay_frac == pytest.approx(0.08, rel=0.2)
    assert table["observed_frac"].sum() == pytest.approx(1.0)
    assert prof.noise_sigma < 0.1  # Poisson noise only: about 1/sqrt(770 per bucket)


def _profile_sample(prof, n, seed):
    u = np.linspace(0, 1, 400_001)
    return 23_400.0 * np.interp(np.random.default_rng(seed).uniform(size=n), prof.cumulative_fraction(u), u)


def test_fit_intraday_profile_recovers_a_known_opening_burst():
    true = IntradayVolumeProfile(open_boost=1.0, close_boost=1.5, decay_frac=0.05, noise_sigma=0.0,
                                 burst_boost=20.0, burst_decay_frac=0.001)
    times = _profile_sample(true, 60_000, 4)
    plain, _ = fit_intraday_profile(times, np.ones_like(times), 0.0, 23_400.0, bucket_s=300.0)
    prof, _ = fit_intraday_profile(times, np.ones_like(times), 0.0, 23_400.0, bucket_s=300.0, burst=True)
    assert plain.burst_boost == 0.0
    assert prof.burst_boost == pytest.approx(20.0, rel=0.25)
    assert prof.burst_decay_frac == pytest.approx(0.001, rel=0.25)
    assert prof.open_boost == pytest.approx(1.0, rel=0.3) and prof.decay_frac == pytest.approx(0.05, rel=0.3)
    assert prof.close_boost == pytest.approx(1.5, rel=0.3) and prof.burst_decay_frac < prof.decay_frac
    # the first 30 s: the burst fit carries them, the buckets' U-shape cannot
    first = np.mean(times < 30.0)
    share = lambda p: float(np.diff(p.cumulative_fraction(np.array([0.0, 30.0 / 23_400.0])))[0])  # noqa: E731
    assert share(prof) == pytest.approx(first, rel=0.1)
    assert share(plain) < 0.5 * first
    # weights count: the same times with the burst's events weighted 0 leave no burst
    w = np.where(times < 120.0, 0.0, 1.0)
    flat, _ = fit_intraday_profile(times, w, 0.0, 23_400.0, bucket_s=300.0, burst=True)
    assert flat.burst_boost * flat.burst_decay_frac < 0.1 * 20.0 * 0.001


def test_fit_intraday_profile_finds_no_burst_where_there_is_none():
    true = IntradayVolumeProfile(open_boost=2.0, close_boost=1.5, decay_frac=0.08, noise_sigma=0.0)
    times = _profile_sample(true, 60_000, 5)
    prof, _ = fit_intraday_profile(times, np.ones_like(times), 0.0, 23_400.0, bucket_s=300.0, burst=True)
    # the burst's share of the day's events: at most a fraction of a percent
    assert prof.burst_boost * prof.burst_decay_frac / prof.mean_intensity() < 0.003
    assert prof.open_boost == pytest.approx(2.0, rel=0.25) and prof.decay_frac == pytest.approx(0.08, rel=0.25)


@pytest.mark.parametrize("kwargs, name", [({"burst_boost": -1.0}, "burst_boost"), ({"burst_decay_frac": 0.0}, "burst_decay_frac")])
def test_intraday_profile_rejects_a_bad_burst(kwargs, name):
    with pytest.raises(ValueError, match=name):
        IntradayVolumeProfile(**kwargs)


def test_fit_hawkes_finds_no_excitation_in_a_poisson_process():
    rng = np.random.default_rng(5)
    times = np.cumsum(rng.exponential(2.0, size=2000))
    fit = fit_hawkes(times, 0.0, float(times[-1]))
    assert fit["branching_ratio"] < 0.05
    assert fit["mu_per_s"] == pytest.approx(0.5, rel=0.1)


def test_bad_input_is_refused_with_the_offending_value(simulated_day):
    with pytest.raises(ValueError, match="orderbook has 1 rows"):
        LobsterDay(simulated_day.messages.iloc[:2], simulated_day.orderbook[:1])
    with pytest.raises(ValueError, match="anchor"):
        calibrate_flow(simulated_day, 5, anchor="mid")
    with pytest.raises(ValueError, match="match"):
        calibrate_flow(simulated_day, 5, match="both")
    with pytest.raises(ValueError, match="max_distance"):
        calibrate_flow(simulated_day, 0)
    with pytest.raises(ValueError, match="bucket_s"):
        fit_intraday_profile(np.array([1.0]), np.array([1.0]), 0.0, 100.0, bucket_s=70.0)
    with pytest.raises(ValueError, match="at least 10"):
        fit_hawkes(np.array([1.0, 2.0]), 0.0, 10.0)
