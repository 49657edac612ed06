"""Refining a calibrated market's depth profile by simulation: the simulated depth by
distance moves to the recorded day's, each side against its own when the flow has two."""

from __future__ import annotations

import numpy as np
import pytest

from execgym.envs.market.analysis.calibration.flow import calibrate_flow, cancellation_rates
from execgym.envs.market.analysis.calibration.refine import refine_depth
from execgym.envs.market.data.simulated_day import simulate_day
from execgym.envs.market.simulation.flow import FlowConfig
from execgym.envs.market.simulation.simulator import SimulatorConfig

K = 8


@pytest.fixture(scope="module")
def day():
    """A 'recorded' day: a market whose market orders walk a thin book, so that the depth
    measured by distance from the opposite best is far from the flow's steady state."""
    cfg = SimulatorConfig(flow=FlowConfig(anchor="opposite_best", intraday=None, depth_shares=(600.0,) * K,
                                          depth_sell_shares=(300.0,) * K, market_rate_per_s=1.0,
                                          mean_market_size_shares=300.0, resilience_per_s=0.05), warmup_s=300.0)
    return simulate_day(cfg, np.random.default_rng(0), 3600.0, dt_s=60.0, levels=K, open_time_s=0.0)


def _depth_error(market, day, seed=5):
    """Relative errors of the simulated depth over distances 1..K: buy side, sell side, both."""
    sim = simulate_day(market, np.random.default_rng(seed), day.duration_s, dt_s=60.0, levels=day.levels,
                       open_time_s=day.start_s)
    real, got = cancellation_rates(day, K), cancellation_rates(sim, K)
    total = [sum(t[f"{s}_depth_shares"].sum() for s in ("buy", "sell")) for t in (real, got)]
    return [abs(got[f"{s}_depth_shares"].sum() / real[f"{s}_depth_shares"].sum() - 1.0) for s in ("buy", "sell")] + [
        abs(total[1] / total[0] - 1.0)]


@pytest.mark.parametrize("sides", ["pooled", "separate"])
def test_refining_brings_the_simulated_depth_to_the_days(day, sides):
    cal = calibrate_flow(day, K, match="depth", sides=sides)
    market = SimulatorConfig.from_mapping(cal.market_config(0.01, 10_000.5, 300.0))
    refined, table = refine_depth(market, day, iterations=3, seed=1)
    before, after = _depth_error(market, day), _depth_error(refined, day)
    if sides == "separate":  # each side against its own
        assert before[0] + before[1] > 0.3 and after[0] + after[1] < 0.5 * (before[0] + before[1])
        assert refined.flow.depth_sell_shares != market.flow.depth_sell_shares
    else:  # one profile for both sides: the sides' total is matched
        assert before[2] > 0.15 and after[2] < 0.5 * before[2]
        assert refined.flow.depth_sell_shares == ()
    assert list(table.columns) == ["target_shares", "configured_shares", "simulated_0_shares", "simulated_1_shares",
                                   "simulated_2_shares", "refined_shares"]
    assert np.allclose(table["refined_shares"], refined.flow.depth_shares)


def test_bad_arguments_are_refused(day):
    market = SimulatorConfig()
    with pytest.raises(TypeError, match="SimulatorConfig"):
        refine_depth({"tick_size": 0.01}, day)
    with pytest.raises(ValueError, match="iterations"):
        refine_depth(market, day, iterations=0)


