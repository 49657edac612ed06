"""Hypothesis properties: the numba book against the reference book, event by event."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from execgym.envs.market.simulation.book import FILL_DTYPE, OrderBook
from tests.market.reference_book import CANCEL, EXECUTE, IOC, LIMIT, MARKET, MODIFY, ReferenceBook

MID = 1000


@st.composite
def event_streams(draw, max_events=120):
    """Streams of limit/market/IOC/cancel/modify/execute events, mostly valid, some not."""
    n = draw(st.integers(1, max_events))
    spread = draw(st.integers(1, 8))  # how far limit prices stray from the mid: crossing or not
    events, next_id, t = [], 1, 0
    for _ in range(n):
        t += draw(st.integers(0, 3))
        kind = draw(st.sampled_from([LIMIT] * 6 + [MARKET, IOC, CANCEL, CANCEL, MODIFY, EXECUTE]))
        side = draw(st.sampled_from([1, -1]))
        size = draw(st.integers(1, 30) | st.just(0) | st.just(-3)) if draw(st.integers(0, 30)) == 0 \
            else draw(st.integers(1, 30))
        price = MID + draw(st.integers(-spread, spread)) + (spread // 2 if side == -1 else -(spread // 2))
        if kind in (LIMIT, MARKET, IOC):
            oid = next_id if draw(st.integers(0, 40)) else max(1, next_id - 1)  # rare duplicate
            next_id += 1
        else:
            oid = draw(st.integers(1, max(1, next_id + 2)))  # may be unknown or already gone
            if kind == CANCEL:
                size = draw(st.integers(0, 20))
        events.append((kind, oid, side, price, size, draw(st.integers(0, 2)), t))
    return events


def _apply_both(book, ref, ev):
    try:
        expected = ref.apply(*ev)
    except ValueError:
        expected = None
    if expected is None:
        before = book.depth(20), len(book)
        with pytest.raises(ValueError):
            book.process(np.array([ev], dtype=np.int64))
        after = book.depth(20), len(book)
        assert all(np.array_equal(x, y) for x, y in zip(before[0], after[0])) and before[1] == after[1]
        return None
    fills = book.process(np.array([ev], dtype=np.int64))
    got = [tuple(int(v) for v in f) for f in fills.tolist()]
    assert got == expected, (ev, got, expected)
    return fills


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=event_streams())
def test_book_agrees_with_reference_on_every_fill_and_snapshot(events):
    book, ref = OrderBook(n_levels=64, capacity=4), ReferenceBook()  # tiny: forces growth paths
    for ev in events:
        _apply_both(book, ref, ev)
        got = book.depth(8)
        want = ref.depth(8)
        for g, w in zip(got, want):
            assert list(g) == list(w), (ev, got, want)
        b, a = book.best_bid, book.best_ask
        assert b is None or a is None or b < a  # never crossed after matching
        book.check_invariants()
    assert len(book) == len(ref.where)


@settings(max_examples=200, deadline=None)
@given(events=event_streams())
def test_shares_are_conserved_per_order(events):
    """Per order: shares entered = filled + cancelled + still resting + dropped (market/IOC)."""
    book = OrderBook(n_levels=64, capacity=4)
    entered, filled, dropped = defaultdict(int), defaultdict(int), defaultdict(int)
    for ev in events:
        kind, oid, _, price, size, *_ = ev
        before = book.order(oid) if kind == MODIFY and oid in book else None
        try:
            fills = book.process(np.array([ev], dtype=np.int64))
        except ValueError:
            continue
        if kind in (LIMIT, MARKET, IOC):
            entered[oid] += size
            if kind != LIMIT:  # market and IOC orders drop what they could not fill
                dropped[oid] += size - int(fills["size_shares"][fills["aggressor_id"] == oid].sum())
        elif kind == MODIFY and not (price == before.price_ticks and size <= before.size_shares):
            entered[oid] += size  # re-queued: the old remainder is logged as deleted
        for f in fills:
            if f["aggressor_id"] != -1:
                filled[int(f["aggressor_id"])] += int(f["size_shares"])
            filled[int(f["resting_id"])] += int(f["size_shares"])
    log = book.event_log()
    cancelled = log[log["type"].isin([2, 3])].groupby("order_id")["size"].sum().to_dict()
    resting = book.orders().set_index("order_id")["size_shares"].to_dict()
    assert set(resting) <= set(entered)
    for oid, size in entered.items():
        left = resting.get(oid, 0)
        assert filled[oid] + cancelled.get(oid, 0) + left + dropped[oid] == size, oid
        assert dropped[oid] >= 0


def test_fifo_within_a_level_and_walking_the_book():
    book = OrderBook()
    for oid, (price, size) in enumerate([(101, 5), (101, 7), (102, 4), (101, 2)], start=1):
        book.limit("sell", price, size, order_id=oid, time_ns=oid)
    fills = book.limit("buy", 102, 16, order_id=10)
    assert fills.dtype == FILL_DTYPE
    assert [(int(f["resting_id"]), int(f["price_ticks"]), int(f["size_shares"])) for f in fills] == [
        (1, 101, 5), (2, 101, 7), (4, 101, 2), (3, 102, 2)]
    assert book.order(3).size_shares == 2 and book.best_ask == 102 and 10 not in book
    # and the mirror image for sells
    book = OrderBook()
    for oid, (price, size) in enumerate([(99, 5), (99, 7), (98, 4), (99, 2)], start=1):
        book.limit("buy", price, size, order_id=oid)
    fills = book.limit("sell", 98, 20, order_id=10)
    assert [(int(f["resting_id"]), int(f["price_ticks"]), int(f["size_shares"])) for f in fills] == [
        (1, 99, 5), (2, 99, 7), (4, 99, 2), (3, 98, 4)]
    assert book.order(10).price_ticks == 98 and book.order(10).size_shares == 2  # rests the rest
    assert book.best_ask == 98 and book.best_bid is None


def test_modify_semantics_size_down_keeps_priority_size_up_loses_it():
    book = OrderBook()
    for oid in (1, 2, 3):
        book.limit("buy", 100, 10, order_id=oid)
    book.modify(1, size_shares=4)
    assert [o.order_id for o in book.queue("buy", 100)] == [1, 2, 3]
    assert book.queue_position(2) == 4
    book.modify(1, size_shares=12)
    assert [o.order_id for o in book.queue("buy", 100)] == [2, 3, 1]
    assert book.queue_position(1) == 20
    book.modify(2, price_ticks=101)
    assert book.best_bid == 101 and book.queue_position(2) == 0
    assert book.volume_at("buy", 100) == 22


def test_partial_cancel_keeps_priority_and_full_cancel_removes():
    book = OrderBook()
    book.limit("sell", 105, 10, order_id=1)
    book.limit("sell", 105, 10, order_id=2)
    book.cancel(1, 4)
    assert book.queue_position(2) == 6 and book.order(1).size_shares == 6
    book.cancel(1)
    assert 1 not in book and book.queue_position(2) == 0
    log = book.event_log()
    assert log["type"].tolist() == [1, 1, 2, 3] and log["size"].tolist() == [10, 10, 4, 6]
