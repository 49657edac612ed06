"""The order book's API: queries, bad input, growth of its buffers and grid."""

from __future__ import annotations

import math

import numpy as np
import pytest

from execgym.envs.market.simulation import _book_kernels as K
from execgym.envs.market.simulation.book import EV_CANCEL, EV_LIMIT, EV_MARKET, OrderBook


def snapshot(book):
    return [a.tolist() for a in book.depth(5)], book.orders().to_dict("list"), len(book)


@pytest.fixture
def book():
    b = OrderBook(tick_size=0.01, lot_size=1)
    b.limit("buy", 9_990, 300, order_id=1)
    b.limit("buy", 9_989, 100, order_id=2)
    b.limit("sell", 10_010, 100, order_id=3)
    b.limit("sell", 10_012, 200, order_id=4)
    return b


def test_queries(book):
    assert (book.best_bid, book.best_ask, book.spread, book.mid) == (9_990, 10_010, 20, 10_000.0)
    # microprice leans toward the thin side: more bid volume -> closer to the ask
    assert book.microprice == pytest.approx((9_990 * 100 + 10_010 * 300) / 400)
    assert book.imbalance(1) == pytest.approx((300 - 100) / 400)
    assert book.imbalance(2) == pytest.approx((400 - 300) / 700)
    bid_px, bid_sz, ask_px, ask_sz = book.depth(3)
    assert bid_px.tolist() == [9_990, 9_989, 0] and ask_sz.tolist() == [100, 200, 0]
    assert book.to_price(book.best_bid) == pytest.approx(99.90)
    assert book.to_ticks(100.10) == 10_010


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda b: b.limit("buy", 9_990, 0), "size_shares"),
        (lambda b: b.limit("buy", 9_990, -5), "size_shares"),
        (lambda b: b.limit("buy", 0, 5), "price_ticks"),
        (lambda b: b.limit("buy", -3, 5), "price_ticks"),
        (lambda b: b.limit("buy", float("nan"), 5), "price_ticks"),
        (lambda b: b.limit("buy", 9_990, float("nan")), "size_shares"),
        (lambda b: b.limit("hold", 9_990, 5), "side"),
        (lambda b: b.limit("buy", 9_990, 5, order_id=3), "already resting"),
        (lambda b: b.market("sell", 0), "size_shares"),
        (lambda b: b.cancel(99), "99"),
        (lambda b: b.cancel(1, 0), "size_shares"),
        (lambda b: b.modify(42, size_shares=3), "42"),
        (lambda b: b.modify(1, size_shares=-1), "size_shares"),
        (lambda b: b.to_ticks(100.005), "tick_size"),
        (lambda b: b.to_ticks(-1.0), "tick_size"),
        (lambda b: b.to_ticks(float("nan")), "finite"),
    ],
)
def test_bad_input_raises_naming_the_value_and_leaves_the_book_unchanged(book, call, match):
    before = snapshot(book)
    with pytest.raises((ValueError, TypeError), match=match):
        call(book)
    assert snapshot(book) == before


def test_float_sizes_are_type_errors(book):
    with pytest.raises(TypeError, match="size_shares"):
        book.limit("buy", 9_990, 2.5)


def test_filled_orders_can_no_longer_be_cancelled(book):
    book.market("buy", 100)  # fills order 3 completely
    assert 3 not in book
    with pytest.raises(ValueError, match="3"):
        book.cancel(3)


def test_lot_size_is_enforced():
    b = OrderBook(lot_size=100)
    b.limit("buy", 500, 200)
    with pytest.raises(ValueError, match="lot_size"):
        b.limit("buy", 500, 150)
    assert b.depth(1)[1].tolist() == [200]


def test_batch_error_names_the_event_and_keeps_earlier_events():
    b = OrderBook()
    events = np.array([
        [EV_LIMIT, 1, 1, 100, 5, 0, 0],
        [EV_LIMIT, 2, -1, 101, 5, 0, 0],
        [EV_CANCEL, 77, 0, 0, 0, 0, 0],
        [EV_LIMIT, 3, 1, 99, 5, 0, 0],
    ])
    with pytest.raises(ValueError, match="event 2 refused"):
        b.process(events)
    assert len(b) == 2 and 3 not in b


def test_market_order_into_an_empty_side_drops_and_ioc_does_not_rest():
    b = OrderBook()
    b.limit("sell", 101, 5)
    fills = b.market("buy", 8)
    assert fills["size_shares"].sum() == 5 and len(b) == 0
    b.limit("sell", 101, 5)
    b.limit("sell", 103, 5)
    fills = b.ioc("buy", 102, 8)
    assert fills["size_shares"].sum() == 5 and b.best_bid is None and b.best_ask == 103


def test_owner_ids_tell_agent_fills_from_background():
    b = OrderBook()
    b.limit("sell", 101, 5, owner=0)
    b.limit("sell", 101, 5, owner=7)
    fills = b.market("buy", 8, owner=9)
    assert fills["resting_owner"].tolist() == [0, 7]
    assert (fills["aggressor_owner"] == 9).all() and (fills["aggressor_side"] == 1).all()


