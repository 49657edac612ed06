"""Limit sizes by placement: a new limit order's size is drawn from the table of where it goes
(inside the spread, at its side's best, behind it), as the kernel sees the book before it; the
calibration classifies a day's submissions the same way and recovers the tables; with one table
for every place the stream is the pooled table's, draw for draw."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from execgym.envs.market.analysis.calibration.flow import calibrate_flow
from execgym.envs.market.analysis.calibration.size_places import place_size_probs, submission_places
from execgym.envs.market.data.simulated_day import simulate_day
from execgym.envs.market.simulation import flow as F
from execgym.envs.market.simulation.book import OrderBook
from execgym.envs.market.simulation.flow import SIZE_PLACES, FlowConfig, ImpactConfig, flow_params
from execgym.envs.market.simulation.simulator import SimulatorConfig

SIZES = (3.0, 7.0, 100.0)
POOLED = (5.0, 3.0, 2.0)
#: inside the spread only 100 shares, at the best only 7, behind it only 3
BY_PLACE = (0.0, 0.0, 1.0) + (0.0, 1.0, 0.0) + (1.0, 0.0, 0.0)
MEAN = float(np.dot(SIZES, POOLED) / sum(POOLED))


def _market(place=BY_PLACE, **flow):
    base = dict(market_rate_per_s=0.3, resilience_per_s=0.1, intraday=None, anchor="opposite_best",
                depth_shares=(0.0,) * 3 + (300.0,) * 15, size_distribution="empirical",
                limit_sizes_shares=SIZES, limit_size_probs=POOLED, mean_limit_size_shares=MEAN,
                market_sizes_shares=(50.0,), market_size_probs=(1.0,), mean_market_size_shares=50.0,
                inside_spread_ticks=(1.0,), inside_probs=(0.3,), inside_improve_fracs=(0.5,), refill_empty_side=True,
                cluster_alphas_per_s=(40.0,), cluster_betas_per_s=(100.0,), cluster_join_frac=0.3,
                limit_size_place_probs=place)
    return SimulatorConfig(flow=FlowConfig(**(base | flow)), warmup_s=300.0)


@pytest.fixture(scope="module")
def placed_day():
    return simulate_day(_market(), np.random.default_rng(3), 1_800.0, dt_s=60.0, levels=10)


def test_each_order_takes_the_size_of_where_it_goes_on_both_sides(placed_day):
    m = placed_day.messages
    places = submission_places(placed_day)
    sizes = m["size_shares"].to_numpy()
    side = m["direction"].to_numpy()
    for k, size in enumerate((100, 7, 3)):
        for direction in (1, -1):
            mine = (places == k) & (side == direction)
            assert mine.sum() >= 30, (SIZE_PLACES[k], direction)
            assert np.all(sizes[mine] == size), (SIZE_PLACES[k], direction, np.unique(sizes[mine]))


def test_the_calibration_recovers_the_tables(placed_day):
    cal = calibrate_flow(placed_day, max_distance=18, sizes="empirical", place_sizes=True)
    f = cal.flow
    n = len(f.limit_sizes_shares)
    for k, size in enumerate((100.0, 7.0, 3.0)):
        group = np.asarray(f.limit_size_place_probs[k * n:(k + 1) * n])
        assert group[list(f.limit_sizes_shares).index(size)] == group.sum() > 0, SIZE_PLACES[k]
    assert calibrate_flow(placed_day, max_distance=18, sizes="empirical").flow.limit_size_place_probs == ()
    with pytest.raises(ValueError, match="place_sizes.*sizes='empirical'"):
        calibrate_flow(placed_day, max_distance=18, place_sizes=True)


def test_one_table_for_every_place_draws_as_the_pooled_table():
    pooled = simulate_day(_market(place=()), np.random.default_rng(5), 600.0, dt_s=60.0, all_messages=True)
    same = simulate_day(_market(place=POOLED * 3), np.random.default_rng(5), 600.0, dt_s=60.0, all_messages=True)
    assert len(pooled.messages) > 1000
    assert pooled.messages.equals(same.messages)


def test_place_size_probs_counts_each_class_over_the_table():
    sizes = np.array([100, 100, 7, 3, 55, 61])
    places = np.array([0, 0, 1, 2, 2, 2])
    # the table lumps 55 and 61 into its last entry (their mean, 58)
    out = place_size_probs(sizes, places, (3.0, 7.0, 100.0, 58.0), lumped=True)
    assert out == (0.0, 0.0, 2.0, 0.0) + (0.0, 1.0, 0.0, 0.0) + (1.0, 0.0, 0.0, 2.0)
    # a class without orders takes the pooled counts
    out = place_size_probs(np.array([3, 7]), np.array([2, 2]), (3.0, 7.0), lumped=False)
    assert out == (1.0, 1.0) * 3
    with pytest.raises(ValueError, match="not in table_sizes"):
        place_size_probs(np.array([5]), np.array([0]), (3.0, 7.0), lumped=False)
    with pytest.raises(ValueError, match="places must be indices"):
        place_size_probs(np.array([3]), np.array([3]), (3.0, 7.0), lumped=False)
    with pytest.raises(ValueError, match="one length"):
        place_size_probs(np.array([3, 7]), np.array([0]), (3.0, 7.0), lumped=False)


@pytest.mark.parametrize("change, match", [
    ({"limit_size_place_probs": BY_PLACE[:-1]}, r"3 x 3 probabilities"),
    ({"limit_size_place_probs": (0.0,) * 3 + BY_PLACE[3:]}, "inside.*not all 0"),
    ({"limit_size_place_probs": BY_PLACE[:3] + (-1.0, 1.0, 0.0) + BY_PLACE[6:]}, "at_best"),
    ({"limit_size_place_probs": BY_PLACE[:6] + (float("nan"), 0.0, 1.0)}, "behind"),
])
def test_bad_place_tables_are_refused(change, match):
    flow = _market().flow
    with pytest.raises(ValueError, match=match):
        dataclasses.replace(flow, **change)


def test_place_tables_need_empirical_sizes():
    with pytest.raises(ValueError, match="limit_size_place_probs needs size_distribution='empirical'"):
        FlowConfig(limit_size_place_probs=(1.0, 1.0, 1.0))


@pytest.mark.parametrize("side", ["buy", "sell"])
def test_an_order_on_an_empty_side_takes_the_at_best_table(side):
    fp, _, _ = flow_params(_market().flow, ImpactConfig(), 1)
    book = OrderBook(tick_size=0.01)
    other = "sell" if side == "buy" else "buy"
    book.limit(other, 10_010 if other == "sell" else 9_990, 100)  # only the other side quotes
    sc = book.arrays[0]
    direction = 1 if side == "buy" else -1
    for price in (9_995, 10_000, 10_005):
        assert F._limit_row(fp, sc, direction, price) == F.SZ_BEST
    book.limit(side, 10_000, 100)  # now its side has a best at 10,000
    better, worse = (10_001, 9_999) if side == "buy" else (9_999, 10_001)
    assert [F._limit_row(fp, sc, direction, p) for p in (better, 10_000, worse)] == [F.SZ_INSIDE, F.SZ_BEST,
                                                                                    F.SZ_BEHIND]
