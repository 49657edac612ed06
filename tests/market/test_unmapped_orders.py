"""Unmapped orders: ids below ``unmapped_below_id`` stay out of the book's id map and events
about them name their slot (the background flow's orders, ``_book_kernels``' docstring)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from execgym.envs.market.simulation import _book_kernels as K
from execgym.envs.market.simulation.book import OrderBook
from tests.market.reference_book import CANCEL, EXECUTE, LIMIT, MODIFY, ReferenceBook
from tests.market.test_book_properties import event_streams


def _slot_of(book: OrderBook, oid: int) -> int:
    """The slot holding order ``oid``, read off the records (-1: not resting)."""
    hits = np.flatnonzero(book.arrays.orders["id"] == oid)
    return int(hits[0]) if len(hits) else -1


def _kernel_event(book: OrderBook, ev: tuple, below: int) -> np.ndarray | None:
    """``ev`` as the flow would send it to a book that keeps ids below ``below`` unmapped: a
    cancel or modify of such an id names the order's slot in the owner field. None for what
    the unmapped contract leaves to its caller (a duplicate unmapped id, an execution)."""
    kind, oid, side, price, size, owner, t = ev
    if 0 < oid < below:
        if kind == EXECUTE:
            return None
        if kind in (CANCEL, MODIFY):
            owner = _slot_of(book, oid)
        elif _slot_of(book, oid) != -1:
            return None  # the caller numbers its orders: no duplicate id
    return np.array([(kind, oid, side, price, size, owner, t)], dtype=np.int64)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=event_streams(), below=st.integers(1, 60))
def test_unmapped_ids_change_nothing_but_the_map(events, below):
    """The same stream through a book that maps every id (checked against the reference book
    elsewhere) and one that keeps the ids below ``below`` unmapped: the same fills, the same
    book, and the map holds exactly the mapped resting orders after every event."""
    mapped, unmapped = OrderBook(n_levels=64, capacity=4), OrderBook(n_levels=64, capacity=4, unmapped_below_id=below)
    ref = ReferenceBook()
    for ev in events:
        arr = _kernel_event(unmapped, ev, below)
        if arr is None:
            continue
        try:
            ref.apply(*ev)
        except ValueError:
            with pytest.raises(ValueError):
                unmapped._process(arr)
            continue
        want = mapped.process(np.array([ev], dtype=np.int64))
        got = unmapped._process(arr)
        assert got.tolist() == want.tolist(), ev
        for g, w in zip(unmapped.depth(8), mapped.depth(8)):
            assert list(g) == list(w), ev
        resting = _resting(unmapped)
        assert resting.tolist() == _resting(mapped).tolist()
        unmapped.check_invariants()
        in_map = np.count_nonzero(unmapped.arrays.htab != K.EMPTY_SLOT)
        assert in_map == int(((resting["id"] >= below) | (resting["id"] <= 0)).sum())
    # the public view agrees with the records read above
    assert unmapped.orders().sort_values("order_id").to_numpy().tolist() == \
        mapped.orders().sort_values("order_id").to_numpy().tolist()


def _resting(book: OrderBook) -> np.ndarray:
    """The book's resting orders by id (their records' fields but the queue links): what
    :meth:`OrderBook.orders` shows, read from the records without building a frame (the
    property test reads it after every event)."""
    records = book.arrays.orders
    live = records[records["id"] != K.EMPTY_KEY][["id", "side", "price_ticks", "size_shares", "owner", "time_ns"]]
    return np.sort(live, order="id")


def test_an_unmapped_cancel_needs_the_slot_that_holds_its_order():
    book = OrderBook(unmapped_below_id=100)
    ev = np.array([(LIMIT, 5, 1, 1_000, 10, 0, 0), (LIMIT, 6, 1, 999, 10, 0, 0)], dtype=np.int64)
    book._process(ev)
    s5, s6 = _slot_of(book, 5), _slot_of(book, 6)
    assert not (book.arrays.htab != K.EMPTY_SLOT).any()  # nothing mapped
    before = book.depth(4)
    for slot in (s6, -1, 10**6):  # another order's slot, none, beyond the records
        with pytest.raises(ValueError, match="unknown"):
            book._process(np.array([(CANCEL, 5, 0, 0, 0, slot, 0)], dtype=np.int64))
        assert all(np.array_equal(x, y) for x, y in zip(book.depth(4), before))  # unchanged
    book._process(np.array([(CANCEL, 5, 0, 0, 0, s5, 0)], dtype=np.int64))
    assert book.best_bid == 999 and len(book) == 1
    with pytest.raises(ValueError, match="unknown"):  # an execution names no slot: refused
        book._process(np.array([(EXECUTE, 6, 0, 0, 5, 0, 0)], dtype=np.int64))


@pytest.mark.parametrize("side", [1, -1])
def test_a_mapped_order_trades_against_unmapped_ones_and_the_map_stays_right(side):
    """Both sides: the agent's (mapped) order takes unmapped orders and rests its remainder."""
    book = OrderBook(unmapped_below_id=100)
    px = 1_000 if side == 1 else 1_010
    book._process(np.array([(LIMIT, oid, -side, px + side * k, 10, 0, 0) for k, oid in enumerate((1, 2, 3))],
                           dtype=np.int64))
    fills = book.limit(side, px + side * 1, 25, order_id=500, owner=1)
    assert [int(f["resting_id"]) for f in fills] == [1, 2]  # FIFO by price
    assert 500 in book and book.order(500).size_shares == 5 and 1 not in book
    book.check_invariants()
    assert np.count_nonzero(book.arrays.htab != K.EMPTY_SLOT) == 1  # the agent's order only
    book.cancel(500)
    assert 500 not in book and len(book) == 1


def test_the_api_refuses_unmapped_ids_and_numbers_its_own_above_them():
    book = OrderBook(unmapped_below_id=100)
    for call in (lambda: book.limit("buy", 1_000, 10, order_id=7), lambda: book.cancel(7),
                 lambda: book.modify(7, size_shares=5),
                 lambda: book.process(np.array([(LIMIT, 7, 1, 1_000, 10, 0, 0)], dtype=np.int64))):
        with pytest.raises(ValueError, match="7.*unmapped_below_id=100"):
            call()
    assert len(book) == 0
    book.limit("buy", 1_000, 10)
    assert book.last_order_id == 100
    with pytest.raises(ValueError, match="unmapped_below_id"):
        OrderBook(unmapped_below_id=-1)
