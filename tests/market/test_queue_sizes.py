"""Market orders that take at most the queue they hit: a share ``market_queue_cap_frac`` of
the market orders takes ``min(S, q)``, its drawn size capped at the opposite best's queue,
buys and sells alike; the statistics find the cap in a simulated day, the Kaplan-Meier
estimate recovers the sizes before the cap from their censored sample, and the calibration
maps a recorded day to both."""

from __future__ import annotations

import numpy as np
import pytest

from execgym.envs.market.analysis.calibration.flow import calibrate_flow, empirical_sizes
from execgym.envs.market.analysis.calibration.queue_sizes import queue_statistics
from execgym.envs.market.data.lobster_data import load_lobster, sample_lobster_dir
from execgym.envs.market.data.simulated_day import simulate_day
from execgym.envs.market.simulation import flow as F
from execgym.envs.market.simulation import rng as R
from execgym.envs.market.simulation.book import OrderBook
from execgym.envs.market.simulation.flow import FlowConfig, ImpactConfig
from execgym.envs.market.simulation.simulator import SimulatorConfig

#: market sizes before the cap (shares, lot 1): large enough that the cap binds often
SIZES = (20.0, 100.0, 300.0, 600.0)  # against a 150-share queue: two below, two above
PROBS = (0.3, 0.3, 0.2, 0.2)


def _market(cap, **flow):
    base = dict(market_rate_per_s=0.5, resilience_per_s=0.1, intraday=None, anchor="opposite_best",
                mean_limit_size_shares=75.0, depth_shares=(200.0,) * 10, size_distribution="empirical",
                limit_sizes_shares=(100.0, 50.0), limit_size_probs=(0.5, 0.5), market_sizes_shares=SIZES,
                market_size_probs=PROBS, mean_market_size_shares=float(np.dot(SIZES, PROBS)))
    cap_fields = {"market_queue_cap_frac": cap, "market_taken_size_shares": 100.0 if cap else 0.0}
    return SimulatorConfig(flow=FlowConfig(**(base | cap_fields | flow)), warmup_s=300.0)


def _day(market, seconds=3_600.0, seed=0):
    return simulate_day(market, np.random.default_rng(seed), seconds, dt_s=60.0, all_messages=True)


def _draws(cap, side, queue=150, n=20_000, seed=3):
    """Market order sizes (shares) the flow draws against a book with ``queue`` shares at the
    opposite best and a deeper level behind it."""
    flow = _market(cap).flow
    fp, _, sizes = F.flow_params(flow, ImpactConfig(), 1)
    book = OrderBook(tick_size=0.01, lot_size=1, n_levels=256, base_price_ticks=0)
    book.limit(-side, 100 + 10 * side, queue)
    book.limit(-side, 100 + 20 * side, 5_000)
    book.limit(side, 100 - 10 * side, 50)
    arrays = book.arrays
    rs = R.new_state(np.random.default_rng(seed))
    log_q = F._log_q(fp, F.P_P_MARKET)
    return np.array([F._market_lots(rs, fp, sizes, arrays.sc, arrays.lvl, side, log_q) for _ in range(n)])


@pytest.mark.parametrize("side", [1, -1])
@pytest.mark.parametrize("cap", [0.0, 0.6, 1.0])
def test_the_configured_share_takes_at_most_its_queue_buys_and_sells(side, cap):
    draws = _draws(cap, side)
    n = len(draws)
    sizes, probs = np.asarray(SIZES), np.asarray(PROBS)
    over = sizes > 150
    # below the queue a size is as drawn; above it the share cap takes the queue, the rest walk
    expected = {**{s: p for s, p in zip(sizes[~over], probs[~over])},
                **{s: (1 - cap) * p for s, p in zip(sizes[over], probs[over])}, 150: cap * probs[over].sum()}
    assert set(np.unique(draws)) <= {s for s, p in expected.items() if p > 0}
    for s, p in expected.items():
        assert np.mean(draws == s) == pytest.approx(p, abs=4 * np.sqrt(p * (1 - p) / n) + 1e-9)


def test_an_empty_side_caps_nothing():
    fp, _, sizes = F.flow_params(_market(1.0).flow, ImpactConfig(), 1)
    book = OrderBook(tick_size=0.01, lot_size=1, n_levels=256, base_price_ticks=0)
    book.limit(1, 90, 50)  # bids only: a buy finds no ask
    rs = R.new_state(np.random.default_rng(0))
    draws = [F._market_lots(rs, fp, sizes, book.arrays.sc, book.arrays.lvl, 1, 0.0) for _ in range(2_000)]
    assert set(draws) == set(SIZES)


@pytest.fixture(scope="module")
def capped_day():
    return _day(_market(1.0))


@pytest.mark.parametrize("sign", [1, -1])
def test_a_simulated_day_never_walks_the_book_with_the_full_cap(sign, capped_day):
    orders = queue_statistics(capped_day)["orders"]
    mine = orders[orders["sign"] == sign]
    assert len(mine) > 500
    size, queue = mine["size_shares"].to_numpy(), mine["queue_shares"].to_numpy()
    assert not (size > queue).any() and (size == queue).mean() > 0.3
    assert set(np.unique(size[size < queue])) <= set(SIZES)  # below its queue an order is its drawn size


