"""Hidden executions: trades against hidden orders strictly inside the spread, at the configured
rate and sizes, on both sides; the visible book, the impact and the clustering do not see
them, the market volume and the LOBSTER file (type 5) do; the calibration recovers the rate
and the sizes; bad input is refused."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from execgym.envs.market.analysis.calibration.flow import calibrate_flow
from execgym.envs.market.data.simulated_day import simulate_day
from execgym.envs.market.simulation.book import EV_HIDDEN, EV_LIMIT, OrderBook
from execgym.envs.market.simulation.events import EventType
from execgym.envs.market.simulation.flow import FlowConfig
from execgym.envs.market.simulation.simulator import MarketSimulator, SimulatorConfig
from execgym.envs.market.simulation.volume import IntradayVolumeProfile

RATE = 0.5
SIZES = (10.0, 100.0, 300.0)
PROBS = (2.0, 1.0, 1.0)


def _market(**flow):
    base = dict(market_rate_per_s=0.3, resilience_per_s=0.1, intraday=None, anchor="opposite_best",
                depth_shares=(0.0,) * 3 + (300.0,) * 15, hidden_rate_per_s=RATE, hidden_sizes_shares=SIZES,
                hidden_size_probs=PROBS)
    return SimulatorConfig(flow=FlowConfig(**(base | flow)), warmup_s=300.0)


@pytest.fixture(scope="module")
def hidden_day():
    return simulate_day(_market(), np.random.default_rng(4), 3_600.0, dt_s=60.0, levels=10, all_messages=True)


def _event(kind, oid, side, price, size):
    return np.array([[kind, oid, side, price, size, 0, 0]], dtype=np.int64)


@pytest.mark.parametrize("side", [1, -1])
def test_a_hidden_execution_trades_and_leaves_the_book_alone(side):
    book = OrderBook(tick_size=0.01, log_events=True)
    book.process(_event(EV_LIMIT, 1, 1, 10_000, 300))
    book.process(_event(EV_LIMIT, 2, -1, 10_010, 200))
    before = book.depth(5)
    fills = book.process(_event(EV_HIDDEN, 0, side, 10_004, 50))
    assert len(fills) == 1 and fills["size_shares"][0] == 50 and fills["price_ticks"][0] == 10_004
    assert fills["aggressor_side"][0] == -side and fills["resting_id"][0] == 0
    for a, b in zip(before, book.depth(5)):
        np.testing.assert_array_equal(a, b)
    log = book.event_log()
    last = log.iloc[-1]
    assert (last["type"], last["order_id"], last["size"], last["price"], last["direction"]) == (
        int(EventType.EXECUTION_HIDDEN), 0, 50, 10_004, side)
    book.check_invariants()


@pytest.mark.parametrize("bad, match", [((0, 10_004, 50), "side"), ((1, 10_004, 0), "size"),
                                        ((1, 0, 50), "price")])
def test_a_bad_hidden_execution_is_refused_and_changes_nothing(bad, match):
    book = OrderBook(tick_size=0.01, log_events=True)
    book.process(_event(EV_LIMIT, 1, 1, 10_000, 300))
    n_log = len(book.event_log())
    side, price, size = bad
    with pytest.raises(ValueError, match=match):
        book.process(_event(EV_HIDDEN, 0, side, price, size))
    assert len(book.event_log()) == n_log


def test_hidden_executions_come_inside_the_spread_at_the_rate_and_sizes_on_both_sides(hidden_day):
    m = hidden_day.messages
    rows = hidden_day.orderbook
    kind = m["type"].to_numpy()
    hidden = np.flatnonzero(kind == int(EventType.EXECUTION_HIDDEN))
    assert hidden.min() > 0
    price = m["price"].to_numpy()[hidden]
    ask, bid = rows[hidden - 1, 0], rows[hidden - 1, 2]
    assert np.all((price > bid) & (price < ask))  # strictly inside the book before it
    np.testing.assert_array_equal(rows[hidden], rows[hidden - 1])  # and the book after it is the same
    # the rate: RATE per second while the spread leaves a tick inside (almost always here)
    n = len(hidden)
    assert abs(n - RATE * 3_600.0) < 4 * np.sqrt(RATE * 3_600.0)
    sizes, counts = np.unique(m["size_shares"].to_numpy()[hidden], return_counts=True)
    assert tuple(sizes) == SIZES
    np.testing.assert_allclose(counts / n, np.asarray(PROBS) / sum(PROBS), atol=4 * np.sqrt(0.25 / n))
    buys = float(np.mean(m["direction"].to_numpy()[hidden] > 0))
    assert abs(buys - 0.5) < 4 * np.sqrt(0.25 / n)


def test_hidden_executions_follow_the_intraday_activity():
    """With an opening burst in the intraday profile the first minutes hold more hidden
    executions than as long an interval later (a constant rate would give as many)."""
    profile = IntradayVolumeProfile(open_boost=4.0, close_boost=0.0, decay_frac=0.01, noise_sigma=0.0)
    day = simulate_day(_market(intraday=profile), np.random.default_rng(6), 2_400.0, dt_s=60.0, levels=10,
                       all_messages=True)
    m = day.messages
    t = m["time_s"].to_numpy()[m["type"].to_numpy() == int(EventType.EXECUTION_HIDDEN)] - day.start_s
    early, late = int(np.sum(t < 300.0)), int(np.sum((t >= 2_100.0) & (t < 2_400.0)))
    assert early > 1.8 * late and late > 20


def test_hidden_prints_are_trades_and_expected_volume():
    """Hidden executions are in the step's trades (resting id 0) and the traded volume, and
    the flow's expected volume counts them."""
    sim = MarketSimulator(_market(), np.random.default_rng(2))
    report = sim.advance(600.0)
    trades = report.trades
    hidden = trades[trades["resting_id"] == 0]
    assert len(hidden) > 100
    assert sim.book.traded_volume >= hidden["size_shares"].sum()
    cfg = _market()
    assert cfg.flow.expected_volume_per_s() == pytest.approx(
        dataclasses.replace(cfg.flow, hidden_rate_per_s=0.0, hidden_sizes_shares=(), hidden_size_probs=())
        .expected_volume_per_s() + RATE * np.dot(SIZES, PROBS) / sum(PROBS))