def test_decreasing_gains_take_a_shrinking_share_of_each_step(day):
    """With ``gain_decay=1`` the second update takes half its step in logs: the refined depth
    is the configured one times the first factor times the square root of the second (each
    factor the target over the simulated depth, clipped to [1/4, 4])."""
    from execgym.envs.market.analysis.calibration.refine import MAX_FACTOR

    cal = calibrate_flow(day, K, match="depth")
    market = SimulatorConfig.from_mapping(cal.market_config(0.01, 10_000.5, 300.0))
    refined, table = refine_depth(market, day, iterations=2, seed=1, gain_decay=1.0)
    whole, whole_table = refine_depth(market, day, iterations=2, seed=1)
    factors = [np.clip(table["target_shares"] / table[f"simulated_{i}_shares"], 1.0 / MAX_FACTOR, MAX_FACTOR)
               for i in (0, 1)]
    np.testing.assert_allclose(refined.flow.depth_shares,
                               table["configured_shares"] * factors[0] * np.sqrt(factors[1]), rtol=1e-9)
    # the first update is the same whole step either way (the same simulated day follows it)
    np.testing.assert_allclose(table["simulated_1_shares"], whole_table["simulated_1_shares"])
    np.testing.assert_allclose(whole.flow.depth_shares, table["configured_shares"] * factors[0]
                               * np.clip(whole_table["target_shares"] / whole_table["simulated_1_shares"],
                                         1.0 / MAX_FACTOR, MAX_FACTOR), rtol=1e-9)


@pytest.mark.parametrize("decay", [-0.5, 1.5, True, "0.5"])
def test_a_bad_gain_decay_is_refused(day, decay):
    with pytest.raises(ValueError, match="gain_decay"):
        refine_depth(SimulatorConfig(), day, gain_decay=decay)


def test_every_refined_quantity_takes_half_its_second_step_with_harmonic_gains():
    """``gain_decay=1``: the second update of the depth, the market orders' rate, the fleeting
    shares (in logs) and the inside probabilities (in log-odds; linearly from 0) is half the whole step's from
    the same first update and the same simulated day."""
    cfg = SimulatorConfig(flow=FlowConfig(anchor="opposite_best", intraday=None, depth_shares=(600.0,) * K,
                                          depth_sell_shares=(300.0,) * K, market_rate_per_s=1.0,
                                          mean_market_size_shares=300.0, resilience_per_s=0.05,
                                          cluster_alphas_per_s=(50.0,), cluster_betas_per_s=(100.0,)), warmup_s=300.0)
    day = simulate_day(cfg, np.random.default_rng(0), 3600.0, dt_s=60.0, levels=K, open_time_s=0.0)
    options = dict(fleeting=True, spread_rate=True, inside=True)
    cal = calibrate_flow(day, K, match="depth", clustering=1, **options)
    market = SimulatorConfig.from_mapping(cal.market_config(0.01, 10_000.5, 300.0))
    # (a seed whose second simulated day reaches 30 submissions in some spread buckets, so that
    # their inside probabilities move: MIN_INSIDE_COUNT)
    one, _ = refine_depth(market, day, 1, seed=3, **options)
    whole, _ = refine_depth(market, day, 2, seed=3, **options)
    half, _ = refine_depth(market, day, 2, seed=3, gain_decay=1.0, **options)
    for field in ("market_rate_per_s", "cluster_join_frac", "cluster_cancel_newest_frac"):
        first, w, h = (getattr(m.flow, field) for m in (one, whole, half))
        assert w != first and np.log(h / first) == pytest.approx(0.5 * np.log(w / first), rel=1e-9), field
    d1, dw, dh = (np.asarray(m.flow.depth_shares) for m in (one, whole, half))
    np.testing.assert_allclose(np.log(dh / d1), 0.5 * np.log(dw / d1), rtol=1e-9, atol=1e-12)
    p1, pw, ph = (np.asarray(m.flow.inside_probs) for m in (one, whole, half))
    odds = (p1 > 0) & (pw > 0) & (pw < 0.95)
    assert np.any(odds & (pw != p1))

    def logit(p):
        return np.log(p / (1 - p))

    np.testing.assert_allclose(logit(ph[odds]) - logit(p1[odds]), 0.5 * (logit(pw[odds]) - logit(p1[odds])), rtol=1e-9,
                               atol=1e-12)
    start = p1 == 0
    np.testing.assert_allclose(ph[start], 0.5 * pw[start], rtol=1e-9, atol=1e-12)
