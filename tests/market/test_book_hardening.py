"""The book refuses what it cannot hold, before changing anything: far prices (bounded
memory), out-of-range integers, float events that are not integers; automatic ids never
collide with explicit ones or ids that came through process()."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from execgym.envs.almgren_chriss import AlmgrenChrissConfig
from execgym.envs.lob_execution import LOBExecutionConfig
from execgym.envs.market.simulation.book import EV_LIMIT, OrderBook


def _book() -> OrderBook:
    book = OrderBook()
    book.limit("buy", 10_000, 100)
    book.limit("sell", 10_002, 100)
    book.limit("buy", 9_990, 300)
    return book


def _snapshot(book: OrderBook) -> tuple:
    """Everything observable, plus the next automatic id and the kernel's scalars."""
    return (book.orders().to_dict("list"), [a.tolist() for a in book.depth(20)], book.best_bid, book.best_ask,
            len(book), book.traded_volume, book._next_id, book._sc.tolist(), book._lvl.shape)


BAD_INT = st.one_of(st.just(2**63), st.just(-(2**63)), st.just(2**64), st.just(10**30), st.floats(), st.booleans(),
                    st.text(max_size=3), st.none(), st.just(-1), st.just(0), st.complex_numbers())
BAD_PRICE = st.one_of(BAD_INT, st.just(10**7), st.just(10**8), st.just(10**12))


@settings(max_examples=60, deadline=None)
@given(method=st.sampled_from(["limit", "ioc", "market", "cancel", "modify"]), price=BAD_PRICE, size=BAD_INT,
       order_id=st.one_of(st.none(), BAD_INT, st.just(1)))
def test_every_method_refuses_bad_arguments_by_name_and_changes_nothing(method, price, size, order_id):
    book = _book()
    before = _snapshot(book)
    calls = {
        "limit": lambda: book.limit("sell", price, size, order_id=order_id),
        "ioc": lambda: book.ioc("buy", price, size, order_id=order_id),
        "market": lambda: book.market("buy", size, order_id=order_id if order_id != 1 else 2**63),
        "cancel": lambda: book.cancel(order_id if order_id is not None else 2**63, size),
        "modify": lambda: book.modify(1, price, size),
    }
    try:
        calls[method]()
    except (TypeError, ValueError) as err:
        assert any(name in str(err) for name in ("price_ticks", "size_shares", "order_id", "max_levels")), err
        assert _snapshot(book) == before
    else:  # a combination that happens to be valid (e.g. a far but allowed price): nothing to check
        pass


def test_a_far_order_is_refused_without_allocating_its_grid():
    book = _book()
    before = _snapshot(book)
    tracemalloc.start()
    for far in (10**7, 10**8, 10**12):
        with pytest.raises(ValueError, match=rf"price_ticks={far} .*max_levels=1048576"):
            book.limit("sell", far, 100)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 1 << 20, f"a refused order allocated {peak} bytes"
    assert _snapshot(book) == before
    book.limit("sell", 10_000 + 400_000, 100)  # far, but inside the band: the grid grows, boundedly
    assert book._lvl.nbytes <= 64 * (1 << 20)


def test_the_memory_of_bad_calls_is_bounded_in_a_fresh_process():
    """Peak RSS of a process that throws far prices, huge n_steps and horizons at the API."""
    code = textwrap.dedent("""
        import resource
        from execgym.envs.market.simulation.book import OrderBook
        from execgym.envs.almgren_chriss import AlmgrenChrissEnv
        from execgym.envs.lob_execution import LOBExecutionEnv
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        book = OrderBook()
        book.limit("buy", 10_000, 100)
        for far in (10**7, 10**8, 10**9, 10**15):
            try:
                book.limit("sell", far, 100)
            except ValueError:
                pass
        for make in (lambda: AlmgrenChrissEnv(n_steps=10**9), lambda: LOBExecutionEnv(decision_interval_s=1e-6)):
            try:
                make()
            except ValueError:
                pass
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base)
    """)
    grown_kib = int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                   timeout=300).stdout.split()[-1])
    assert grown_kib < 50 * 1024, f"bad calls grew the peak RSS by {grown_kib} KiB"


def test_automatic_ids_never_collide_with_explicit_or_processed_ids():
    book = OrderBook()
    book.limit("buy", 100, 10, order_id=2**63 - 1)  # the largest id there is
    book.limit("buy", 99, 10)
    assert book.last_order_id not in (2**63 - 1,) and book.last_order_id > 0
    events = np.array([[EV_LIMIT, 500, 1, 98, 10, 0, 0]], dtype=np.int64)
    book.process(events)
    book.limit("buy", 97, 10)
    assert book.last_order_id not in (2**63 - 1, 500)
    assert len(book) == 4  # four distinct resting orders
    with pytest.raises(ValueError, match="already resting"):
        book.limit("buy", 96, 10, order_id=500)


