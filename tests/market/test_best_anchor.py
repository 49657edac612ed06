"""Placement from the side's own best: a share of new limit orders goes a drawn number of ticks
behind its side's best quote (joining it at 0), on both sides; the others, and every order on
an empty side, from the depth profile; with ``best_anchor_scaled`` the distances follow the
intraday spread; the calibration reads the day's distances back; bad input is refused. ``price_vs_best`` (which the calibrations and the realism score share)
agrees with a row-by-row reading of the book."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from execgym.envs.market.analysis.calibration.flow import best_distances, calibrate_flow
from execgym.envs.market.data.lobster_data import price_vs_best
from execgym.envs.market.data.simulated_day import simulate_day
from execgym.envs.market.simulation.events import EventType
from execgym.envs.market.simulation.flow import MAX_BEST_TICKS, FlowConfig
from execgym.envs.market.simulation.simulator import SimulatorConfig

PROBS = (0.4, 0.3, 0.2, 0.1)  # 0, 1, 2, 3 ticks behind the best


def _market(**flow):
    base = dict(market_rate_per_s=0.3, resilience_per_s=0.1, intraday=None, anchor="opposite_best",
                depth_shares=(0.0,) * 4 + (300.0,) * 14)
    return SimulatorConfig(flow=FlowConfig(**(base | flow)), warmup_s=300.0)


def _day(seed=3, **flow):
    return simulate_day(_market(**flow), np.random.default_rng(seed), 3_600.0, dt_s=60.0, levels=10)


def _submissions(day):
    better, has = price_vs_best(day)
    m = day.messages
    keep = (m["type"].to_numpy() == int(EventType.SUBMISSION)) & has
    keep[0] = False
    return better[keep], m["direction"].to_numpy()[keep]


@pytest.fixture(scope="module")
def all_from_best():
    return _day(best_anchor_frac=1.0, best_anchor_probs=PROBS)


@pytest.mark.parametrize("side", [1, -1])
def test_every_order_goes_behind_its_best_at_the_drawn_distance_on_both_sides(all_from_best, side):
    better, direction = _submissions(all_from_best)
    behind = -better[direction == side]
    assert len(behind) > 1_000
    assert behind.min() >= 0 and behind.max() <= len(PROBS) - 1  # never inside, never past the table
    counts = np.bincount(behind, minlength=len(PROBS))
    assert stats.chisquare(counts, np.asarray(PROBS) * counts.sum()).pvalue > 1e-3


def test_without_it_the_profile_places_the_orders(all_from_best):
    behind = -_submissions(_day())[0]
    assert np.mean(behind > len(PROBS) - 1) > 0.3  # the profile (4+ ticks from the opposite best) goes deeper
    assert np.mean(-_submissions(all_from_best)[0] > len(PROBS) - 1) == 0.0


def test_a_share_of_the_orders_follows_the_best_and_the_rest_the_profile():
    # the profile puts nothing within 3 ticks of the opposite best; joined to the best only by the share
    day = _day(best_anchor_frac=0.5, best_anchor_probs=(1.0,))
    behind = -_submissions(day)[0]
    at_best = np.mean(behind == 0)
    assert 0.45 < at_best < 0.75  # the share, plus profile orders that land on the best
    assert np.mean(behind > 0) > 0.25


def test_the_calibration_reads_the_distances_back(all_from_best):
    probs = best_distances(all_from_best)
    assert len(probs) == len(PROBS)
    np.testing.assert_allclose(probs, PROBS, atol=0.02)
    cal = calibrate_flow(all_from_best, max_distance=18, best_anchor=0.7, bucket_s=300.0)
    assert cal.flow.best_anchor_frac == 0.7
    np.testing.assert_allclose(cal.flow.best_anchor_probs, probs)
    assert not calibrate_flow(all_from_best, max_distance=18, bucket_s=300.0).flow.best_anchor_probs
    with pytest.raises(ValueError, match="best_anchor"):
        calibrate_flow(all_from_best, max_distance=18, best_anchor=1.5, bucket_s=300.0)


def test_price_vs_best_reads_the_book_before_each_message(all_from_best):
    day = all_from_best
    better, has = price_vs_best(day)
    m, book = day.messages, day.orderbook
    price = m["price"].to_numpy() // day.price_units_per_tick
    for k in range(0, len(m), 97):
        row = book[max(k - 1, 0)]
        if m["direction"].iat[k] > 0:
            ok, expect = row[2] > 0, price[k] - row[2] // day.price_units_per_tick
        else:
            ok, expect = row[0] > 0, row[0] // day.price_units_per_tick - price[k]
        assert has[k] == ok
        if ok:
            assert better[k] == expect


#: the intraday spread over a one-hour session: 3 then 1, whose session mean is 2
SCALED = dict(session_s=3_600.0, placement_scale=(3.0, 1.0), placement_scale_starts_s=(0.0, 1_800.0))


@pytest.mark.parametrize("scaled", [True, False])
def test_the_placement_from_the_best_follows_the_intraday_spread_when_scaled(scaled):
    # joins (0) stay at the best; 2 ticks behind becomes 2 * 3 / 2 = 3 in the first half hour
    # and 2 * 1 / 2 = 1 in the second, on both sides; unscaled, 2 in both
    day = _day(best_anchor_frac=1.0, best_anchor_probs=(0.5, 0.0, 0.5), best_anchor_scaled=scaled, **SCALED)
    better, has = price_vs_best(day)
    m = day.messages
    t = m["time_s"].to_numpy() - day.start_s
    keep = (m["type"].to_numpy() == int(EventType.SUBMISSION)) & has
    for lo, hi, far in ((0.0, 1_800.0, 3 if scaled else 2), (1_800.0, 3_600.0, 1 if scaled else 2)):
        for side in (1, -1):
            behind = -better[keep & (t >= lo) & (t < hi) & (m["direction"].to_numpy() == side)]
            assert len(behind) > 300
            assert set(np.unique(behind)) == {0, far}, (lo, side, np.unique(behind))
            assert 0.4 < np.mean(behind == 0) < 0.6


def test_the_calibration_scales_the_placement_from_the_best_only_with_the_intraday_spread(all_from_best):
    cal = calibrate_flow(all_from_best, max_distance=18, best_anchor=0.7, spread_profile=True,
                         best_anchor_scaled=True, bucket_s=300.0)
    assert cal.flow.best_anchor_scaled and cal.flow.placement_scale
    assert cal.market_config(0.01, 1000.0, 300.0)["flow"]["best_anchor_scaled"] is True
    plain = calibrate_flow(all_from_best, max_distance=18, best_anchor=0.7, spread_profile=True, bucket_s=300.0)
    assert not plain.flow.best_anchor_scaled and "best_anchor_scaled" not in plain.market_config(0.01, 1000.0, 300.0)["flow"]
    with pytest.raises(ValueError, match="best_anchor_scaled=True"):
        calibrate_flow(all_from_best, max_distance=18, best_anchor=0.7, best_anchor_scaled=True, bucket_s=300.0)


@pytest.mark.parametrize("fields, error, match", [
    ({"best_anchor_scaled": True, "best_anchor_frac": 0.5, "best_anchor_probs": (1.0,)}, ValueError,
     "needs best_anchor_frac > 0 .* and placement_scale"),
    ({"best_anchor_scaled": True, **SCALED}, ValueError, "best_anchor_scaled=True"),
    ({"best_anchor_scaled": 1, "best_anchor_frac": 0.5, "best_anchor_probs": (1.0,), **SCALED}, TypeError,
     "best_anchor_scaled"),
    ({"best_anchor_frac": 1.2, "best_anchor_probs": (1.0,)}, ValueError, "best_anchor_frac"),
    ({"best_anchor_frac": -0.1, "best_anchor_probs": (1.0,)}, ValueError, "best_anchor_frac"),
    ({"best_anchor_probs": (1.0,)}, ValueError, "best_anchor_probs needs best_anchor_frac"),
    ({"best_anchor_frac": 0.5}, ValueError, "best_anchor_probs must hold 1 to"),
    ({"best_anchor_frac": 0.5, "best_anchor_probs": (1.0,) * (MAX_BEST_TICKS + 1)}, ValueError, "got 65"),
    ({"best_anchor_frac": 0.5, "best_anchor_probs": (1.0, -1.0)}, ValueError, "best_anchor_probs"),
    ({"best_anchor_frac": 0.5, "best_anchor_probs": (0.0, 0.0)}, ValueError, "best_anchor_probs"),
    ({"best_anchor_frac": "half", "best_anchor_probs": (1.0,)}, TypeError, "best_anchor_frac"),
    ({"best_anchor_frac": 0.5, "best_anchor_probs": ("a",)}, TypeError, "best_anchor_probs"),
])
def test_bad_fields_are_refused(fields, error, match):
    with pytest.raises(error, match=match):
        FlowConfig(**fields)
