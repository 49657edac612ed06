"""The random clock: its factor has mean one and the configured memory, it leaves the
default streams alone, and the calibration finds it again in a simulated day."""

from __future__ import annotations

import numpy as np
import pytest

from execgym.envs.market.analysis.calibration.activity import fit_activity, log_activity
from execgym.envs.market.data.simulated_day import simulate_day
from execgym.envs.market.simulation.flow import FlowConfig
from execgym.envs.market.simulation.simulator import MarketSimulator, SimulatorConfig
from tests.market.ou_factor import assert_unit_ou_factor


def _market(sigma, tau=30.0):
    flow = FlowConfig(market_rate_per_s=1.0, resilience_per_s=0.2, intraday=None, anchor="opposite_best",
                      activity_sigma=sigma, activity_time_s=tau, mean_limit_size_shares=100.0)
    return SimulatorConfig(flow=flow, warmup_s=300.0)


def test_activity_factor_has_mean_one_and_the_configured_memory():
    assert_unit_ou_factor(MarketSimulator(_market(0.8, 20.0), np.random.default_rng(3)), "act_x", "activity", 0.8, 20.0)


def test_busy_spells_carry_more_events():
    sim = MarketSimulator(_market(1.0, 60.0), np.random.default_rng(5))
    events, acts = [], []
    for _ in range(4_000):
        acts.append(float(sim._fs[0]["activity"]))
        events.append(sim.advance(1.0).n_events)
    acts, events = np.array(acts), np.array(events)
    busy, quiet = acts > np.quantile(acts, 0.8), acts < np.quantile(acts, 0.2)
    assert events[busy].mean() > 3.0 * events[quiet].mean()


@pytest.mark.parametrize("sigma", [0.0, 0.6])
def test_calibration_finds_the_random_clock_of_a_simulated_day(sigma):
    day = simulate_day(_market(sigma), np.random.default_rng(11), 12_000.0, dt_s=60.0)
    fit = fit_activity(day)
    if sigma == 0.0:
        assert fit["activity_sigma"] < 0.2
    else:
        assert fit["activity_sigma"] == pytest.approx(sigma, rel=0.35)
        assert 12.0 < fit["activity_time_s"] < 60.0
    assert np.isfinite(log_activity(day)).all()


@pytest.mark.parametrize("field, value", [("activity_sigma", -0.1), ("activity_time_s", 0.0)])
def test_bad_activity_settings_are_rejected(field, value):
    with pytest.raises(ValueError, match=field):
        FlowConfig(**{field: value})


def test_fit_rejects_bad_lags_and_too_short_days():
    day = simulate_day(_market(0.0), np.random.default_rng(1), 4_000.0, dt_s=60.0)
    with pytest.raises(ValueError, match="lags"):
        fit_activity(day, lags=(3, 3))
    with pytest.raises(ValueError, match="too short"):
        fit_activity(day, bin_s=600.0)


@pytest.mark.parametrize("revisions", [False, True])
def test_the_stream_does_not_depend_on_the_decision_step(revisions):
    """The activity changes at grid times: a proposal that crosses one must stop there, also
    when the window's end (or a revision's re-post) comes later. A quiet market, where most
    proposals cross several grid times, then runs the same stream in 1-s and 40-s steps (it
    ran about 20 times fewer events in 40-s steps before the fix)."""
    extra = {"revise_best_per_s": 0.05, "revise_deep_per_s": 0.05, "revise_delay_s": 3.0} if revisions else {}
    flow = FlowConfig(market_rate_per_s=0.0, resilience_per_s=0.01, intraday=None, anchor="opposite_best",
                      mean_limit_size_shares=100.0, depth_shares=(5.0,) * 5, activity_sigma=1.5, activity_time_s=3.0,
                      **extra)
    runs = []
    for step in (1.0, 40.0):
        sim = MarketSimulator(SimulatorConfig(flow=flow, warmup_s=0.0), np.random.default_rng(8))
        for _ in range(int(4_000 / step)):
            sim.advance(step)
        runs.append((int(sim._fs[0]["n_bg_events"]), sim.book.orders()))
    (n1, book1), (n40, book40) = runs
    assert n1 > 20 and n1 == n40 and book1.equals(book40)