def test_without_the_cap_nothing_more_is_drawn():
    """Cap 0: the market order's size and the random stream after it are those of the plain
    size draw (the streams of every flow without the cap are unchanged)."""
    flow = _market(0.0).flow
    fp, _, sizes = F.flow_params(flow, ImpactConfig(), 1)
    book = OrderBook(tick_size=0.01, lot_size=1, n_levels=256, base_price_ticks=0)
    book.limit(-1, 110, 50)
    a, b = (R.new_state(np.random.default_rng(9)) for _ in range(2))
    log_q = F._log_q(fp, F.P_P_MARKET)
    for _ in range(200):
        capped = F._market_lots(a, fp, sizes, book.arrays.sc, book.arrays.lvl, 1, log_q)
        plain = F._size_lots(b, fp, sizes, F.SZ_MARKET, F.P_P_MARKET, F.P_MARKET_LOTS, log_q)
        assert capped == plain
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("cap", [0.0, 0.6])
def test_the_estimated_cap_is_the_configured_one(cap):
    stats = queue_statistics(_day(_market(cap), 7_200.0, seed=2))
    assert stats["cap_frac"] == pytest.approx(cap, abs=0.08)
    assert stats["walk_frac"] > 0.05  # the uncapped orders walk


def test_the_expected_volume_counts_the_sizes_taken():
    flow = _market(0.6).flow
    plain = _market(0.0).flow
    assert flow.expected_volume_per_s() == pytest.approx(2 * 0.5 * 100.0)  # market_taken_size_shares
    assert plain.expected_volume_per_s() == pytest.approx(2 * 0.5 * float(np.dot(SIZES, PROBS)))
    with pytest.raises(ValueError, match="market_taken_size_shares"):
        FlowConfig(market_queue_cap_frac=0.5)


def test_the_cap_is_refused_out_of_range():
    for bad in (1.5, -0.1):
        with pytest.raises(ValueError, match="market_queue_cap_frac"):
            FlowConfig(market_queue_cap_frac=bad)


def test_kaplan_meier_recovers_sizes_censored_at_the_queue(capped_day):
    stats = queue_statistics(capped_day)
    assert stats["walk_frac"] == 0.0 and stats["cap_frac"] == 1.0
    est = dict(zip(stats["sizes_shares"], stats["size_probs"]))
    assert sum(est.values()) == pytest.approx(1.0)
    n = len(stats["orders"])
    # the sizes before the cap, though most orders show only their queue
    assert np.mean(stats["orders"]["size_shares"] == 600) < 0.5 * PROBS[3]
    for s, p in zip(SIZES[:3], PROBS[:3]):
        assert est.get(s, 0.0) == pytest.approx(p, abs=0.04 + 4 * np.sqrt(p * (1 - p) / n))
    # beyond the largest queue that capped an order the sizes are unseen: their mass sits at
    # it, never below it (an order smaller than its queue says nothing beyond its size)
    orders = stats["orders"]
    largest_queue = int(orders["queue_shares"][orders["size_shares"] == orders["queue_shares"]].max())
    beyond = {s: p for s, p in est.items() if s > SIZES[2]}
    assert sum(beyond.values()) == pytest.approx(PROBS[3], abs=0.06)
    assert max(beyond) >= min(largest_queue, SIZES[3]) and min(beyond) > SIZES[2]


def test_weighted_size_tables():
    sizes, counts = empirical_sizes(np.array([100, 5, 100, 7]))
    assert sizes == (5.0, 7.0, 100.0) and counts == (1.0, 1.0, 2.0)
    sizes, weights = empirical_sizes(np.array([100, 5, 7]), weights=np.array([0.5, 0.2, 0.3]))
    assert sizes == (5.0, 7.0, 100.0) and weights == pytest.approx((0.2, 0.3, 0.5))
    sizes, weights = empirical_sizes(np.array([1, 2, 3, 4]), max_values=2, weights=np.array([0.7, 0.1, 0.1, 0.1]))
    assert sizes == (1.0, 3.0) and weights == pytest.approx((0.7, 0.3))  # the rest lumped at its mean
    with pytest.raises(ValueError, match="weights"):
        empirical_sizes(np.array([1, 2]), weights=np.array([0.5, -1.0]))


@pytest.fixture(scope="module")
def goog_day():
    d = sample_lobster_dir()
    return load_lobster(d / "GOOG_2012-06-21_34200000_57600000_message_10.csv.xz",
                        d / "GOOG_2012-06-21_34200000_57600000_orderbook_10.csv.xz")


def test_calibration_maps_the_day_to_the_cap_and_the_sizes_before_it(goog_day):
    stats = queue_statistics(goog_day)
    orders = stats["orders"]
    assert 0.5 < stats["exact_frac"] < 0.7 and stats["walk_frac"] < 0.06  # GOOG: 58% exactly, 4% more
    assert 0.9 < stats["cap_frac"] < 0.97
    cal = calibrate_flow(goog_day, 20, anchor="opposite_best", sizes="empirical", queue_sizes=True)
    assert cal.flow.market_queue_cap_frac == stats["cap_frac"]
    plain = calibrate_flow(goog_day, 20, anchor="opposite_best", sizes="empirical")
    assert plain.flow.market_queue_cap_frac == 0.0
    assert plain.flow.mean_market_size_shares == pytest.approx(orders["size_shares"].mean(), rel=0.02)
    assert cal.flow.mean_market_size_shares > 2 * plain.flow.mean_market_size_shares  # before the cap
    # the calibrated market walks the book about as rarely as the day (without the cap: often)
    walks = {}
    for name, c in (("capped", cal), ("plain", plain)):
        sim = simulate_day(SimulatorConfig(flow=c.flow, warmup_s=300.0), np.random.default_rng(1), 3_600.0,
                           dt_s=60.0, all_messages=True)
        walks[name] = queue_statistics(sim)["walk_frac"]
    assert walks["capped"] < 0.1 < walks["plain"]