def test_buffers_and_grid_grow_on_demand():
    b = OrderBook(n_levels=8, capacity=2)
    rng = np.random.default_rng(0)
    prices = rng.integers(1_000, 1_200, 500)
    for i, p in enumerate(prices):
        b.limit("buy" if p < 1_100 else "sell", int(p), 10, order_id=i + 1)
    assert len(b) == 500
    b.limit("buy", 5_000, 10**5, order_id=10_000)  # far outside the grid: sweeps asks, rests, widens grid
    b.check_invariants()
    assert b.best_bid == 5_000 and b.best_ask is None
    fills = b.market("sell", 10**6)  # one event with hundreds of fills
    assert len(fills) == len(set(fills["resting_id"])) and b.best_bid is None
    b.check_invariants()


def test_event_log_follows_lobster_conventions():
    b = OrderBook()
    b.limit("buy", 100, 10, order_id=1, time_ns=1_500_000_000)
    b.limit("sell", 100, 4, order_id=2, time_ns=2_000_000_000)  # marketable: executes 1
    log = b.event_log()
    assert log["type"].tolist() == [1, 4]
    assert log["direction"].tolist() == [1, 1]  # execution of a buy limit order: seller-initiated
    assert log["time"].tolist() == [1.5, 2.0]
    assert math.isclose(b.traded_volume, 4)


def test_repeated_adds_and_cancels_keep_the_hash_map_consistent():
    b = OrderBook(capacity=8)
    rng = np.random.default_rng(1)
    live = set()
    for i in range(5_000):
        if live and rng.random() < 0.5:
            oid = int(rng.choice(sorted(live)))
            b.cancel(oid)
            live.remove(oid)
        else:
            b.limit("buy", int(rng.integers(90, 100)), 1, order_id=i + 1)
            live.add(i + 1)
    assert set(b.orders()["order_id"]) == live
    assert all(oid in b for oid in live)
    b.check_invariants()


@pytest.mark.parametrize("stride", [1, 3, 16, 4096, 1 << 40])
def test_any_id_pattern_is_found_removed_and_probed_briefly(stride):
    """Consecutive ids, ids that share their low bits and huge ids: the id -> record map
    stays exact through growth, and keys sit near their home bucket (short probes)."""
    b = OrderBook(n_levels=64, base_price_ticks=968, capacity=8, log_events=False)
    rng = np.random.default_rng(stride)
    live = []
    for k in range(3_000):
        oid = 7 + k * stride
        side = 1 if rng.random() < 0.5 else -1
        price = 999 - int(rng.integers(0, 10)) if side > 0 else 1_001 + int(rng.integers(0, 10))
        b.limit(side, price, 1, order_id=oid)
        live.append(oid)
        if rng.random() < 0.45:
            j = int(rng.integers(len(live)))
            b.cancel(live[j])
            live[j] = live[-1]
            live.pop()
    assert sorted(b.orders()["order_id"]) == sorted(live)
    assert all((7 + k * stride in b) == (7 + k * stride in set(live)) for k in range(3_000))
    b.check_invariants()
    htab = b.arrays.htab
    mask = htab.shape[0] - 1
    used = np.flatnonzero(htab != K.EMPTY_SLOT)
    assert len(used) == len(live)
    keys = b.arrays.orders["id"][htab[used] & 0xFFFFFFFF]
    assert sorted(keys) == sorted(live)
    assert [int(e) >> 32 for e in htab[used]] == [K._h_home(htab, key) for key in keys]  # the stored homes
    distance = [(i - K._h_home(htab, key)) & mask for i, key in zip(used, keys)]
    assert np.mean(distance) < 4.0, np.mean(distance)


def test_market_event_ignores_its_price_field():
    b = OrderBook()
    b.limit("sell", 101, 5)
    fills = b.process(np.array([[EV_MARKET, 9, 1, -123, 5, 0, 0]]))
    assert fills["size_shares"].sum() == 5


@pytest.mark.parametrize("seed", range(4))
def test_a_crossing_order_that_rests_is_found_after_the_fills_it_made(seed):
    """A limit order probes the id map once, for its duplicate check and its insert; the
    fills before it rests delete ids (shifting probe chains back), so it must probe again:
    every order stays findable (ids close together share a home block: chains overlap)."""
    b = OrderBook(n_levels=64, base_price_ticks=968, capacity=8, log_events=False)
    rng = np.random.default_rng(seed)
    oid = 1
    for _ in range(2_000):
        side = 1 if rng.random() < 0.5 else -1
        # mostly resting orders near the touch, some crossing two or three levels
        offset = int(rng.integers(-3, 6))
        ref = b.best_ask if side > 0 else b.best_bid
        if ref is None:
            ref = 1_000
        price = ref - offset if side > 0 else ref + offset
        b.limit(side, price, int(rng.integers(1, 4)), order_id=oid)
        oid += 1
        if len(b) and rng.random() < 0.3:
            b.cancel(int(rng.choice(b.orders()["order_id"])))
        b.check_invariants()  # includes the id map: every resting order reachable from its home