def test_float_event_arrays_must_hold_integers_exactly():
    book = _book()
    before = _snapshot(book)
    with pytest.raises(ValueError, match="must hold integers"):
        book.process(np.array([[EV_LIMIT, 50, 1, 9_995.5, 10, 0, 0]]))
    with pytest.raises(TypeError, match="integer array"):
        book.process(np.array([[True] * 7]))
    assert _snapshot(book) == before
    book.process(np.array([[EV_LIMIT, 50, 1, 9_995.0, 10, 0, 0]]))  # integral floats are fine
    assert 50 in book


@pytest.mark.parametrize("make", [lambda: AlmgrenChrissConfig(n_steps=10**9),
                                  lambda: LOBExecutionConfig(horizon_s=1e9, decision_interval_s=1.0)])
def test_episode_lengths_are_bounded_at_construction(make):
    with pytest.raises(ValueError, match="1000000"):
        make()


EVENT = st.tuples(st.integers(-3, 9), st.one_of(st.integers(-5, 5), st.just(2**62)), st.integers(-2, 2),
                  st.one_of(st.integers(-10, 20_000), st.just(10**9)), st.integers(-100, 300), st.integers(-2, 2),
                  st.integers(0, 10))


@settings(max_examples=150, deadline=None)
@given(prefix=st.lists(st.sampled_from([(EV_LIMIT, 900, 1, 9_999, 10, 0, 0), (EV_LIMIT, 901, -1, 10_003, 20, 0, 0)]),
                       max_size=2, unique=True),
       events=st.lists(EVENT, min_size=1, max_size=4))
def test_process_applies_the_valid_prefix_and_refuses_the_first_bad_event_by_index(prefix, events):
    """Malformed event rows: the events before the first refused one are applied, it and those
    after are not (as documented), so the book equals a twin that processed the prefix only."""
    book, twin = _book(), _book()
    rows = np.array([*prefix, *events], dtype=np.int64)
    try:
        book.process(rows)
    except ValueError as err:
        index = int(str(err).split("event ")[1].split(" ")[0]) if "event " in str(err) else None
        assert index is not None or "max_levels" in str(err), err
        if index is None:  # a price beyond the band: refused at its row, found by regridding
            return
        twin.process(rows[:index])
        assert _snapshot(book)[:6] == _snapshot(twin)[:6]


@pytest.mark.parametrize("replay", ["process", "book_snapshots", "simulator"])
def test_room_that_does_not_let_the_event_in_raises_instead_of_looping(monkeypatch, replay):
    """Every loop that drives the book's kernels (the two replays, the simulator's flow)
    retries an event after :meth:`OrderBook.make_room`; if the room made does not let it in
    (here: ``make_room`` does nothing), the second refusal of the same event with the same
    status raises instead of retrying forever. With the real ``make_room`` the same events go
    through (the grid widens; the simulator's event log is flushed)."""
    from execgym.envs.market.data.simulated_day import book_snapshots
    from execgym.envs.market.simulation.simulator import MarketSimulator, SimulatorConfig

    far = np.array([[EV_LIMIT, 1, 1, 100, 10, 0, 0], [EV_LIMIT, 2, -1, 100 + 50_000, 10, 0, 1]], dtype=np.int64)
    made = []
    real = OrderBook.make_room

    def run():
        if replay == "process":
            book = OrderBook(n_levels=64)
            book.process(far)
            return book.best_ask
        if replay == "book_snapshots":
            return book_snapshots(far, levels=1, price_units_per_tick=1)[-1, 0]
        sim = MarketSimulator(SimulatorConfig(log_events=True), np.random.default_rng(3))
        return sim.advance(600.0).n_events > 0

    monkeypatch.setattr(OrderBook, "make_room", lambda self, status, event: made.append(status) or real(self, status,
                                                                                                          event))
    expected = True if replay == "simulator" else 100 + 50_000  # the flow runs on; the grid grows to hold the far order
    assert run() == expected
    assert made, "the events never needed room: the test would not exercise the retry"
    monkeypatch.setattr(OrderBook, "make_room", lambda self, status, event: True)
    with pytest.raises(RuntimeError, match=r"event \d+ .*still refused \(.*\) after the book made room"):
        run()