def test_the_calibration_recovers_the_rate_and_the_sizes(hidden_day):
    cal = calibrate_flow(hidden_day, max_distance=18, hidden=True)
    n = int((hidden_day.messages["type"] == int(EventType.EXECUTION_HIDDEN)).sum())
    # per second of a spread of two ticks or more (the flow posts none at one tick)
    assert cal.flow.hidden_rate_per_s >= n / hidden_day.duration_s
    assert cal.flow.hidden_rate_per_s == pytest.approx(RATE, rel=0.15)
    assert cal.flow.hidden_sizes_shares == SIZES
    np.testing.assert_allclose(np.asarray(cal.flow.hidden_size_probs) / n, np.asarray(PROBS) / sum(PROBS), atol=0.05)
    assert calibrate_flow(hidden_day, max_distance=18).flow.hidden_rate_per_s == 0.0
    no_hidden = simulate_day(_market(hidden_rate_per_s=0.0, hidden_sizes_shares=(), hidden_size_probs=()),
                             np.random.default_rng(4), 600.0, dt_s=60.0, levels=10)
    with pytest.raises(ValueError, match="hidden=True"):
        calibrate_flow(no_hidden, max_distance=18, hidden=True, bucket_s=100.0)


@pytest.mark.parametrize("change, match", [
    ({"hidden_rate_per_s": -1.0}, "hidden_rate_per_s"),
    ({"hidden_sizes_shares": (), "hidden_size_probs": ()}, "needs hidden_sizes_shares"),
    ({"hidden_size_probs": (1.0, 1.0)}, "one length"),
    ({"hidden_sizes_shares": (10.0, -1.0, 300.0)}, "hidden_sizes_shares must be finite"),
    ({"hidden_size_probs": (0.0, 0.0, 0.0)}, "hidden_size_probs must be"),
    ({"hidden_rate_per_s": 0.0}, "need hidden_rate_per_s > 0"),
])
def test_bad_hidden_fields_are_refused(change, match):
    with pytest.raises(ValueError, match=match):
        dataclasses.replace(_market().flow, **change)


def test_non_numeric_hidden_sizes_name_the_field():
    with pytest.raises(TypeError, match="hidden_sizes_shares"):
        dataclasses.replace(_market().flow, hidden_sizes_shares=("ten", 100.0, 300.0))


def test_hidden_sizes_must_be_whole_lots():
    with pytest.raises(ValueError, match="whole multiples of the lot"):
        MarketSimulator(dataclasses.replace(_market(), lot_size=100), np.random.default_rng(0))
